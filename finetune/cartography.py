"""Dataset Cartography (Swayamdipta et al. 2020, "Dataset Cartography: Mapping and
Diagnosing Datasets with Training Dynamics", EMNLP): statistics, subsets and files.

The inputs are the training dynamics recorded by :mod:`finetune.dynamics` for any task
format: p(gold) and correctness in [0, 1] per example and epoch. Subsets are
label-stratified for formats with one label per example; QA and tagging examples have no
single label, so their subsets are drawn from all examples at once (``labels=None``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from finetune.dynamics import atomic_write, load_dynamics

SUBSETS = ("easy", "hard", "ambiguous")
TABLE_COLUMNS = ("id", "label", "confidence", "variability", "correctness", "subset")


def _check_dynamics(probs: npt.ArrayLike, correct: npt.ArrayLike) -> tuple[np.ndarray, ...]:
    probs = np.asarray(probs, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if probs.ndim != 2 or probs.shape != correct.shape or probs.shape[1] < 1:
        raise ValueError(
            f"dynamics must be two (n_examples, n_epochs>=1) arrays of one shape, "
            f"got probs {probs.shape} and correct {correct.shape}"
        )
    return probs, correct


def cartography_stats(probs: npt.ArrayLike, correct: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Per-example confidence, variability and correctness (Swayamdipta et al. 2020, Sec. 2).

    Args:
        probs: (n, E) p_gold of each example at each of E epochs.
        correct: (n, E) correctness in [0, 1] at each epoch (bool for one-label formats).

    Returns:
        ``confidence`` (n,) mean_e p_e; ``variability`` (n,) *population* std of p_e
        (ddof=0, as in the paper's definition); ``correctness`` (n,) mean correctness over
        epochs (the fraction of epochs correct for one-label formats). All float64.
    """
    probs, correct = _check_dynamics(probs, correct)
    return {
        "confidence": probs.mean(axis=1),
        "variability": probs.std(axis=1, ddof=0),
        "correctness": correct.mean(axis=1),
    }


def label_quotas(labels: np.ndarray, total: int, *, parts: int = 1) -> dict:
    """Examples per label so that ``total`` keeps the label distribution (largest remainder).

    Exact quotas count * total / n are compared in integers (count * total mod n), so tied
    remainders really tie and go to the smaller label value. No label gives more than
    ``count // parts`` examples, so that ``parts`` disjoint subsets of these quotas fit in
    it (easy, hard and ambiguous: 3): a rare label's share moves to the labels with room.
    If no label has room left, the quotas sum to less than ``total``.
    """
    values, counts = np.unique(labels, return_counts=True)
    n = len(labels)
    limit = counts // parts
    quota = np.minimum(counts * total // n, limit)
    remainder = counts * total % n
    order = np.lexsort((np.arange(len(values)), -remainder))  # values are sorted already
    left = total - int(quota.sum())
    while left > 0:
        room = [i for i in order if quota[i] < limit[i]][:left]
        if not room:
            break
        quota[room] += 1
        left -= len(room)
    return dict(zip(values.tolist(), quota.tolist(), strict=True))


def strata(labels: npt.ArrayLike | None, n: int, total: int, *,
           parts: int = 1) -> list[tuple[np.ndarray, int]]:
    """(rows, quota) per label so that ``total`` picks keep the label distribution.

    ``labels=None`` (QA, tagging: no single label per example) gives one stratum of all n.
    ``parts``: see :func:`label_quotas`.
    """
    if labels is None:
        return [(np.arange(n), min(total, n // parts))]
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"labels must be ({n},) like the scores, got shape {labels.shape}")
    return [(np.flatnonzero(labels == label), k)
            for label, k in label_quotas(labels, total, parts=parts).items()]


def subset_parts(fraction: float) -> int:
    """How many disjoint subsets of ``fraction`` each label must hold: easy, hard and
    ambiguous (or the random control of the same quotas) are three, fewer only when a
    larger fraction leaves no room for three."""
    return max(1, min(3, int(1 / fraction + 1e-9)))


def check_finite(values: np.ndarray, name: str) -> None:
    """ValueError naming the first non-finite entry (an example without dynamics)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        raise ValueError(f"{name}[{bad[0]}] is {values[bad[0]]} ({len(bad)} non-finite): those "
                         "examples have no dynamics (never trained on, or no labelled token); "
                         "leave them out before selecting")


def select_subsets(
    stats: dict[str, np.ndarray], labels: npt.ArrayLike | None, *, fraction: float = 0.33
) -> dict[str, np.ndarray]:
    """Easy-to-learn, hard-to-learn and ambiguous subsets of equal size, label-stratified.

    Within every label: easy = highest confidence, hard = lowest confidence, ambiguous =
    highest variability among the examples in neither (so the three are disjoint and
    comparable; the paper's regions may overlap). Ties keep the lower index in front of
    the ranking (so it is picked for easy / ambiguous, left for hard). Each subset
    has ``floor(fraction * n)`` examples with the same label distribution as the data.

    Args:
        stats: output of :func:`cartography_stats` for n examples (finite).
        labels: (n,) gold label per example, or None for no stratification (QA, tagging).
        fraction: subset size relative to n, in (0, 1/3] (the paper uses 33%).

    Returns:
        ``{"easy", "hard", "ambiguous"}`` -> sorted int64 row indices.
    """
    conf, var = np.asarray(stats["confidence"]), np.asarray(stats["variability"])
    n = len(conf)
    if not 0 < fraction <= 1 / 3 + 1e-9:
        raise ValueError(f"fraction must be in (0, 1/3] for disjoint subsets, got {fraction}")
    check_finite(conf, "confidence")
    check_finite(var, "variability")
    picked: dict[str, list[int]] = {name: [] for name in SUBSETS}
    for rows, k in strata(labels, n, int(fraction * n), parts=subset_parts(fraction)):
        by_conf = rows[np.lexsort((rows, -conf[rows]))]  # most confident first
        easy, hard = by_conf[:k], by_conf[len(by_conf) - k :] if k else by_conf[:0]
        rest = np.setdiff1d(rows, np.concatenate([easy, hard]))
        ambiguous = rest[np.lexsort((rest, -var[rest]))][:k]
        for name, chosen in zip(SUBSETS, (easy, hard, ambiguous), strict=True):
            picked[name] += chosen.tolist()
    return {name: np.sort(np.asarray(rows, dtype=np.int64)) for name, rows in picked.items()}


def cartography_table(
    ids: Sequence, labels: Sequence | None, stats: dict[str, np.ndarray],
    subsets: dict[str, np.ndarray],
) -> list[dict]:
    """Rows for the cartography map: id, label, confidence, variability, correctness, subset.

    ``label`` is "" when ``labels`` is None (QA, tagging); ``subset`` is "easy" / "hard" /
    "ambiguous", or "" for examples in none.
    """
    member = {int(i): name for name, rows in subsets.items() for i in rows}
    return [
        {
            "id": ids[i],
            "label": labels[i] if labels is not None else "",
            "confidence": float(stats["confidence"][i]),
            "variability": float(stats["variability"][i]),
            "correctness": float(stats["correctness"][i]),
            "subset": member.get(i, ""),
        }
        for i in range(len(ids))
    ]


def write_table(rows: list[dict], path: str | Path) -> None:
    """Write cartography rows as CSV (atomically)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(Path(path), lambda f: f.write(buf.getvalue().encode()))


def save_selection(
    path: str | Path, ids: Sequence, subsets: dict[str, np.ndarray], meta: dict | None = None,
    *, stats: dict[str, np.ndarray] | None = None, labels: Sequence | None = None,
) -> None:
    """Save the selected example ids per subset plus statistics as JSON (atomically).

    With ``stats`` each subset also gets its mean confidence / variability / correctness;
    with ``labels`` its label counts.
    """
    summary = {}
    for name, rows in subsets.items():
        entry: dict = {"size": len(rows)}
        if stats is not None and len(rows):
            entry.update({key: float(np.mean(values[rows])) for key, values in stats.items()})
        if labels is not None:
            values, counts = np.unique([str(labels[i]) for i in rows], return_counts=True)
            entry["labels"] = dict(zip(values.tolist(), counts.tolist(), strict=True))
        summary[name] = entry
    data = {
        "subsets": {name: [ids[i] for i in rows] for name, rows in subsets.items()},
        "statistics": summary,
        "n_examples": len(ids),
        **(meta or {}),
    }
    text = json.dumps(data, indent=2, sort_keys=True, default=str)
    atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_cartography(run_dir: str | Path, examples: Sequence[dict], *,
                      fraction: float = 0.33) -> dict[str, np.ndarray]:
    """From a run's saved dynamics: ``cartography.csv`` (the map) and ``selection.json``.

    Args:
        run_dir: the ``out_dir`` of a training run with ``record_dynamics=True``.
        examples: the training examples (rows = ``example_index``) with "id"; subsets are
            stratified by "label" when every example has one (not QA or tagging).
        fraction: subset size (see :func:`select_subsets`).

    Returns:
        The subsets (row indices into ``examples``).
    """
    run_dir = Path(run_dir)
    probs, correct, meta = load_dynamics(run_dir)
    if len(probs) != len(examples):
        raise ValueError(f"{run_dir}: dynamics cover {len(probs)} examples, got "
                         f"{len(examples)} examples")
    ids = [ex.get("id", i) for i, ex in enumerate(examples)]
    labels = [ex["label"] for ex in examples] if all("label" in ex for ex in examples) else None
    stats = cartography_stats(probs, correct)
    subsets = select_subsets(stats, labels, fraction=fraction)
    write_table(cartography_table(ids, labels, stats, subsets), run_dir / "cartography.csv")
    save_selection(run_dir / "selection.json", ids, subsets,
                   {"fraction": fraction, "n_epochs": meta.get("n_epochs")},
                   stats=stats, labels=labels)
    return subsets
