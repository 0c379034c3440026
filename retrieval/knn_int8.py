"""Exact inner-product top-k on the CPU: int8 candidate scoring, float32 re-ranking, certificate.

Why not plain float32: on CPUs with int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI,
AMX) an int8 GEMM runs several times faster than a float32 one. int8 scores are only
approximate, so the search stays exact by construction:

1. Quantise. Query rows get one scale each, index rows one global scale, so that the int32
   scores of one query are comparable across index rows.
2. Scan index tiles with ``torch._int_mm`` and keep the best k' = k + ``EXTRAS[0]`` int scores
   per query. A strided group maximum of each tile (one cheap pass) finds the few groups
   that can enter the running top-k'; only those are looked at element by element.
3. Re-rank the k' candidates with float32 inner products and check a certificate. With
   e_i a bound on |exact - approximate| for query i (Cauchy-Schwarz on the rounding
   residuals: |x.y - x^.y^| <= |x - x^| |y| + |x^| |y - y^|), if the k-th re-ranked score
   minus float32 rounding slack exceeds the best approximate score left out plus e_i, no
   row left out can beat it: the top-k set is exact.
4. Queries that fail the check get a second round with more candidates; those failing
   again are reported so that the caller searches them exactly in float32.

Work is split by query blocks over Python threads, each running single-threaded torch ops:
under load, OpenMP barriers inside many small GEMMs cost more than the GEMMs (measured 7x).
"""

from __future__ import annotations

import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import faiss
import numpy as np
import torch

from retrieval._common import f32, faiss_threads, merge_topk, row_chunks

QUERY_BLOCK = 512  # query rows per work item; a 512 x 2048 int32 tile (4 MB) stays in cache
TILE = 2048  # index rows per int8 GEMM
GROUP = 16  # columns per group maximum (TILE must be a multiple)
QUANT_ROWS = 8192  # index rows quantised at a time (float64 temporaries: 25 MB at d = 384)
# Candidates kept beyond k, per round. Measured on random unit vectors (d = 384, k = 4,
# 100k rows): 44 certifies 98 % of queries (20: 58 %); the rest get a second round.
EXTRAS = (44, 124)
RERANK_ROWS = 8192  # candidate rows gathered at a time for re-ranking (12 MB at d = 384)
INT_MIN = torch.iinfo(torch.int32).min  # below any int8 x int8 score
F32_SLACK = 2.0**-23  # per summed term: twice float32's unit roundoff, for re-ranked scores


@dataclass(frozen=True)
class QuantIndex:
    """The index in int8 with one scale, plus what the error bound needs."""

    codes: torch.Tensor  # (n padded to a TILE multiple, d) int8, padding rows zero
    n: int  # real rows
    scale: float  # codes ~ round(index * scale)
    max_norm: float  # max_j |y_j|
    max_residual: float  # max_j |y_j - codes_j / scale|


def quantize_index(index: np.ndarray) -> QuantIndex:
    """Quantise (n, d) rows to int8 with one global scale, reading them chunk by chunk."""
    peak = max((float(np.abs(c).max(initial=0.0)) for c in row_chunks(index)), default=0.0)
    scale = 127.0 / peak if peak > 0 else 1.0
    n, d = index.shape
    codes = torch.zeros((-(-n // TILE) * TILE, d), dtype=torch.int8)
    max_norm = max_residual = 0.0
    start = 0
    for chunk in row_chunks(index, QUANT_ROWS):
        q, residual = _round(chunk.astype(np.float64), np.full(len(chunk), scale))
        codes[start : start + len(chunk)] = torch.from_numpy(q)
        max_norm = max(max_norm, float(np.linalg.norm(chunk.astype(np.float64), axis=1).max()))
        max_residual = max(max_residual, float(residual.max()))
        start += len(chunk)
    return QuantIndex(codes, n, scale, max_norm, max_residual)


def _round(x: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes of float64 rows x (m, d) at per-row ``scale`` (m,), and |x - codes/scale|."""
    q = np.clip(np.rint(x * scale[:, None]), -127, 127)
    residual = np.linalg.norm(x - q / scale[:, None], axis=1)
    return q.astype(np.int8), residual


def int8_knn(
    queries: np.ndarray,
    index: np.ndarray,
    k: int,
    *,
    n_threads: int | None = None,
    extras: tuple[int, ...] = EXTRAS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k by inner product with int8 candidates and exact float32 re-ranking.

    Queries whose certificate fails with k + extras[0] candidates are scanned again with
    k + extras[1], and so on.

    Args:
        queries: (nq, d) float rows (a memory map is read block by block).
        index: (n, d) float rows, n >= k (quantised once; candidates re-read from it).
        k: neighbours per query, 1 <= k <= n (validated by the caller).
        n_threads: worker threads; None = torch's intra-op thread count.
        extras: candidates kept beyond k, one entry per round.

    Returns:
        (scores, ids, certified): (nq, k) float32 inner products and int64 rows sorted by
        score descending then row ascending, and (nq,) bool. Where ``certified`` is False
        the row may be wrong and must be searched again exactly.
    """
    qindex = quantize_index(index)
    nq = queries.shape[0]
    scores = np.zeros((nq, k), dtype=np.float32)
    ids = np.zeros((nq, k), dtype=np.int64)
    certified = np.zeros(nq, dtype=bool)
    todo = np.arange(nq)
    for extra in extras:
        kp = min(k + extra, qindex.n)
        part = _run_blocks(queries, todo, index, qindex, k, kp, n_threads)
        scores[todo], ids[todo], certified[todo] = part
        todo = todo[~part[2]]
        if len(todo) == 0 or kp == qindex.n:
            break
    return scores, ids, certified


def _run_blocks(
    queries: np.ndarray,
    rows: np.ndarray,
    index: np.ndarray,
    qindex: QuantIndex,
    k: int,
    kp: int,
    n_threads: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_search_block` over ``rows`` of ``queries`` in blocks, on worker threads."""
    whole = len(rows) == queries.shape[0]  # contiguous slices read a memory map in order

    def work(start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        torch.set_num_threads(1)  # per worker thread; the caller's setting is untouched
        block = slice(start, start + QUERY_BLOCK)
        x = f32(queries[block] if whole else queries[rows[block]])
        return _search_block(x, index, qindex, k, kp)

    with ThreadPoolExecutor(n_threads or torch.get_num_threads()) as pool:
        parts = list(pool.map(work, range(0, len(rows), QUERY_BLOCK)))
    scores, ids, certified = (np.concatenate(p) for p in zip(*parts, strict=True))
    return scores, ids, certified


def _search_block(
    x: np.ndarray, index: np.ndarray, qindex: QuantIndex, k: int, kp: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scan, re-rank and certify one block of float32 queries x (qb, d)."""
    x64 = x.astype(np.float64)
    peak = np.abs(x64).max(axis=1)
    scale = 127.0 / np.where(peak > 0, peak, 127.0)  # (qb,); zero rows: scale 1
    codes, residual = _round(x64, scale)
    cut, cand = _scan(torch.from_numpy(codes), qindex, kp)
    scores, ids = merge_topk(_exact_scores(x, index, cand), cand, k)
    # Bound on |exact - approximate| per query (Cauchy-Schwarz on both rounding residuals),
    # widened by 1e-6 so that its own float64 rounding cannot make it too small.
    hat_norm = np.linalg.norm(codes.astype(np.float64), axis=1) / scale
    err = (residual * qindex.max_norm + hat_norm * qindex.max_residual) * (1 + 1e-6)
    slack = x.shape[1] * F32_SLACK * np.linalg.norm(x64, axis=1) * qindex.max_norm
    left_out = cut / (scale * qindex.scale) if kp < qindex.n else np.full(len(x), -np.inf)
    certified = scores[:, -1].astype(np.float64) - slack > left_out + err
    return scores, ids, certified


def _exact_scores(x: np.ndarray, index: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """float32 inner products of queries x (qb, d) with their candidate rows (qb, kp)."""
    out = np.empty(cand.shape, dtype=np.float32)
    step = max(1, RERANK_ROWS // cand.shape[1])  # queries per gather: bounded copy
    for q0 in range(0, len(x), step):
        block = cand[q0 : q0 + step]
        rows = torch.from_numpy(f32(index[block.ravel()]).reshape(*block.shape, -1))
        query = torch.from_numpy(x[q0 : q0 + step])[:, :, None]  # (b, d, 1)
        out[q0 : q0 + step] = torch.bmm(rows, query)[..., 0].numpy()
    return out


def _scan(q: torch.Tensor, qindex: QuantIndex, kp: int) -> tuple[np.ndarray, np.ndarray]:
    """Running top-kp int scores of queries q (qb, d) int8 over all index tiles.

    Returns:
        (cut, ids): (qb,) float64 int score that no row left out exceeds, and the (qb, kp)
        int64 candidate rows.
    """
    best_v = torch.full((q.shape[0], kp), INT_MIN, dtype=torch.int32)
    best_i = torch.full((q.shape[0], kp), -1, dtype=torch.int64)
    for start in range(0, qindex.n, TILE):
        s = torch._int_mm(q, qindex.codes[start : start + TILE].T)  # (qb, TILE) int32
        s[:, qindex.n - start :] = INT_MIN  # padding rows of the last tile never win
        cut = best_v.amin(1)  # (qb,) current kp-th best
        if bool((cut == INT_MIN).any()):  # buffer not full yet (first tile): dense merge
            cand_v = torch.cat([best_v, s], 1)
            cand_i = torch.cat([best_i, torch.arange(start, start + TILE).expand_as(s)], 1)
            best_v, pos = cand_v.topk(kp, dim=1, sorted=False)
            best_i = cand_i.gather(1, pos)
        else:
            _merge_sparse(s, start, cut, best_v, best_i)
    return best_v.amin(1).double().numpy(), best_i.numpy()


def _merge_sparse(
    s: torch.Tensor, start: int, cut: torch.Tensor, best_v: torch.Tensor, best_i: torch.Tensor
) -> None:
    """Insert the entries of tile s (qb, TILE) above ``cut`` into the running top-k in place."""
    qb, width = s.shape[0], TILE // GROUP
    groups = s.view(qb, GROUP, width)  # group c holds columns c, c + width, c + 2 width, ...
    r, c = torch.nonzero(groups.amax(1) > cut[:, None], as_tuple=True)  # row-major order
    if r.numel() == 0:
        return
    vals = groups[r, :, c]  # (hits, GROUP)
    keep = vals > cut[r, None]
    rows = r[:, None].expand_as(vals)[keep]  # still sorted by row
    cols = (c[:, None] + width * torch.arange(GROUP) + start)[keep]
    vals = vals[keep]
    hit_rows, counts = torch.unique_consecutive(rows, return_counts=True)
    slot = torch.repeat_interleave(torch.arange(len(hit_rows)), counts)
    pos = torch.arange(len(rows)) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    new_v = torch.full((len(hit_rows), int(counts.max())), INT_MIN, dtype=torch.int32)
    new_i = torch.full_like(new_v, -1, dtype=torch.int64)
    new_v[slot, pos], new_i[slot, pos] = vals, cols
    cand_v = torch.cat([best_v[hit_rows], new_v], 1)
    cand_i = torch.cat([best_i[hit_rows], new_i], 1)
    top_v, top_p = cand_v.topk(best_v.shape[1], dim=1, sorted=False)
    best_v[hit_rows], best_i[hit_rows] = top_v, cand_i.gather(1, top_p)


@functools.cache
def int8_speedup(dim: int = 384) -> float:
    """Measured speed of an int8 tile scan over FAISS float32 on the same tile, one thread.

    Measured once per process (a few tens of ms). 0.0 where ``torch._int_mm`` is missing
    on this CPU build; never assumes VNNI or AMX from flags.
    """
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(-127, 128, (QUERY_BLOCK, dim), dtype=torch.int8, generator=gen)
    b = torch.randint(-127, 128, (TILE, dim), dtype=torch.int8, generator=gen)
    flat = faiss.IndexFlatIP(dim)
    flat.add(b.float().numpy())
    xf = a.float().numpy()

    def int8_tile() -> None:
        torch._int_mm(a, b.T).view(QUERY_BLOCK, GROUP, -1).amax(1)

    def one_thread() -> float:
        torch.set_num_threads(1)
        try:
            t_int = _best_time(int8_tile)
        except RuntimeError:  # no int8 GEMM kernel in this build
            return 0.0
        with faiss_threads(1):
            t_f32 = _best_time(lambda: flat.search(xf, EXTRAS[0] + 4))
        return t_f32 / t_int

    with ThreadPoolExecutor(1) as pool:  # a worker thread: the caller's thread count stays
        return pool.submit(one_thread).result()


def _best_time(fn: object, repeats: int = 5) -> float:
    fn()  # warm-up: kernel selection, page faults
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
