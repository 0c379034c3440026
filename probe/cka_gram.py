"""Gram-space (n x n) pieces of CKA: centring, the RBF kernel, HSICs of Gram stacks.

The Gram form is needed for the RBF kernel, and is the cheaper linear form when n is
small next to the feature widths. An n x n float64 Gram takes 8 n^2 bytes (3.2 GB at
n = 20,000), so every Gram path checks its memory first and refuses with a ValueError
that points to the feature-space kinds, whose memory does not grow with n.

Grams are built as ``x @ x.T.copy()``, never ``x @ x.T``: numpy hands the latter to
OpenBLAS syrk, which kills the process with SIGSEGV for n of about 16,000 and more on
this project's AMD EPYC machines (issue 11); with two distinct buffers it is a GEMM.
"""

from __future__ import annotations

import os

import numpy as np

# Share of the available memory a Gram path may plan to use: the inputs, the BLAS
# buffers and the rest of the process need the remainder.
MEMORY_SHARE = 0.8


def gram(x: np.ndarray) -> np.ndarray:
    """(n, n) float64 x x' of (n, p) rows, without numpy's syrk path (see module doc)."""
    return x @ x.T.copy()


def available_bytes() -> int:
    """Memory the OS can still hand out (Linux MemAvailable), else the physical total."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_gram_memory(n: int, count: int, what: str) -> None:
    """Raise ValueError when ``count`` float64 (n, n) matrices would not fit in memory."""
    need, have = 8 * count * n * n, available_bytes()
    if need > MEMORY_SHARE * have:
        raise ValueError(
            f"{what} at n = {n} needs about {need / 2**30:.1f} GiB ({count} n x n float64 "
            f"Gram matrices) but {have / 2**30:.1f} GiB is available; use kind='linear' or "
            "kind='debiased' (feature space, memory independent of n)")


def center_in_place(g: np.ndarray, *, unbiased: bool) -> np.ndarray:
    """Centre a float64 (n, n) symmetric Gram in place and return it (see center_gram)."""
    n = g.shape[0]
    if unbiased:
        np.fill_diagonal(g, 0.0)
        means = g.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
    else:
        means = g.mean(axis=0)
        means -= means.mean() / 2
    g -= means[:, None]
    g -= means[None, :]
    if unbiased:
        np.fill_diagonal(g, 0.0)
    return g


def center_gram(gram: np.ndarray, *, unbiased: bool = False) -> np.ndarray:
    """Centre an (n, n) symmetric Gram matrix (returns a new float64 array).

    Biased: H K H with H = I - 11'/n. Unbiased (Song et al. 2012; Kornblith et al. 2019's
    form): zero the diagonal, subtract row/column means with the U-statistic correction and
    zero the diagonal again, so that <center(K), center(L)> = n(n-3) x unbiased HSIC.
    """
    return center_in_place(np.array(gram, dtype=np.float64), unbiased=unbiased)


def centre_columns(a: np.ndarray) -> np.ndarray:
    """Column-centre (n, p) float64: subtract the mean over items."""
    centred = a - a.mean(axis=-2, keepdims=True)
    # A constant column must centre to exact zeros: the rounded mean leaves ~1e-17 residue
    # that CKA's normalisation would blow up into an arbitrary value.
    return np.where(np.ptp(a, axis=-2, keepdims=True) == 0, 0.0, centred)


def rbf_gram(x: np.ndarray, *, sigma: float = 0.5) -> np.ndarray:
    """(n, n) RBF Gram exp(-d_ij^2 / (2 sigma^2 median(d^2))) of rows of x (n, p).

    The median runs over the full n x n squared-distance matrix including its zero
    diagonal, as in Kornblith et al. 2019. Peak memory: two n x n float64 arrays.
    """
    if not sigma > 0:
        raise ValueError(f"rbf sigma must be > 0; got {sigma}")
    xc = centre_columns(np.asarray(x, dtype=np.float64))  # shift-invariant; better rounding
    sq = np.einsum("ij,ij->i", xc, xc)
    d2 = gram(xc)  # becomes the squared distances in place
    d2 *= -2.0
    d2 += sq[:, None]
    d2 += sq[None, :]
    np.maximum(d2, 0.0, out=d2)  # rounding can dip below 0
    np.fill_diagonal(d2, 0.0)
    med = float(np.median(d2))
    if med <= 0:
        raise ValueError(f"rbf bandwidth undefined: median squared distance is 0 for {x.shape} "
                         "(at least half of the pairs coincide)")
    d2 *= -1.0 / (2.0 * sigma**2 * med)
    return np.exp(d2, out=d2)


def gram_hsic_parts(gram_a, gram_b, la: int, lb: int, *, debiased: bool, diagonal: bool):
    """(cross, self_a, self_b) unnormalised HSICs from per-layer (n, n) Grams.

    Args:
        gram_a, gram_b: layer index -> raw (n, n) float64 Gram of that layer of each stack;
            each is called once per layer and centred in place.
        la, lb: layer counts. debiased: unbiased centring. diagonal: pairs (l, l) only.

    Returns:
        cross (La, Lb), or (L,) when ``diagonal``; self_a (La,), self_b (Lb,). Holds La + 1
        centred Grams at a time (two when ``diagonal``).
    """
    def centred(make, layer):
        return center_in_place(make(layer), unbiased=debiased)

    if diagonal:
        terms = []
        for layer in range(la):
            ga, gb = centred(gram_a, layer), centred(gram_b, layer)
            terms.append((np.vdot(ga, gb), np.vdot(ga, ga), np.vdot(gb, gb)))
            del ga, gb
        return tuple(np.array(t) for t in zip(*terms, strict=True))
    grams_a = [centred(gram_a, layer) for layer in range(la)]
    self_a = np.array([np.vdot(g, g) for g in grams_a])
    cross, self_b = np.empty((la, lb)), np.empty(lb)
    for j in range(lb):
        gb = centred(gram_b, j)
        cross[:, j] = [np.vdot(g, gb) for g in grams_a]
        self_b[j] = np.vdot(gb, gb)
    return cross, self_a, self_b
