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
SUPER = 4  # tiles scored before one merge: a quarter of the merges' fixed torch-call costs


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
    n_tiles = -(-n // tile)
    s = torch.empty((SUPER, q.shape[0], tile), dtype=torch.int32)  # reused score buffer
    # Tile by tile while the cut still rises fast (a stale cut lets many groups pass),
    # then SUPER tiles per merge.
    starts = [*range(min(SUPER, n_tiles)), *range(SUPER, n_tiles, SUPER)]
    for t0, stop in zip(starts, [*starts[1:], n_tiles], strict=True):
        tiles = range(t0, stop)
        for j, t in enumerate(tiles):
            torch._int_mm(q, codes[t * tile : (t + 1) * tile].T, out=s[j])  # (qb, tile)
        s[len(tiles) - 1, :, n - tiles[-1] * tile :] = INT_MIN  # padding rows never win
        first, cut = t0, best_u.amin(1)  # (qb,) running kp-th bound
        if bool(torch.isinf(cut).any()):  # buffer not full yet: a dense first tile
            one = (s[0], t0 * tile, inv[:, t0], err[:, t0])
            best_u, best_i = _merge_dense(one, best_u, best_i)
            first, cut = t0 + 1, best_u.amin(1)
        rest = slice(first - t0, len(tiles))
        block = (s[rest], first * tile, inv[:, first : tiles.stop], err[:, first : tiles.stop])
        if first < tiles.stop and not _merge_sparse(block, cut, best_u, best_i):
            for j in range(first, tiles.stop):  # many groups pass: dense tile by tile
                one = (s[j - t0], j * tile, inv[:, j], err[:, j])
                best_u, best_i = _merge_dense(one, best_u, best_i)
    return best_u.amin(1).numpy(), best_i.numpy()


def _merge_dense(
    one: tuple[torch.Tensor, int, torch.Tensor, torch.Tensor],
    best_u: torch.Tensor,
    best_i: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge one tile's top-kp (one scale per row within a tile: int order = bound order)."""
    s, start, inv, err = one
    v, pos = s.topk(min(best_u.shape[1], s.shape[1]), dim=1)
    u = v.double() * inv[:, None] + err[:, None]
    u[v == INT_MIN] = -torch.inf
    cand_u, cand_i = torch.cat([best_u, u], 1), torch.cat([best_i, pos + start], 1)
    top_u, top_p = cand_u.topk(best_u.shape[1], dim=1)
    return top_u, cand_i.gather(1, top_p)


def _merge_sparse(
    block: tuple[torch.Tensor, int, torch.Tensor, torch.Tensor],
    cut: torch.Tensor,
    best_u: torch.Tensor,
    best_i: torch.Tensor,
) -> bool:
    """Insert the entries of tiles s (m, qb, tile) whose bound exceeds ``cut`` in place.

    Returns False, changing nothing, when more than ``DENSE_HITS`` groups per query and
    tile pass: then a dense top-k of each tile is cheaper than reading groups one by one.
    """
    s, start, inv, err = block  # inv, err: (qb, m)
    m, qb, tile = s.shape
    width = tile // GROUP
    # u > cut  <=>  s > (cut - err) / inv; one below the floor keeps it safe under rounding.
    thr = ((cut[:, None] - err) / inv).floor().sub(1).clamp(INT_MIN, INT_MAX).to(torch.int32)
    groups = s.view(m, qb, GROUP, width)  # group c holds columns c, c + width, ...
    gmax = s.view(m * qb, GROUP, width).amax(1).view(m, qb, width)  # 3-D: the faster kernel
    passing = gmax > thr.T[:, :, None]  # (m, qb, width)
    r, j, c = torch.nonzero(passing.permute(1, 0, 2), as_tuple=True)  # sorted by row
    if r.numel() > DENSE_HITS * qb * m:
        return False
    if r.numel() == 0:
        return True
    vals = groups[j, r, :, c]  # (hits, GROUP)
    keep = vals > thr[r, j, None]
    rows, tiles = r[:, None].expand_as(vals)[keep], j[:, None].expand_as(vals)[keep]
    cols = (j[:, None] * tile + c[:, None] + width * torch.arange(GROUP) + start)[keep]
    u = vals[keep].double() * inv[rows, tiles] + err[rows, tiles]
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
