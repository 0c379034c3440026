"""int8 codes of float rows for the int8 k-NN scan, with what its error bounds need.

Rows are sorted by their largest |entry| into tiles of ``tile`` rows, each tile with one
scale, so that int32 scores are comparable within a tile (one affine map from int32 score
to bound per query and tile) while nearly every row gets the resolution of its own scale.
The index of a search is quantised this way; for margin mining both sides are.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from retrieval._common import row_chunks


@dataclass(frozen=True)
class QuantRows:
    """(n, d) rows in int8, tile by tile, plus per-row norms for the error bounds.

    Row r of ``codes`` (tile order) quantises the caller's row ``rows[r]`` as
    ``codes[r] / scale[r // tile]``. Per-row arrays are in tile order and zero on padding.
    """

    codes: torch.Tensor  # (tiles * tile, d) int8, padding rows zero
    rows: np.ndarray  # (n,) int64: tile order -> the caller's row numbers
    tile: int
    scale: np.ndarray  # (tiles,) float64
    norm: np.ndarray  # (tiles * tile,) float64: |y|
    hat: np.ndarray  # (tiles * tile,) float64: |codes / scale|
    residual: np.ndarray  # (tiles * tile,) float64: |y - codes / scale|

    @property
    def n(self) -> int:
        return len(self.rows)

    @property
    def n_tiles(self) -> int:
        return len(self.scale)

    def tile_max(self, per_row: np.ndarray) -> np.ndarray:
        """(tiles,) maximum of a per-row array over each tile."""
        return per_row.reshape(self.n_tiles, self.tile).max(axis=1)

    def real_rows(self, t: int) -> int:
        """Rows of tile t that are not padding."""
        return min(self.tile, self.n - t * self.tile)


def quantize_rows(x: np.ndarray, tile: int, n_threads: int | None = None) -> QuantRows:
    """Quantise (n, d) rows to int8, one scale per tile of ``tile`` rows with similar peaks.

    Args:
        x: (n, d) float rows (a memory map is read chunk by chunk, then tile by tile).
        tile: rows per tile.
        n_threads: worker threads; None = torch's intra-op thread count.
    """
    peaks = np.concatenate([np.abs(c).max(axis=1) for c in row_chunks(x)])
    order = np.argsort(-peaks, kind="stable")
    n, d = x.shape
    n_tiles = -(-n // tile)
    codes = np.zeros((n_tiles * tile, d), dtype=np.int8)
    rows = np.empty(n, dtype=np.int64)
    scale = np.ones(n_tiles)
    norm, hat, residual = (np.zeros(n_tiles * tile) for _ in range(3))

    def one_tile(t: int) -> None:  # writes disjoint slices: safe on worker threads
        members = np.sort(order[t * tile : (t + 1) * tile])  # ascending: memory-map locality
        y = np.asarray(x[members], dtype=np.float64)
        peak = float(peaks[members].max())
        scale[t] = 127.0 / peak if peak > 0 else 1.0
        part = slice(t * tile, t * tile + len(y))
        q, residual[part] = round_rows(y, np.full(len(y), scale[t]))
        codes[part] = q  # numpy: no OpenMP hand-off per tile
        rows[part] = members
        norm[part] = np.linalg.norm(y, axis=1)
        hat[part] = np.linalg.norm(q.astype(np.float64), axis=1) / scale[t]

    with ThreadPoolExecutor(n_threads or torch.get_num_threads()) as pool:
        list(pool.map(one_tile, range(n_tiles)))
    return QuantRows(torch.from_numpy(codes), rows, tile, scale, norm, hat, residual)


def round_rows(x: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes of float64 rows x (m, d) at per-row ``scale`` (m,), and |x - codes/scale|."""
    q = np.clip(np.rint(x * scale[:, None]), -127, 127)
    residual = np.linalg.norm(x - q / scale[:, None], axis=1)
    return q.astype(np.int8), residual
