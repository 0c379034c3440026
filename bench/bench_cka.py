"""Benchmark: layer-by-layer CKA grid vs a naive double loop over the Gram form.

Times ``cka_matrix`` on a pair of (13, 2000, 384) float32 stacks (e5-small's 12 + 1
hidden states, 2000 sentences) against calling ``linear_cka_gram`` for every layer pair,
checks that both agree, and prints both times and the ratio. Run:

    .venv/bin/python bench/bench_cka.py [--layers 13] [--n 2000] [--dim 384] [--naive-pairs 0]

``--naive-pairs k`` times only k pairs of the naive loop and extrapolates to the whole grid
(the full naive loop takes minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from probe.cka import cka_matrix, linear_cka_gram


def make_stacks(layers: int, n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated float32 stacks, like the same sentences in two languages."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((layers, n, dim), dtype=np.float32)
    b = 0.7 * a + rng.standard_normal((layers, n, dim), dtype=np.float32)
    return a, b


def time_naive(a: np.ndarray, b: np.ndarray, pairs: int) -> tuple[float, float, np.ndarray]:
    """Wall and CPU seconds for the full naive grid (extrapolated if pairs < La * Lb)."""
    grid = np.full((a.shape[0], b.shape[0]), np.nan)
    todo = [(i, j) for i in range(a.shape[0]) for j in range(b.shape[0])]
    todo = todo[:pairs] if pairs > 0 else todo
    start, cpu = time.perf_counter(), time.process_time()
    for i, j in todo:
        grid[i, j] = linear_cka_gram(a[i], b[j])
    scale = grid.size / len(todo)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall * scale, cpu * scale, grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=13)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--naive-pairs", type=int, default=0, help="0 = the full grid")
    args = parser.parse_args()
    a, b = make_stacks(args.layers, args.n, args.dim)

    start, cpu = time.perf_counter(), time.process_time()
    fast = cka_matrix(a, b)
    t_fast, c_fast = time.perf_counter() - start, time.process_time() - cpu
    t_naive, c_naive, naive = time_naive(a, b, args.naive_pairs)
    done = ~np.isnan(naive)
    max_diff = float(np.abs(fast[done] - naive[done]).max())

    print(f"stacks {a.shape} x {b.shape} float32, linear CKA, {done.sum()} naive pairs run")
    # CPU time as well: wall time on a shared machine depends on the other jobs.
    print(f"cka_matrix            : {t_fast:8.2f} s wall {c_fast:8.2f} s CPU")
    print(f"naive Gram double loop: {t_naive:8.2f} s wall {c_naive:8.2f} s CPU"
          + (" (extrapolated)" if done.sum() < naive.size else ""))
    print(f"speed-up              : {t_naive / t_fast:8.1f} x wall {c_naive / c_fast:6.1f} x CPU"
          f"   max |diff| = {max_diff:.2e}")


if __name__ == "__main__":
    main()
