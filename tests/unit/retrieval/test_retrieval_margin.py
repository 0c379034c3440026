"""retrieval.margin: LASER margin mining equals a brute-force loop over all pairs."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from retrieval import knn_int8, knn_mutual
from retrieval import margin as margin_module
from retrieval.knn import knn_both
from retrieval.margin import MODES, margin_names, mine_pairs_from_embeddings, register_margin

MARGINS = {
    "ratio": lambda cos, m: cos / m,
    "distance": lambda cos, m: cos - m,
    "absolute": lambda cos, m: cos,
}


def brute_force_mine(src, tgt, k, margin, mode):
    """Plain-Python loops over every (x, y) pair, following Artetxe & Schwenk (2019)."""
    unit = [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in src.tolist()]
    unit_t = [[v / math.sqrt(sum(u * u for u in row)) for v in row] for row in tgt.tolist()]
    cos = [[sum(a * b for a, b in zip(x, y, strict=True)) for y in unit_t] for x in unit]
    n, m = len(unit), len(unit_t)
    nn_x = [sorted(range(m), key=lambda j, i=i: -cos[i][j])[: min(k, m)] for i in range(n)]
    nn_y = [sorted(range(n), key=lambda i, j=j: -cos[i][j])[: min(k, n)] for j in range(m)]
    mean_x = [sum(cos[i][j] for j in nn_x[i]) / len(nn_x[i]) for i in range(n)]
    mean_y = [sum(cos[i][j] for i in nn_y[j]) / len(nn_y[j]) for j in range(m)]

    def score(i, j):
        return MARGINS[margin](cos[i][j], (mean_x[i] + mean_y[j]) / 2)

    fwd = [(i, max(nn_x[i], key=lambda j, i=i: score(i, j))) for i in range(n)]
    bwd = [(max(nn_y[j], key=lambda i, j=j: score(i, j)), j) for j in range(m)]
    if mode == "fwd":
        pairs = fwd
    elif mode == "bwd":
        pairs = bwd
    elif mode == "intersect":
        pairs = [p for p in fwd if p in bwd]
    else:
        pairs, used_i, used_j = [], set(), set()
        for i, j in sorted(fwd + bwd, key=lambda p: -score(*p)):
            if i not in used_i and j not in used_j:
                pairs.append((i, j))
                used_i.add(i)
                used_j.add(j)
    return sorted(((i, j, score(i, j)) for i, j in set(pairs)), key=lambda p: -p[2])


def canonical(pairs):
    return sorted(pairs, key=lambda p: (-round(p[2], 5), p[0], p[1]))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("margin", sorted(MARGINS))
@pytest.mark.parametrize(("n", "m", "k"), [(13, 11, 4), (6, 9, 1), (5, 3, 50)])
def test_mining_equals_brute_force(n: int, m: int, k: int, margin: str, mode: str) -> None:
    rng = np.random.default_rng(n * 100 + m)
    # Shared structure so that some pairs are real "translations" among distractors.
    base = rng.normal(size=(max(n, m), 8))
    src = base[:n] + 0.3 * rng.normal(size=(n, 8))
    tgt = base[:m] + 0.3 * rng.normal(size=(m, 8))
    got = mine_pairs_from_embeddings(src, tgt, k=k, margin=margin, mode=mode)
    want = brute_force_mine(src, tgt, k, margin, mode)
    assert [s for *_, s in got] == sorted((s for *_, s in got), reverse=True)
    # With k=1, mutual nearest neighbours all score exactly 1 (ratio) or 0 (distance);
    # such ties are ordered by rows, so compare in a float-noise-free canonical order.
    got, want = canonical(got), canonical(want)
    assert [(i, j) for i, j, _ in got] == [(i, j) for i, j, _ in want]
    np.testing.assert_allclose([s for *_, s in got], [s for *_, s in want], rtol=1e-5)
    assert all(isinstance(i, int) and isinstance(j, int) for i, j, _ in got)


@pytest.mark.parametrize(("backend", "device"), [("int8", None), ("torch", "cpu")])
@pytest.mark.parametrize("mode", ["max", "intersect"])
def test_mining_with_fast_backends_equals_brute_force(
    backend: str, device: str | None, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small int8 tiles so that 300 x 280 rows cross several query blocks and index tiles.
    monkeypatch.setattr(knn_int8, "QUERY_BLOCK", 64)
    monkeypatch.setattr(knn_mutual, "BLOCK", 64)
    for module in (knn_int8, knn_mutual):
        monkeypatch.setattr(module, "TILE", 128)
    monkeypatch.setattr(
        margin_module, "knn_both", functools.partial(knn_both, backend=backend, device=device)
    )
    rng = np.random.default_rng(12)
    base = rng.normal(size=(300, 16))
    src = base + 0.5 * rng.normal(size=(300, 16))
    tgt = base[:280] + 0.5 * rng.normal(size=(280, 16))
    got = canonical(mine_pairs_from_embeddings(src, tgt, k=4, mode=mode))
    want = canonical(brute_force_mine(src, tgt, 4, "ratio", mode))
    assert [(i, j) for i, j, _ in got] == [(i, j) for i, j, _ in want]
    np.testing.assert_allclose([s for *_, s in got], [s for *_, s in want], rtol=1e-5)


def test_max_mode_uses_each_sentence_once() -> None:
    rng = np.random.default_rng(5)
    src, tgt = rng.normal(size=(30, 8)), rng.normal(size=(20, 8))
    pairs = mine_pairs_from_embeddings(src, tgt)
    assert len({i for i, _, _ in pairs}) == len(pairs) == len({j for _, j, _ in pairs})
    assert [s for *_, s in pairs] == sorted((s for *_, s in pairs), reverse=True)


def test_registry_errors_name_the_value() -> None:
    src = np.eye(3)
    with pytest.raises(ValueError, match=r"'ratoi'.*\['absolute', 'distance', 'ratio'\]"):
        mine_pairs_from_embeddings(src, src, margin="ratoi")
    with pytest.raises(ValueError, match="did you mean"):
        mine_pairs_from_embeddings(src, src, margin="ratoi")
    with pytest.raises(ValueError, match="unknown mode 'union'"):
        mine_pairs_from_embeddings(src, src, mode="union")
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        mine_pairs_from_embeddings(src, src, k=0)
    with pytest.raises(ValueError, match="src dim 3 != tgt dim 4"):
        mine_pairs_from_embeddings(src, np.eye(4))


def test_register_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(margin_module, "_MARGINS", dict(margin_module._MARGINS))
    register_margin("negcos", lambda cos, m: -cos)
    assert "negcos" in margin_names()
    src = np.eye(3)
    worst = mine_pairs_from_embeddings(src, src, k=3, margin="negcos", mode="fwd")
    assert all(i != j for i, j, _ in worst)  # picks the least similar neighbour
    with pytest.raises(ValueError, match="'negcos' is already registered"):
        register_margin("negcos", lambda cos, m: cos)


def test_ratio_margin_on_zero_embeddings_raises() -> None:
    zeros = np.zeros((3, 4))
    with pytest.raises(ValueError, match="margin 'ratio' produced non-finite scores"):
        mine_pairs_from_embeddings(zeros, zeros)
    # The distance margin stays defined: cos 0 minus m 0.
    assert {s for *_, s in mine_pairs_from_embeddings(zeros, zeros, margin="distance")} == {0.0}
