"""The int8 tile scan of :mod:`retrieval.knn_int8`: running top-k' of score upper bounds.

Per query block, every index tile is scored with one ``torch._int_mm``; an int32 score s of
query i in tile t stands for the upper bound u = s * inv_scale[i, t] + err[i, t] on the
exact inner product. The scan keeps, per query, the k' largest u and their rows.

Why a strided group maximum: torch.topk over a whole tile costs about as much as the int8
GEMM that made it, while one vectorised max over 16 strided column groups costs ~3 % of it.
After the first tile, few groups hold a score above the running k'-th bound, so only
those groups are read element by element and merged into the running top-k'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

GROUP = 16  # columns per group maximum (the tile size must be a multiple)
INT_MIN, INT_MAX = torch.iinfo(torch.int32).min, torch.iinfo(torch.int32).max
# Above this many passing groups per query, a dense top-k of the tile is cheaper than
# reading the groups one by one (adversarial ties); measured on random data, the sparse
# merge still wins at 8 groups per query, so only a flood of hits switches.
DENSE_HITS = 32


@dataclass(frozen=True)
class TileBounds:
    """How int32 scores of one query block become upper bounds, per (query, tile)."""

    inv_scale: np.ndarray  # (qb, tiles) float64: approximate score = int / (a_i b_t)
    err: np.ndarray  # (qb, tiles) float64: added so that u bounds the exact score


def scan(
    q: torch.Tensor, codes: torch.Tensor, n: int, bounds: TileBounds, kp: int, tile: int
) -> tuple[np.ndarray, np.ndarray]:
    """Largest kp upper bounds per query over all tiles of the index.

    Args:
        q: (qb, d) int8 query codes.
        codes: (tiles * tile, d) int8 index codes; rows >= n are padding.
        n: real index rows, n >= kp.
        bounds: per (query, tile) scale and error term.
        kp: candidates kept per query.
        tile: index rows per GEMM (a multiple of GROUP).

    Returns:
        (cut, rows): (qb,) float64 k'-th largest bound (no row left out has a larger
        one), and (qb, kp) int64 candidate rows of ``codes``.
    """
    inv, err = torch.from_numpy(bounds.inv_scale), torch.from_numpy(bounds.err)
    best_u = torch.full((q.shape[0], kp), -torch.inf, dtype=torch.float64)
    best_i = torch.full((q.shape[0], kp), -1, dtype=torch.int64)
    for t, start in enumerate(range(0, n, tile)):
        s = torch._int_mm(q, codes[start : start + tile].T)  # (qb, tile) int32
        s[:, n - start :] = INT_MIN  # padding rows of the last tile never win
        cut = best_u.amin(1)  # (qb,) running kp-th bound
        scale = (inv[:, t], err[:, t])
        # Dense while the buffer is not full (first tile), and when many groups pass.
        if bool(torch.isinf(cut).any()) or not _merge_sparse(s, start, scale, cut, best_u, best_i):
            best_u, best_i = _merge_dense(s, start, scale, best_u, best_i)
    return best_u.amin(1).numpy(), best_i.numpy()


def _merge_dense(
    s: torch.Tensor,
    start: int,
    scale: tuple[torch.Tensor, torch.Tensor],
    best_u: torch.Tensor,
    best_i: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge the tile's top-kp (one scale per row within a tile: int order = bound order)."""
    v, pos = s.topk(min(best_u.shape[1], s.shape[1]), dim=1)
    u = v.double() * scale[0][:, None] + scale[1][:, None]
    u[v == INT_MIN] = -torch.inf
    cand_u, cand_i = torch.cat([best_u, u], 1), torch.cat([best_i, pos + start], 1)
    top_u, top_p = cand_u.topk(best_u.shape[1], dim=1)
    return top_u, cand_i.gather(1, top_p)


def _merge_sparse(
    s: torch.Tensor,
    start: int,
    scale: tuple[torch.Tensor, torch.Tensor],
    cut: torch.Tensor,
    best_u: torch.Tensor,
    best_i: torch.Tensor,
) -> bool:
    """Insert the entries of tile s (qb, tile) whose bound exceeds ``cut`` in place.

    Returns False, changing nothing, when more than ``DENSE_HITS`` groups per query pass:
    then a dense top-k over the tile is cheaper than reading the groups one by one.
    """
    inv, err = scale
    # u > cut  <=>  s > (cut - err) / inv; one below the floor keeps it safe under rounding.
    thr = ((cut - err) / inv).floor().sub(1).clamp(INT_MIN, INT_MAX).to(torch.int32)
    qb, width = s.shape[0], s.shape[1] // GROUP
    groups = s.view(qb, GROUP, width)  # group c holds columns c, c + width, c + 2 width, ...
    r, c = torch.nonzero(groups.amax(1) > thr[:, None], as_tuple=True)  # row-major order
    if r.numel() > DENSE_HITS * qb:
        return False
    if r.numel() == 0:
        return True
    vals = groups[r, :, c]  # (hits, GROUP)
    keep = vals > thr[r, None]
    rows = r[:, None].expand_as(vals)[keep]  # still sorted by row
    cols = (c[:, None] + width * torch.arange(GROUP) + start)[keep]
    u = vals[keep].double() * inv[rows] + err[rows]
    _insert((best_u, best_i), rows, u, cols)
    return True


def _insert(
    best: tuple[torch.Tensor, torch.Tensor], rows: torch.Tensor, u: torch.Tensor,
    cols: torch.Tensor,
) -> None:
    """Merge ragged (row, bound, col) entries, sorted by row, into the running top-kp."""
    best_u, best_i = best
    hit_rows, counts = torch.unique_consecutive(rows, return_counts=True)
    slot = torch.repeat_interleave(torch.arange(len(hit_rows)), counts)
    pos = torch.arange(len(rows)) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
    new_u = torch.full((len(hit_rows), int(counts.max())), -torch.inf, dtype=torch.float64)
    new_i = torch.full_like(new_u, -1, dtype=torch.int64)
    new_u[slot, pos], new_i[slot, pos] = u, cols
    cand_u = torch.cat([best_u[hit_rows], new_u], 1)
    cand_i = torch.cat([best_i[hit_rows], new_i], 1)
    top_u, top_p = cand_u.topk(best_u.shape[1], dim=1, sorted=False)
    best_u[hit_rows], best_i[hit_rows] = top_u, cand_i.gather(1, top_p)
