"""Benchmark: the CKA layer grid vs the float64 feature-Gram limit and vs the Gram form.

The grid of a pair of (13, n, 384) float32 stacks (e5-small's 12 + 1 hidden states, n
parallel sentences) needs every cross product A_i'B_j of centred features. The
hardware limit used here is the float64 Gram of all layers' centred features at once,
Z'Z with Z = [A_0 .. A_12, B_0 .. B_12] (n, 26 x 384): one BLAS call (numpy's syrk) that
contains every block the grid needs (issue 13: target within 1.5 x of it). Timed, each
run interleaved with the others and repeated (the minimum is reported):

- limit: Z'Z of the already centred float64 Z (centring and casting not even counted);
- cka_matrix linear and debiased (the streamed feature form, from float32 input);
- the Gram form: ``linear_cka_gram`` on a few layer pairs, extrapolated to the grid (the
  pairwise n x n route; one pair at n = 20,000 holds two 3.2 GB Grams).

On a shared machine the wall times move with the other jobs; the ratios, measured in
the same run and interleaved, are the figures to quote, with the CPU and load printed.
Run:

    .venv/bin/python bench/bench_cka.py            # n = 20,000, 3 repeats (minutes)
    .venv/bin/python bench/bench_cka.py --quick    # n = 5,000, 2 repeats (about a minute)
    .venv/bin/python bench/bench_cka.py --memmap   # also a float16 memory-mapped stack
    .venv/bin/python bench/bench_cka.py --threads 1  # BLAS threads (default: BLAS's own)

On an oversubscribed machine (load above the core count) multi-threaded OpenBLAS loses
most of its time to threads waiting for each other, worst on the small (d, d) self
blocks (measured 3.5 x slower with 2 threads than with 1 at load 10 on 2 cores):
``--threads 1`` then gives the fairer ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from probe.cka import cka_matrix, linear_cka_gram


def make_stacks(layers: int, n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two correlated float32 stacks, like the same sentences in two languages."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((layers, n, dim), dtype=np.float32)
    b = 0.7 * a + rng.standard_normal((layers, n, dim), dtype=np.float32)
    return a, b


def centred_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, (La + Lb) d) float64, all layers' centred features side by side."""
    z = np.concatenate([s.transpose(1, 0, 2).reshape(s.shape[1], -1) for s in (a, b)], axis=1)
    z = z.astype(np.float64)
    z -= z.mean(axis=0)
    return z


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def gram_form_seconds(a: np.ndarray, b: np.ndarray, pairs: int) -> tuple[float, float]:
    """Seconds of the pairwise Gram-form grid, extrapolated from ``pairs`` layer pairs."""
    todo = [(i, j) for i in range(a.shape[0]) for j in range(b.shape[0])][:pairs]
    seconds, worst = 0.0, 0.0
    for i, j in todo:
        t, value = timed(lambda i=i, j=j: linear_cka_gram(a[i], b[j]))
        seconds += t
        worst = max(worst, abs(value - float(cka_matrix(a[i : i + 1], b[j : j + 1])[0, 0])))
    return seconds * a.shape[0] * b.shape[0] / len(todo), worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=13)
    parser.add_argument("--n", type=int, default=None, help="items (20000; 5000 with --quick)")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeats", type=int, default=None, help="3; 2 with --quick")
    parser.add_argument("--gram-pairs", type=int, default=1, help="Gram-form pairs timed")
    parser.add_argument("--quick", action="store_true", help="n = 5000, 2 repeats")
    parser.add_argument("--memmap", action="store_true", help="also time float16 memmaps")
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads")
    args = parser.parse_args()
    with threadpool_limits(args.threads):
        run(args)


def run(args) -> None:
    n = args.n or (5000 if args.quick else 20000)
    repeats = args.repeats or (2 if args.quick else 3)
    a, b = make_stacks(args.layers, n, args.dim)

    def limit():
        z = centred_z(a, b)  # built outside the timed region, freed after it
        return timed(lambda: float((z.T @ z)[0, 0]))  # numpy runs syrk for z.T @ z

    runs = {"limit Z'Z float64": limit,
            "cka_matrix linear": lambda: timed(lambda: cka_matrix(a, b)),
            "cka_matrix debiased": lambda: timed(lambda: cka_matrix(a, b, kind="debiased"))}
    with tempfile.TemporaryDirectory() as tmp:
        if args.memmap:
            for name, stack in (("a", a), ("b", b)):
                np.save(Path(tmp) / f"{name}.npy", stack.astype(np.float16))
            ma, mb = (np.load(Path(tmp) / f"{s}.npy", mmap_mode="r") for s in "ab")
            runs["cka_matrix linear, float16 memmap"] = lambda: timed(lambda: cka_matrix(ma, mb))
        best, grids = dict.fromkeys(runs, np.inf), {}
        for _ in range(repeats):
            for name, run in runs.items():
                seconds, grids[name] = run()
                best[name] = min(best[name], seconds)
    gram_s, gram_diff = gram_form_seconds(a, b, args.gram_pairs)
    report(args, n, repeats, best, grids, gram_s, gram_diff)


def report(args, n, repeats, best, grids, gram_s, gram_diff) -> None:
    limit = best["limit Z'Z float64"]
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores, load average "
          f"{os.getloadavg()[0]:.1f} (shared machine: ratios are the figures to quote)")
    print(f"stacks ({args.layers}, {n}, {args.dim}) float32 x2, min of {repeats} interleaved "
          f"repeats, BLAS threads: {args.threads or 'default'}")
    for name, seconds in best.items():
        print(f"{name:36s}: {seconds:8.2f} s   {seconds / limit:5.2f} x limit")
    print(f"{'Gram form, pairwise (extrapolated)':36s}: {gram_s:8.2f} s   "
          f"{gram_s / limit:5.2f} x limit   (from {args.gram_pairs} pair(s))")
    lin = grids["cka_matrix linear"]
    print(f"max |Gram form - cka_matrix| on timed pairs: {gram_diff:.1e}")
    if "cka_matrix linear, float16 memmap" in grids:
        diff = np.abs(grids["cka_matrix linear, float16 memmap"] - lin).max()
        print(f"max |float16 memmap - float32| grid: {diff:.1e} (float16 rounding of the input)")


if __name__ == "__main__":
    main()
