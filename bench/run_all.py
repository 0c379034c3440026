"""Run every benchmark's quick mode and write bench/results.md (what `make bench` does).

Each benchmark measures xalign against peers in the same run and prints its own figures
and ratios; this script records the machine (CPU model and the flags that decide bf16 and
int8 speed, torch and numpy versions, threads, load average) and each benchmark's output.

Usage: python bench/run_all.py [--out bench/results.md] [--full]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

BENCHES = ("bench_encode.py", "bench_knn.py", "bench_cka.py", "bench_train.py")
FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile")


def machine() -> list[str]:
    import numpy
    import torch

    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"- CPU: {model}, {os.cpu_count()} cores; flags: "
            + (", ".join(f for f in FLAGS if f in flags) or "none of " + ", ".join(FLAGS)),
            f"- torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
            f"{numpy.__version__}, Python {platform.python_version()}",
            f"- load average before the run: {load}",
            f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.md"))
    parser.add_argument("--full", action="store_true", help="full sizes instead of --quick")
    args = parser.parse_args()
    lines = ["# Benchmark results", "", "Written by `make bench` (`bench/run_all.py`). "
             "Ratios are against peers measured in the same run on this machine.", "",
             *machine(), ""]
    failed = 0
    for name in BENCHES:
        cmd = [sys.executable, str(Path(__file__).with_name(name))]
        cmd += [] if args.full else ["--quick"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        minutes = (time.perf_counter() - start) / 60
        failed += proc.returncode != 0
        status = "" if proc.returncode == 0 else f" (FAILED, exit {proc.returncode})"
        output = proc.stdout.strip() or proc.stderr.strip()[-2000:]
        lines += [f"## {name}{status}", "", f"`{' '.join(cmd[1:])}`, {minutes:.1f} min", "",
                  "```", output, "```", ""]
        print(f"{name}: {minutes:.1f} min{status}", file=sys.stderr)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
