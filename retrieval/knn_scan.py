"""The int8 tile scan of :mod:`retrieval.knn_int8`: running top-k' of score upper bounds.

Per query block, every index tile is scored with one ``torch._int_mm``; an int32 score s
of query i and index row j stands for the upper bound u = s * inv + err on x_i.y_j, where
inv and err are constant along a query row within a tile. The row pass keeps, per query,
the k' largest u and their rows. The column pass (margin mining: both directions from one
product) also keeps, per index row, the k' largest u over the queries of all blocks;
there inv and err are constant along an index row within a query block, which needs one
int8 scale per query block.

Why a strided group maximum: torch.topk over a whole tile costs about as much as the int8
GEMM that made it, while one vectorised max over strided groups of GROUP rows or columns
costs ~4 % of it per direction, taken right after the GEMM while the tile is in cache.
After the first tile, few groups hold a score above the running k'-th bound, so only
those are read element by element (numpy flat indices: torch's multi-dimensional
indexing measured ~10x slower here) and merged by replacing each row's smallest kept
bound (torch.topk over many short rows costs ~0.4 us per row, 5x the replacement).
Groups of 8 rather than 16 halve the elements read per passing group, measured ~5 %
faster per block overall.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from retrieval.knn_quant import QuantRows

GROUP = 8  # rows or columns per group maximum (tiles and query blocks: multiples of it)
INT_MIN, INT_MAX = np.iinfo(np.int32).min, np.iinfo(np.int32).max
# Above this many passing groups per row and tile, a dense top-k of the tile is cheaper
# than reading the groups one by one (adversarial ties); measured on random data, the
# sparse merge still wins at 8 groups per row, so only a flood of hits switches.
DENSE_HITS = 32
SUPER = 4  # tiles per merge for 512-row blocks: a quarter of the merges' fixed costs
ROUNDS = 4  # new entries per row merged by replace-the-minimum; more go through a partition


class RunningTopK:
    """Per row: the kp largest upper bounds seen and their ids; -inf where not full yet."""

    def __init__(self, n_rows: int, kp: int) -> None:
        self.u = np.full((n_rows, kp), -np.inf)  # (n_rows, kp) float64, unordered
        self.ids = np.full((n_rows, kp), -1, dtype=np.int64)

    def cut(self, rows: np.ndarray | slice) -> np.ndarray:
        """The kp-th largest bound kept per row (-inf until kp entries were seen)."""
        return self.u[rows].min(axis=1)

    def merge(self, rows: np.ndarray, u: np.ndarray, ids: np.ndarray) -> None:
        """Merge candidates u, ids (h, c) into the distinct ``rows`` (h,)."""
        kp = self.u.shape[1]
        cand_u = np.concatenate([self.u[rows], u], axis=1)
        top = np.argpartition(cand_u, cand_u.shape[1] - kp, axis=1)[:, -kp:]
        self.u[rows] = np.take_along_axis(cand_u, top, 1)
        self.ids[rows] = np.take_along_axis(np.concatenate([self.ids[rows], ids], 1), top, 1)

    def insert(self, rows: np.ndarray, u: np.ndarray, ids: np.ndarray) -> None:
        """Merge entries given as (e,) arrays, ``rows`` sorted (several per row allowed)."""
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # (h,) per hit row
        counts = np.diff(np.r_[starts, len(rows)])
        few = counts <= ROUNDS
        for r in range(ROUNDS):  # the r-th entry of every row with few: one per row
            sel = starts[few & (counts > r)] + r
            if len(sel) == 0:
                break
            self._replace_min(rows[sel], u[sel], ids[sel])
        if not few.all():  # rows with many entries: one partition each
            many = ~np.repeat(few, counts)
            slot = np.repeat(np.arange(np.count_nonzero(~few)), counts[~few])
            rank = np.arange(len(rows))[many] - np.repeat(starts[~few], counts[~few])
            new_u = np.full((np.count_nonzero(~few), counts.max()), -np.inf)
            new_i = np.full(new_u.shape, -1, dtype=np.int64)
            new_u[slot, rank], new_i[slot, rank] = u[many], ids[many]
            self.merge(rows[starts[~few]], new_u, new_i)

    def _replace_min(self, rows: np.ndarray, u: np.ndarray, ids: np.ndarray) -> None:
        """Entries (one per row) replace their row's smallest bound where larger."""
        slot = self.u[rows].argmin(axis=1)
        better = u > self.u[rows, slot]
        rows, slot = rows[better], slot[better]
        self.u[rows, slot], self.ids[rows, slot] = u[better], ids[better]


@dataclass(frozen=True)
class TileBounds:
    """How int32 scores of one query block become upper bounds, per (query, tile)."""

    inv_scale: np.ndarray  # (qb, tiles) float64: approximate score = int / (a_i b_t)
    err: np.ndarray  # (qb, tiles) float64: |exact - approximate| <= err


@dataclass(frozen=True)
class ColumnPass:
    """The column side of a mutual scan: per index row, the best queries of all blocks."""

    best: RunningTopK  # rows: index rows in tile order, shared by all blocks
    inv_scale: np.ndarray  # (tiles,) float64: 1 / (a_block b_t)
    err: np.ndarray  # (index rows padded,) float64: bound of each index row for this block
    first: int  # the block's first query row (ids stored are query rows in tile order)
    locks: Sequence[threading.Lock]  # one per group of tiles, guarding best's rows


def scan(
    q: torch.Tensor,
    q_real: int,
    index: QuantRows,
    bounds: TileBounds,
    best: RunningTopK,
    cols: ColumnPass | None = None,
    *,
    group: int = SUPER,
    first_group: int = 0,
) -> None:
    """Merge every index tile's bounds for the query block into ``best`` (and ``cols``).

    Args:
        q: (qb, d) int8 query codes; rows >= q_real are padding (qb a multiple of GROUP
            when ``cols`` is given).
        q_real: real query rows.
        index: the quantised index; ids stored in ``best`` are its tile-order rows.
        bounds: per (query, tile) scale and error of the row pass.
        best: (qb rows) running top-k' of the row pass, changed in place.
        cols: the column pass, or None for a plain search.
        group: tiles scored per merge (aligned groups; ``cols.locks`` has one per group).
        first_group: group to start at (staggers concurrent blocks so that they rarely
            wait for the same column lock).
    """
    qb, tile, n_tiles = q.shape[0], index.tile, index.n_tiles
    n_groups = -(-n_tiles // group)
    s = torch.empty((group, qb, tile), dtype=torch.int32)  # reused score buffer
    g_rows = torch.empty((group, qb, tile // GROUP), dtype=torch.int32)
    g_cols = torch.empty((group, qb // GROUP, tile), dtype=torch.int32)
    for g in (first_group + i for i in range(n_groups)):
        tiles = np.arange(g % n_groups * group, min(g % n_groups * group + group, n_tiles))
        for j, t in enumerate(tiles):
            torch._int_mm(q, index.codes[t * tile : (t + 1) * tile].T, out=s[j])
            s[j, :, index.real_rows(t) :] = INT_MIN  # padding never passes
            s[j, q_real:] = INT_MIN
            # group maxima now, while the tile is still in cache
            torch.amax(s[j].view(qb, GROUP, -1), 1, out=g_rows[j])
            if cols is not None:
                torch.amax(s[j].view(GROUP, -1, tile), 0, out=g_cols[j])
        m = len(tiles)
        block = (s[:m].numpy(), g_rows[:m].numpy(), tiles)
        _merge_rows(best, block, bounds, q_real, index)
        if cols is not None:
            with cols.locks[g % n_groups]:
                _merge_cols(cols, (block[0], g_cols[:m].numpy(), tiles), q_real, index)


def _merge_rows(best: RunningTopK, block, bounds: TileBounds, q_real: int, index) -> None:
    """Row pass over one group of tiles: sparse merges, dense where they would flood.

    While rows are not full (a block's first group) the tiles are merged one by one, the
    first with a seed threshold: the cut still rises fast there, and a cut from one tile
    would let about 3x more entries through the next three than tile-by-tile cuts do.
    """
    s, gmax, tiles = block  # (m, qb, tile), (m, qb, tile / GROUP), (m,)
    inv, err = bounds.inv_scale[:, tiles], bounds.err[:, tiles]  # (qb, m)
    parts, seed = [slice(0, None)], None
    if np.isneginf(best.cut(slice(0, q_real))).any():
        parts = [slice(j, j + 1) for j in range(len(tiles))]
        seed = _seed(gmax[0], best.u.shape[1])[:, None]  # (qb, 1)
    for i, part in enumerate(parts):
        one = (s[part], gmax[part], tiles[part])
        if not _sparse_rows(best, one, inv[:, part], err[:, part], seed if i == 0 else None):
            for j in range(len(tiles))[part]:  # many groups pass: dense tile by tile
                _dense_rows(best, s[j], tiles[j], (inv[:, j], err[:, j]), (q_real, index))


def _merge_cols(cols: ColumnPass, block, q_real: int, index: QuantRows) -> None:
    """Column pass over one group: sparse (seeded while a column is not full), or dense."""
    s, gmax, tiles = block
    rows = slice(tiles[0] * index.tile, (tiles[-1] + 1) * index.tile)  # aligned: contiguous
    cut = cols.best.cut(rows)
    seed = None
    if np.isneginf(cut[: index.n - rows.start]).any():
        seed = _seed(gmax.transpose(0, 2, 1), cols.best.u.shape[1]).ravel()  # (m * tile,)
    if not _sparse_cols(cols, block, cut, seed):
        for j, t in enumerate(tiles):
            _dense_cols(cols, s[j], t, q_real, index)


def _seed(gmax: np.ndarray, kp: int) -> np.ndarray:
    """int32 threshold per row of group maxima (..., width) that kp entries of it exceed.

    The kp-th largest group maximum is a real score, so kp entries of the row reach it
    (distinct groups): anything at least one below cannot be among the row's top kp. A
    block's first tile uses it instead of a dense top-k (5x cheaper on 2048 x 2048).
    """
    width = gmax.shape[-1]
    if kp > width:  # too few groups to seed: no threshold
        return np.full(gmax.shape[:-1], INT_MIN, dtype=np.int32)
    kth = np.partition(gmax, width - kp, axis=-1)[..., width - kp].astype(np.int64)
    return np.maximum(kth - 1, INT_MIN).astype(np.int32)


def _sparse_rows(best: RunningTopK, block, inv, err, seed: np.ndarray | None) -> bool:
    """Insert the entries of tiles s (m, qb, tile) above the cut; False if too many pass.

    ``seed``: (qb, m) int thresholds to apply too, or None.
    """
    s, gmax, tiles = block
    m, qb, tile = s.shape
    width = tile // GROUP
    thr = _int_threshold(best.cut(slice(0, qb))[:, None], err, inv)  # (qb, m)
    thr = thr if seed is None else np.maximum(thr, seed)
    hits = np.flatnonzero(gmax > thr.T[:, :, None])  # over (m, qb, width)
    if len(hits) > (DENSE_HITS + best.u.shape[1]) * qb * m:
        return False
    hits = hits[np.argsort(hits // width % qb, kind="stable")]  # by row, for insert
    r, j, c = hits // width % qb, hits // (qb * width), hits % width
    # group c of row r holds columns c + width * g: flat offsets into s
    start = (j * qb + r) * tile + c
    vals = s.ravel()[start[:, None] + width * np.arange(GROUP)]  # (hits, GROUP)
    h, g = np.nonzero(vals > thr[r, j][:, None])
    j, r = j[h], r[h]
    u = vals[h, g] * inv[r, j] + err[r, j]
    best.insert(r, u, tiles[j] * tile + c[h] + width * g)
    return True


def _sparse_cols(cols: ColumnPass, block, cut: np.ndarray, seed: np.ndarray | None) -> bool:
    """Column counterpart of :func:`_sparse_rows`; ``cut`` and ``seed`` (m * tile,)."""
    s, gmax, tiles = block
    m, qb, tile = s.shape
    width = qb // GROUP
    first_row = tiles[0] * tile  # rows of cols.best: first_row + flat (tile, column)
    err = cols.err[first_row : first_row + m * tile]
    thr = _int_threshold(cut, err, np.repeat(cols.inv_scale[tiles], tile))
    thr = (thr if seed is None else np.maximum(thr, seed)).reshape(m, tile)
    hits = np.flatnonzero(gmax > thr[:, None, :])  # over (m, width, tile)
    if len(hits) > (DENSE_HITS + cols.best.u.shape[1]) * tile * m:
        return False
    j, col = hits // (width * tile), hits % tile
    hits = hits[np.argsort(j * tile + col, kind="stable")]  # by row of cols.best
    j, col, c = hits // (width * tile), hits % tile, hits // tile % width
    # group c of column col holds query rows c + width * g: flat offsets into s
    vals = s.ravel()[((j * qb + c) * tile + col)[:, None] + width * tile * np.arange(GROUP)]
    h, g = np.nonzero(vals > thr[j, col][:, None])
    rows = j[h] * tile + col[h]  # within the group
    u = vals[h, g] * cols.inv_scale[tiles[j[h]]] + err[rows]
    cols.best.insert(rows + first_row, u, cols.first + c[h] + width * g)
    return True


def _dense_rows(best: RunningTopK, s, t: int, bounds, where: tuple[int, QuantRows]) -> None:
    """Merge the top-kp of every real query row of one tile s (qb, tile)."""
    (inv, err), (q_real, index) = bounds, where
    n_cols = index.real_rows(t)
    top = torch.from_numpy(s[:q_real, :n_cols]).topk(min(best.u.shape[1], n_cols), 1)
    u = top.values.numpy() * inv[:q_real, None] + err[:q_real, None]
    best.merge(np.arange(q_real), u, top.indices.numpy() + t * index.tile)


def _dense_cols(cols: ColumnPass, s, t: int, q_real: int, index: QuantRows) -> None:
    """Merge the top-kp query rows of every real index row of one tile s (qb, tile)."""
    lo, n_cols = t * index.tile, index.real_rows(t)
    top = torch.from_numpy(s[:q_real, :n_cols]).topk(min(cols.best.u.shape[1], q_real), 0)
    u = top.values.numpy().T * cols.inv_scale[t] + cols.err[lo : lo + n_cols, None]
    cols.best.merge(np.arange(lo, lo + n_cols), u, top.indices.numpy().T + cols.first)


def _int_threshold(cut: np.ndarray, err: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """int32 t with s <= t => s * inv + err <= cut (one below the floor: safe under rounding)."""
    t = np.floor((cut - err) / inv) - 1  # a -inf cut (row not full): every score passes
    return np.clip(t, INT_MIN, INT_MAX).astype(np.int32)
