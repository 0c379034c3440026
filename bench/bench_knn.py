"""Benchmark: exact top-k (retrieval.knn) vs FAISS IndexFlatIP and a naive numpy search.

Every method runs in its own child process on the same seeded random unit vectors, so
that its peak resident memory (VmHWM, reset after the data are made) is its own. Methods
are interleaved within each repeat; ratios are against FAISS in the same run. Also times
BUCC margin mining end to end (mine_pairs_from_embeddings, k = 4): with both searches on
FAISS (mine_faiss), with the default backend searching each direction separately
(mine_twice: what mining did before knn_both) and as it runs now (mine: one int8 scan for
both directions). Prints the CPU model and its SIMD flags.

    .venv/bin/python bench/bench_knn.py --quick      # about a minute (make bench)
    .venv/bin/python bench/bench_knn.py              # 10k and 100k at 384 and 1024 dims
    .venv/bin/python bench/bench_knn.py --sizes 100000 --dims 384 --methods faiss,knn
    .venv/bin/python bench/bench_knn.py --million    # plus 10k queries over 1M rows
    .venv/bin/python bench/bench_knn.py --no-search  # BUCC mining at 100k only
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

K = 4
SIMD_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_int8", "amx_bf16")


def make_data(n_queries: int, n_index: int, dim: int, seed: int) -> tuple[np.ndarray, ...]:
    """Random unit rows (float32), built in chunks so that making them peaks low."""
    rng = np.random.default_rng(seed)
    out = []
    for n in (n_queries, n_index):
        x = np.empty((n, dim), dtype=np.float32)
        for s in range(0, n, 65_536):
            block = rng.standard_normal((min(65_536, n - s), dim), dtype=np.float32)
            x[s : s + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
        out.append(x)
    return tuple(out)


def numpy_knn(queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The naive peer: matmul + argpartition + sort, 2048 queries at a time."""
    scores = np.empty((len(queries), k), np.float32)
    ids = np.empty((len(queries), k), np.int64)
    for q0 in range(0, len(queries), 2048):
        sims = queries[q0 : q0 + 2048] @ index.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top_s = np.take_along_axis(sims, top, 1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        scores[q0 : q0 + 2048] = np.take_along_axis(top_s, order, 1)
        ids[q0 : q0 + 2048] = np.take_along_axis(top, order, 1)
    return scores, ids


def run_method(method: str, queries: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Run one method; return what is compared across methods (ids or mined pairs)."""
    import faiss

    from retrieval import margin
    from retrieval.knn import knn, knn_both

    if method == "faiss":
        flat = faiss.IndexFlatIP(index.shape[1])
        flat.add(index)
        return flat.search(queries, K)[1]
    if method == "knn":
        return knn(queries, index, K)[1]
    if method == "numpy":
        return numpy_knn(queries, index, K)[1]
    if method == "mine_faiss":  # the same mining with both searches forced to FAISS
        margin.knn_both = functools.partial(knn_both, backend="faiss")
    if method == "mine_twice":  # default backend, one search per direction
        margin.knn_both = lambda x, y, k_xy, k_yx: (knn(x, y, k_xy), knn(y, x, k_yx))
    pairs = margin.mine_pairs_from_embeddings(queries, index, k=K)
    return np.array([(i, j) for i, j, _ in pairs], dtype=np.int64)


def worker(spec: dict) -> None:
    """Child process: make data, reset the peak RSS, time one method, print JSON."""
    import faiss  # noqa: F401  (imported before the peak is reset: libraries are not the method)

    import retrieval.margin  # noqa: F401

    queries, index = make_data(spec["nq"], spec["n"], spec["dim"], spec["seed"])
    # VmHWM := current RSS (inputs + libraries). knn's one-tile calibration stays inside
    # the timing: it is part of a first call.
    Path("/proc/self/clear_refs").write_text("5")
    start = time.perf_counter()
    result = run_method(spec["method"], queries, index)
    seconds = time.perf_counter() - start
    np.save(spec["out"], result)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM")))
    inputs_mb = (queries.nbytes + index.nbytes) / 2**20
    print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024, "inputs_mb": inputs_mb}))


def spawn(method: str, nq: int, n: int, dim: int, out: str) -> dict:
    spec = {"method": method, "nq": nq, "n": n, "dim": dim, "seed": 0, "out": out}
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{method} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cpu_summary() -> str:
    info = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                  if ln.startswith("model name")), "unknown")
    flags = set(next((ln.split(":", 1)[1].split() for ln in info.splitlines()
                      if ln.startswith("flags")), []))
    have = [f for f in SIMD_FLAGS if f in flags]
    return f"CPU: {model}, {os.cpu_count()} logical CPUs, SIMD: {' '.join(have) or 'none'}"


def bench_case(
    label: str, methods: list[str], nq: int, n: int, dim: int, repeats: int
) -> dict[str, float]:
    """Interleave the methods `repeats` times; print median time, peak memory, ratios."""
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            for method in methods:
                runs[method].append(spawn(method, nq, n, dim, f"{tmp}/{method}.npy"))
        results = {m: np.load(f"{tmp}/{m}.npy") for m in methods}
    base = methods[0]
    base_t = statistics.median(r["seconds"] for r in runs[base])
    print(f"\n{label}: {nq} queries x {n} rows x {dim} dims, k={K}, {repeats} repeat(s), "
          f"load {os.getloadavg()[0]:.1f}")
    for method in methods:
        t = statistics.median(r["seconds"] for r in runs[method])
        peak = max(r["peak_mb"] for r in runs[method])
        same = _agreement(results[base], results[method], as_pairs=label.startswith("BUCC"))
        print(f"  {method:11s} {t:8.2f} s  {base_t / t:5.2f}x {base}  peak RSS {peak:7.0f} MB "
              f"(inputs {runs[method][0]['inputs_mb']:.0f} MB)  same result as {base}: {same}")
    return {m: statistics.median(r["seconds"] for r in runs[m]) for m in methods}


def _agreement(want: np.ndarray, got: np.ndarray, as_pairs: bool) -> str:
    """Share of equal ids (search) or of common mined pairs (mining).

    Mined pairs are compared as sets: margin scores differ by float32 rounding between
    backends (~1e-7), which reorders pairs of nearly equal score but not the pairs mined.
    """
    if as_pairs:
        common = len(set(map(tuple, want.tolist())) & set(map(tuple, got.tolist())))
        return f"{common / max(len(want), len(got)):.4%} of pairs"
    if want.shape != got.shape:
        return f"no (shapes {want.shape} vs {got.shape})"
    return f"{np.mean(want == got):.4%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: for make bench")
    parser.add_argument("--sizes", default="10000,100000", help="n (queries = rows), comma list")
    parser.add_argument("--dims", default="384,1024", help="embedding dims, comma list")
    parser.add_argument("--methods", default="faiss,knn,numpy", help="first one is the base")
    parser.add_argument("--no-bucc", action="store_true", help="skip BUCC mining at 100k")
    parser.add_argument("--no-search", action="store_true", help="only BUCC mining at 100k")
    parser.add_argument("--million", action="store_true", help="add 10k queries x 1M rows")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved repeats per case")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(json.loads(args.worker))

    from retrieval.knn import choose_backend
    from retrieval.knn_int8 import int8_speedup

    print(cpu_summary())
    print(f"load average {os.getloadavg()}: the timings are only as quiet as the machine")
    for dim in (384, 1024):
        print(f"int8 tile scan vs FAISS, one thread, dim {dim}: {int8_speedup(dim):.2f}x; "
              f"backend at 100k: {choose_backend(100_000, 100_000, dim)}")
    mining = ["mine_faiss", "mine_twice", "mine"]
    if args.quick:
        bench_case("search", ["faiss", "knn", "numpy"], 10_000, 10_000, 384, args.repeats)
        bench_case("BUCC mining", mining, 10_000, 10_000, 384, args.repeats)
        # FAISS on a 10k-query slice keeps the quick run short; its time scales linearly.
        part = bench_case("search, FAISS on 10% of the queries", ["faiss"], 10_000, 100_000, 384, 1)
        ours = bench_case("search", ["knn"], 100_000, 100_000, 384, 1)
        print(f"  knn at 100k: {10 * part['faiss'] / ours['knn']:.2f}x FAISS "
              f"(FAISS time extrapolated linearly from its 10k-query slice)")
        return None
    methods = args.methods.split(",")
    for n in [] if args.no_search else map(int, args.sizes.split(",")):
        for dim in map(int, args.dims.split(",")):
            bench_case("search", methods, n, n, dim, args.repeats)
    if args.million:
        bench_case("search", ["faiss", "knn"], 10_000, 1_000_000, 384, args.repeats)
    if not args.no_bucc:
        bench_case("BUCC mining", mining, 100_000, 100_000, 384, args.repeats)
    return None


if __name__ == "__main__":
    main()
