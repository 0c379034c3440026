"""Where the encoder runs and in which precision.

``resolve_device("auto")`` picks CUDA when there is one. ``resolve_dtype("auto", ...)``
picks bf16 on a GPU that supports it; on a CPU it measures: bf16 autocast pays off only
where the CPU has fast bf16 matrix units (AMX, AVX-512 BF16), and a CPU's name says too
little to tell, so a short timed fp32-vs-bf16 matmul of the encoder's own shapes decides.
The matmul runs on one thread, as each CPU worker of ``probe.embed`` does. The verdict is
memoised per process and on disk, keyed by the CPU, the torch version and the shapes, so
the measurement runs once per machine.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import platform
import time
from pathlib import Path

import torch

from probe.paths import cache_root

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "fp32", "bf16")
# bf16 rounds every matmul input to 8 bits of mantissa: take it only for a clear gain, so
# that measurement noise on a loaded machine cannot flip a near tie.
BF16_MIN_SPEEDUP = 1.25
CALIBRATION_FLOP = 1e9  # about 10 ms per fp32 matmul on one core: quick but above noise
CALIBRATION_ROUNDS = 5


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch intra-op threads (``None``: leave as is)."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads}")
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str | torch.device) -> torch.device:
    """``auto`` -> ``cuda`` if available else ``cpu``; anything else is checked and kept.

    Raises:
        ValueError: an unknown device name, or ``cuda`` on a machine without one.
    """
    if isinstance(device, torch.device):
        return device
    kind = device.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES} (or cuda:N)")
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA device")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device, hidden: int, intermediate: int) -> str:
    """``fp32`` / ``bf16`` as given; ``auto`` -> the faster of the two here.

    Args:
        dtype: ``auto``, ``fp32`` or ``bf16``.
        device: where the encoder runs.
        hidden, intermediate: the encoder's widths (the calibration matmul is
            (tokens, hidden) x (hidden, intermediate), the shape that dominates its cost).

    Returns:
        ``fp32`` or ``bf16``, never ``auto``.

    Raises:
        ValueError: an unknown dtype.
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {DTYPES}")
    if dtype != "auto":
        return dtype
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type != "cpu":
        return "fp32"
    return _cpu_verdict(hidden, intermediate)


@functools.cache
def _cpu_verdict(hidden: int, intermediate: int) -> str:
    record = {"cpu": cpu_signature(), "torch": torch.__version__, "hidden": hidden,
              "intermediate": intermediate, "threads": 1}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]
    memo = cache_root() / "precision" / f"{key}.json"
    try:
        return json.loads(memo.read_text())["dtype"]
    except (OSError, ValueError, KeyError):
        pass
    with torch_threads(1):
        fp32_s, bf16_s = measure_matmul(hidden, intermediate)
    verdict = "bf16" if fp32_s > BF16_MIN_SPEEDUP * bf16_s else "fp32"
    log.info("precision calibration: fp32 %.1f ms, bf16 %.1f ms per matmul -> %s",
             fp32_s * 1e3, bf16_s * 1e3, verdict)
    _write_memo(memo, {**record, "fp32_s": fp32_s, "bf16_s": bf16_s, "dtype": verdict})
    return verdict


def measure_matmul(hidden: int, intermediate: int) -> tuple[float, float]:
    """Best-of-rounds seconds of one (tokens, hidden) x (hidden, intermediate) matmul.

    Returns:
        (fp32 seconds, bf16 seconds), rounds interleaved so that a load spike hits both.
    """
    tokens = int(min(4096, max(64, CALIBRATION_FLOP / (2 * hidden * intermediate))))
    gen = torch.Generator().manual_seed(0)
    pairs = {dt: (torch.randn(tokens, hidden, generator=gen).to(dt),
                  torch.randn(hidden, intermediate, generator=gen).to(dt))
             for dt in (torch.float32, torch.bfloat16)}
    best = {dt: float("inf") for dt in pairs}
    with torch.inference_mode():
        for a, b in pairs.values():  # warm-up: first calls pick kernels, fault pages
            a @ b
        for _ in range(CALIBRATION_ROUNDS):
            for dt, (a, b) in pairs.items():
                start = time.perf_counter()
                a @ b
                best[dt] = min(best[dt], time.perf_counter() - start)
    return best[torch.float32], best[torch.bfloat16]


def cpu_signature() -> str:
    """The CPU's model name and feature flags (names alone, e.g. "AMD EPYC", are ambiguous)."""
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            name = name.strip()
            if name in ("model name", "flags", "cpu family", "model") and name not in fields:
                fields[name] = value.strip()
    except OSError:
        fields["processor"] = platform.processor() or platform.machine()
    return json.dumps(fields, sort_keys=True)


def _write_memo(memo: Path, record: dict) -> None:
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record, indent=2))
        os.replace(tmp, memo)
    except OSError as exc:  # a read-only cache only costs a re-measurement next time
        log.warning("could not record the precision calibration (%s)", exc)
