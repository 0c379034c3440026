"""Exact k-NN both ways from one int8 scan: margin mining's x -> y and y -> x searches.

Margin mining (:mod:`retrieval.margin`) needs the k nearest y of every x and the k nearest
x of every y. Two searches compute the x-y score matrix twice; here each int8 product of
an x block and a y tile feeds both a row-wise running top-k' (x -> y) and a column-wise
one (y -> x) (:func:`retrieval.knn_scan.scan`), and each side is then re-ranked in
float32 and certified like :func:`retrieval.knn_int8.int8_knn`.

The column side needs its own bound, constant along a column within a block: x rows are
sorted by peak into blocks of ``BLOCK`` rows with one scale a_b each (like the y
tiles, so a shared scale costs little resolution), and for x in block b,
|x.y_j - x^.y^_j| <= max_b |x - x^| |y_j| + max_b |x^| |y_j - y^_j|.

Threads: x blocks go to worker threads. A block's row side is private to its worker; the
column side is one running top-k' over all y rows (n_y x k' entries, not one per worker),
each y tile's rows behind its own lock; concurrent blocks start at different tiles so
that they rarely wait for each other.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from retrieval._common import f32
from retrieval.knn_int8 import (
    TILE,
    Candidates,
    certify,
    default_extras,
    search_uncertified,
    widen,
)
from retrieval.knn_quant import QuantRows, quantize_rows
from retrieval.knn_scan import ColumnPass, RunningTopK, TileBounds, scan

Found = tuple[np.ndarray, np.ndarray, np.ndarray]  # (scores, ids, certified)
# x rows per block (one int8 scale, one work item; a multiple of GROUP), scanned one y
# tile at a time: square 2048 x 2048 products give both passes 2048-wide steps, so a y
# row's running top-k' takes 4x fewer merges than with 512-row blocks (about
# k' (1 + ln steps) entries: ~25 % fewer).
BLOCK = 2048
FINISH_ROWS = 4096  # y rows re-ranked per work item of the column side


def int8_knn_both(
    x: np.ndarray,
    y: np.ndarray,
    k_xy: int,
    k_yx: int,
    *,
    n_threads: int | None = None,
    extras: tuple[int, ...] | None = None,
) -> tuple[Found, Found]:
    """The k_xy largest inner products of every x row with y, and k_yx of every y with x.

    Args:
        x: (n_x, d) float rows (a memory map is read tile by tile).
        y: (n_y, d) float rows.
        k_xy: neighbours per x row, 1 <= k_xy <= n_y (validated by the caller).
        k_yx: neighbours per y row, 1 <= k_yx <= n_x.
        n_threads: worker threads; None = torch's intra-op thread count.
        extras: candidates kept beyond k on each side, per round: the first for the
            shared scan, the others for plain searches of the rows it did not certify
            (reusing both int8 copies); None: ``EXTRAS`` by d.

    Returns:
        ((scores, ids, certified) of x -> y, the same of y -> x): (n, k) float32 scores
        and int64 rows sorted by score descending then row ascending, and (n,) bool.
        Where ``certified`` is False the row must be searched again exactly.
    """
    extras = extras or default_extras(x.shape[1])
    qx, qy = quantize_rows(x, BLOCK, n_threads), quantize_rows(y, TILE, n_threads)
    workers = n_threads or torch.get_num_threads()
    kp_x, kp_y = min(k_xy + extras[0], qy.n), min(k_yx + extras[0], qx.n)
    cols = RunningTopK(qy.n_tiles * qy.tile, kp_y)
    locks = [threading.Lock() for _ in range(qy.n_tiles)]

    def block(b: int) -> Found:
        torch.set_num_threads(1)  # per worker thread; the caller's setting is untouched
        best = RunningTopK(qx.tile, kp_x)
        column = _column_pass(qx, qy, b, cols, locks)
        codes = qx.codes[b * qx.tile : (b + 1) * qx.tile]
        start = b * qy.n_tiles // workers  # concurrent blocks are consecutive: spread them
        bounds = _row_bounds(qx, qy, b)
        scan(codes, qx.real_rows(b), qy, bounds, best, column, group=1, first_group=start)
        mine = slice(b * qx.tile, b * qx.tile + qx.real_rows(b))
        found = Candidates.of(best, slice(0, qx.real_rows(b)), qy.rows, kp_x < qy.n)
        return certify(f32(x[qx.rows[mine]]), y, found, k_xy, qy.norm.max())

    def finish(lo: int) -> Found:  # the column side of y rows lo.. in tile order
        mine = slice(lo, min(lo + FINISH_ROWS, qy.n))
        found = Candidates.of(cols, mine, qx.rows, kp_y < qx.n)
        return certify(f32(y[qy.rows[mine]]), x, found, k_yx, qx.norm.max())

    with ThreadPoolExecutor(workers) as pool:
        forward = list(pool.map(block, range(qx.n_tiles)))
        backward = list(pool.map(finish, range(0, qy.n, FINISH_ROWS)))
    forward, backward = _in_caller_order(forward, qx.rows), _in_caller_order(backward, qy.rows)
    return (
        search_uncertified(x, (y, qy), k_xy, forward, extras[1:], n_threads),
        search_uncertified(y, (x, qx), k_yx, backward, extras[1:], n_threads),
    )


def _row_bounds(qx: QuantRows, qy: QuantRows, b: int) -> TileBounds:
    """x -> y bounds of block b per (x row, y tile): each x row with its own norms."""
    rows = slice(b * qx.tile, (b + 1) * qx.tile)
    inv = 1.0 / (qx.scale[b] * qy.scale)  # (tiles,)
    err = np.outer(qx.residual[rows], qy.tile_max(qy.norm))
    err += np.outer(qx.hat[rows], qy.tile_max(qy.residual))
    return TileBounds(np.tile(inv, (qx.tile, 1)), widen(err))


def _column_pass(
    qx: QuantRows, qy: QuantRows, b: int, cols: RunningTopK, locks: list[threading.Lock]
) -> ColumnPass:
    """y -> x bounds of block b: each y row with its own norms, the block's maxima of x's."""
    rows = slice(b * qx.tile, (b + 1) * qx.tile)
    inv = 1.0 / (qx.scale[b] * qy.scale)
    err = qx.residual[rows].max() * qy.norm + qx.hat[rows].max() * qy.residual
    return ColumnPass(cols, inv, widen(err), rows.start, locks)


def _in_caller_order(parts: list[Found], rows: np.ndarray) -> Found:
    """Concatenate per-block results (tile order) and put row ``rows[r]`` at its place."""
    out = []
    for tiled in (np.concatenate(p) for p in zip(*parts, strict=True)):
        placed = np.empty_like(tiled)
        placed[rows] = tiled
        out.append(placed)
    return out[0], out[1], out[2]
