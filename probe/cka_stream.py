"""Feature-space linear HSIC terms of two layer stacks, streamed in row chunks.

Linear CKA needs, per layer pair, ||B_j'A_i||_F^2 of the column-centred features and
each layer's ||A_i'A_i||_F^2 (Kornblith et al. 2019); the debiased variant (Nguyen et al.
2021, the unbiased HSIC of Song et al. 2012) adds terms built from the items' squared
row norms. With the layers side by side, A = [A_0 .. A_L] (n, La*da) and B likewise,
every cross term is the squared Frobenius norm of one (da, db) block of the single
product A'B: the whole grid costs one GEMM plus the per-layer self blocks.

The stacks may be numpy memory maps of (L, n, d) float16/float32: they are read in row
chunks, twice. Pass 1 takes the column means in float64 (and checks for NaN/inf); pass
2 subtracts them from each chunk and accumulates A'B in place. Centring before the
product, rather than Z'Z - n mu mu' afterwards, keeps float64 accuracy when the
features share a large offset. Memory is bounded by a chunk and the (La*da, Lb*db)
accumulator, not by n; when that accumulator would exceed ``CROSS_BYTES`` the layers
of ``a`` are split into groups, one pass each.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas

# Float64 chunk buffers of about this size keep the GEMM compute-bound (thousands of rows
# per chunk at d = 384) while staying small next to any machine's memory.
CHUNK_BYTES = 256 * 2**20
# Cap on the (La*da, Lb*db) cross accumulator: 13 x 384 layers need 200 MB; a 25 x 1024
# model would need 5 GB and is done in several passes instead.
CROSS_BYTES = 1 * 2**30
MIN_CHUNK_ROWS = 256


def debias(xty, rows, norms, n: int):
    """n(n-3) x the unbiased HSIC (Song et al. 2012) from column-centred linear features.

    ``xty`` = ||Y'X||_F^2, ``rows`` = dot product of the squared row norms of X and Y,
    ``norms`` = product of their sums: zeroing the Gram diagonals and the U-statistic
    correction reduce to these terms once features are centred (Kornblith et al. 2019 code).
    """
    return xty - n / (n - 2.0) * rows + norms / ((n - 1.0) * (n - 2.0))


def _chunks(n: int, width: int):
    step = max(MIN_CHUNK_ROWS, CHUNK_BYTES // (8 * width))
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


def column_centres(stack, name: str) -> np.ndarray:
    """Pass 1: (L, d) float64 column means of an (L, n, d) stack, read in row chunks.

    A constant column gets its own value as centre (not the rounded mean), so that it
    centres to exact zeros: ~1e-17 residue would be blown up by CKA's normalisation.

    Raises:
        ValueError: the stack holds NaN or inf (a float64 sum of finite float16/32
            values cannot overflow, so a non-finite column sum means a non-finite input).
    """
    n_layers, n, d = stack.shape
    sums = np.zeros((n_layers, d))
    lows = highs = None
    for lo, hi in _chunks(n, n_layers * d):
        chunk = np.asarray(stack[:, lo:hi])  # (L, c, d), native dtype
        sums += chunk.sum(axis=1, dtype=np.float64)
        c_lo, c_hi = chunk.min(axis=1), chunk.max(axis=1)
        lows = c_lo if lows is None else np.minimum(lows, c_lo)
        highs = c_hi if highs is None else np.maximum(highs, c_hi)
    if not np.all(np.isfinite(sums)):
        bad = sorted(set(np.nonzero(~np.isfinite(sums))[0].tolist()))
        raise ValueError(f"CKA input {name} of shape {stack.shape} has NaN or inf values "
                         f"(layers {bad})")
    return np.where(lows == highs, lows.astype(np.float64), sums / n)


def _centred_wide(stack, centres: np.ndarray, layers, lo: int, hi: int) -> np.ndarray:
    """(c, len(layers)*d) float64: rows lo:hi of the chosen layers, centred, side by side."""
    d = stack.shape[2]
    out = np.empty((hi - lo, len(layers) * d))
    for j, layer in enumerate(layers):
        np.subtract(stack[layer, lo:hi], centres[layer], out=out[:, j * d : (j + 1) * d])
    return out


def _row_norms(wide: np.ndarray, n_layers: int) -> np.ndarray:
    """(L, c) squared row norms of each layer's block of a (c, L*d) chunk."""
    blocks = wide.reshape(wide.shape[0], n_layers, -1)
    return np.einsum("cld,cld->lc", blocks, blocks)


def _layer_blocks(wide: np.ndarray, n_layers: int) -> list[np.ndarray]:
    """The (c, d) block of each layer in a (c, L*d) chunk (strided views, no copy)."""
    d = wide.shape[1] // n_layers
    return [wide[:, j * d : (j + 1) * d] for j in range(n_layers)]


def _add_self_blocks(acc: np.ndarray, wide: np.ndarray) -> None:
    """acc[l] += X_l'X_l for each layer's (c, d) block of a (c, L*d) chunk.

    Each block is copied out contiguous, twice: OpenBLAS packs a strided operand with a
    long leading dimension about 4x slower, and two distinct buffers keep numpy off
    syrk (chosen for x.T @ x on one buffer), which crashes on this project's AMD EPYC
    machines for large outputs (issue 11).
    """
    for layer, block in enumerate(_layer_blocks(wide, acc.shape[0])):
        block = np.ascontiguousarray(block)
        acc[layer] += block.T @ block.copy()


def _layer_groups(la: int, da: int, width_b: int) -> list[range]:
    per_group = max(1, CROSS_BYTES // (8 * da * width_b))
    return [range(lo, min(lo + per_group, la)) for lo in range(0, la, per_group)]


class _Sums:
    """Accumulators of pass 2 (self blocks, row-norm terms) for both stacks."""

    def __init__(self, a_shape: tuple, b_shape: tuple, *, debiased: bool, diagonal: bool):
        (la, _, da), (lb, _, db) = a_shape, b_shape
        self.debiased, self.diagonal = debiased, diagonal
        self.self_a, self.self_b = np.zeros((la, da, da)), np.zeros((lb, db, db))
        self.rows = np.zeros(la if diagonal else (la, lb))  # sum_i ra_i rb_i, pairs as cross
        self.sq_a, self.sq_b = np.zeros(la), np.zeros(lb)  # sum_i r_i^2
        self.sum_a, self.sum_b = np.zeros(la), np.zeros(lb)  # sum_i r_i

    def add(self, wa: np.ndarray, wb: np.ndarray) -> None:
        """Add one chunk: wa (c, La*da), wb (c, Lb*db), centred, layers side by side."""
        la, lb = self.self_a.shape[0], self.self_b.shape[0]
        _add_self_blocks(self.self_a, wa)
        _add_self_blocks(self.self_b, wb)
        if self.debiased:
            ra, rb = _row_norms(wa, la), _row_norms(wb, lb)
            self.rows += np.einsum("ic,ic->i", ra, rb) if self.diagonal else ra @ rb.T
            self.sq_a += np.einsum("lc,lc->l", ra, ra)
            self.sq_b += np.einsum("lc,lc->l", rb, rb)
            self.sum_a += ra.sum(axis=1)
            self.sum_b += rb.sum(axis=1)


def _cross_grid(a, b, ca, cb, sums: _Sums | None) -> np.ndarray:
    """(La, Lb) ||B_j'A_i||_F^2; fills ``sums`` during the first pass when given."""
    (la, n, da), (lb, _, db) = a.shape, b.shape
    cross = np.empty((la, lb))
    for group in _layer_groups(la, da, lb * db):
        acc = np.zeros((len(group) * da, lb * db), order="F")
        for lo, hi in _chunks(n, (len(group) * da + lb * db)):
            wa = _centred_wide(a, ca, group, lo, hi)
            wb = _centred_wide(b, cb, range(lb), lo, hi)
            # In-place A'B += (beta = 1) avoids a temporary as large as the accumulator.
            blas.dgemm(1.0, wa.T, wb.T, beta=1.0, c=acc, trans_b=1, overwrite_c=1)
            if sums is not None:
                sums.add(wa if len(group) == la else _centred_wide(a, ca, range(la), lo, hi),
                         wb)
        sums = None
        np.square(acc, out=acc)
        cross[group.start : group.stop] = acc.reshape(len(group), da, lb, db).sum(axis=(1, 3))
    return cross


def _cross_diagonal(a, b, ca, cb, sums: _Sums) -> np.ndarray:
    """(L,) ||B_l'A_l||_F^2 of same-layer pairs, with ``sums`` filled on the way.

    One 2-D GEMM per layer on contiguous copies (see :func:`_add_self_blocks`).
    """
    (la, n, da), db = a.shape, b.shape[2]
    acc = np.zeros((la, da, db))
    for lo, hi in _chunks(n, la * (da + db)):
        wa, wb = _centred_wide(a, ca, range(la), lo, hi), _centred_wide(b, cb, range(la), lo, hi)
        for layer, (xa, xb) in enumerate(zip(_layer_blocks(wa, la), _layer_blocks(wb, la),
                                             strict=True)):
            acc[layer] += np.ascontiguousarray(xa).T @ np.ascontiguousarray(xb)
        sums.add(wa, wb)
    return np.einsum("lij,lij->l", acc, acc)


def stack_hsic_parts(a, b, centres_a: np.ndarray, centres_b: np.ndarray, *, debiased: bool,
                     diagonal: bool):
    """Pass 2: unnormalised linear HSICs of two (L, n, d) stacks (arrays or memory maps).

    Args:
        a: (La, n, da) stack, any float dtype; b: (Lb, n, db), row i = the same item.
        centres_a, centres_b: (La, da), (Lb, db) from :func:`column_centres`.
        debiased: unbiased HSIC terms (n >= 4). diagonal: only pairs (l, l) (La == Lb).

    Returns:
        (cross, self_a (La,), self_b (Lb,)) float64, cross (La, Lb), or (L,) when
        ``diagonal``; all scaled by the same n-only factor ((n-1)^2 biased, n(n-3)
        debiased), so their CKA ratio is exact.
    """
    ca, cb = centres_a, centres_b
    sums = _Sums(a.shape, b.shape, debiased=debiased, diagonal=diagonal)
    if diagonal:
        cross = _cross_diagonal(a, b, ca, cb, sums)
    else:
        cross = _cross_grid(a, b, ca, cb, sums)
    self_a = np.einsum("lij,lij->l", sums.self_a, sums.self_a)
    self_b = np.einsum("lij,lij->l", sums.self_b, sums.self_b)
    if debiased:
        n = a.shape[1]
        norms = sums.sum_a * sums.sum_b if diagonal else np.outer(sums.sum_a, sums.sum_b)
        cross = debias(cross, sums.rows, norms, n)
        self_a = debias(self_a, sums.sq_a, sums.sum_a**2, n)
        self_b = debias(self_b, sums.sq_b, sums.sum_b**2, n)
    return cross, self_a, self_b
