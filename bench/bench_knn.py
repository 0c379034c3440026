"""Benchmark: exact FAISS k-NN (retrieval.knn) vs a numpy matmul + argpartition + sort peer.

Both search the same L2-normalised random data (default 10k queries x 10k index rows x 384
dims, k = 4, as in a BUCC-sized mining run); the script checks that they agree and prints
median / best wall-clock times and the speed ratio.

    .venv/bin/python bench/bench_knn.py --n 10000 --dim 384 --k 4 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import faiss
import numpy as np

from retrieval.knn import knn, l2_normalize


def numpy_knn(queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The peer: full (nq, n) similarity matrix, argpartition to the top k, then sort."""
    sims = queries @ index.T  # (nq, n) float32
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top_s = np.take_along_axis(sims, top, 1)
    order = np.argsort(-top_s, axis=1, kind="stable")
    return np.take_along_axis(top_s, order, 1), np.take_along_axis(top, order, 1)


def timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def report(args: argparse.Namespace, t_faiss: list[float], t_numpy: list[float],
           load_before: float) -> None:
    print(f"data: {args.n} x {args.n} x {args.dim}, k={args.k}, repeats={args.repeats}")
    print(f"load average before: {load_before:.2f}, after: {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")
    print(f"faiss {faiss.__version__} ({args.threads or faiss.omp_get_max_threads()} threads), "
          f"numpy {np.__version__}")
    for name, times in (("faiss IndexFlatIP (retrieval.knn)", t_faiss),
                        ("numpy matmul+argpartition+sort", t_numpy)):
        print(f"{name:36s} median {statistics.median(times):.3f} s  best {min(times):.3f} s")
    ratio = statistics.median(t_numpy) / statistics.median(t_faiss)
    print(f"speed-up of faiss over numpy (median): {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="queries and index rows")
    parser.add_argument("--dim", type=int, default=384, help="embedding dimension")
    parser.add_argument("--k", type=int, default=4, help="neighbours per query")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="FAISS threads (default: all)")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]  # other processes distort the timings: report it
    rng = np.random.default_rng(args.seed)
    queries = l2_normalize(rng.standard_normal((args.n, args.dim), dtype=np.float32))
    index = l2_normalize(rng.standard_normal((args.n, args.dim), dtype=np.float32))

    def run_faiss() -> tuple[np.ndarray, np.ndarray]:
        return knn(queries, index, args.k, n_threads=args.threads)

    t_faiss, (s_faiss, i_faiss) = timed(run_faiss, args.repeats)
    t_numpy, (s_numpy, i_numpy) = timed(lambda: numpy_knn(queries, index, args.k), args.repeats)
    report(args, t_faiss, t_numpy, load_before)
    max_score_diff = float(np.abs(s_faiss - s_numpy).max())
    print(f"agreement: identical ids {np.mean(i_faiss == i_numpy):.4%}, "
          f"max |score diff| {max_score_diff:.2e}")
    if max_score_diff > 1e-4:
        raise SystemExit("faiss and numpy disagree beyond float32 rounding")


if __name__ == "__main__":
    main()
