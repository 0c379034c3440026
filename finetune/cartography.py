"""Dataset Cartography (Swayamdipta et al. 2020, "Dataset Cartography: Mapping and
Diagnosing Datasets with Training Dynamics", EMNLP).

Training dynamics are p_gold (softmax probability of the gold label) and correctness per
training example at every epoch, taken from the *training* forward pass (dropout on,
parameters moving). On disk (written by :func:`finetune.trainer.train` with
``record_dynamics=True``): ``dynamics_probs.npy`` (n_examples, n_epochs) float32,
``dynamics_correct.npy`` (n_examples, n_epochs) bool, ``dynamics.json`` metadata. Row i is
``example_index`` i; rows of examples never trained on hold NaN / False.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

SUBSETS = ("easy", "hard", "ambiguous")
TABLE_COLUMNS = ("id", "label", "confidence", "variability", "correctness", "subset")


def _check_dynamics(probs: npt.ArrayLike, correct: npt.ArrayLike) -> tuple[np.ndarray, ...]:
    probs = np.asarray(probs, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
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
        correct: (n, E) bool, argmax == gold at each epoch.

    Returns:
        ``confidence`` (n,) mean_e p_e; ``variability`` (n,) *population* std of p_e
        (ddof=0, as in the paper's definition); ``correctness`` (n,) fraction of epochs
        correct. All float64.
    """
    probs, correct = _check_dynamics(probs, correct)
    return {
        "confidence": probs.mean(axis=1),
        "variability": probs.std(axis=1, ddof=0),
        "correctness": correct.mean(axis=1),
    }


def label_quotas(labels: np.ndarray, total: int) -> dict:
    """Examples per label so that ``total`` keeps the label distribution (largest remainder)."""
    values, counts = np.unique(labels, return_counts=True)
    exact = counts * total / len(labels)
    quota = np.floor(exact).astype(int)
    # hand the remaining slots to the largest remainders; ties go to the smaller label value
    order = np.lexsort((values, -(exact - quota)))
    quota[order[: total - quota.sum()]] += 1
    return dict(zip(values.tolist(), quota.tolist(), strict=True))


def select_subsets(
    stats: dict[str, np.ndarray], labels: npt.ArrayLike, *, fraction: float = 0.33
) -> dict[str, np.ndarray]:
    """Easy-to-learn, hard-to-learn and ambiguous subsets of equal size, label-stratified.

    Within every label: easy = highest confidence, hard = lowest confidence, ambiguous =
    highest variability among the examples in neither (so the three are disjoint and
    comparable; the paper's regions may overlap). Ties keep the lower index in front of
    the ranking (so it is picked for easy / ambiguous, left for hard). Each subset
    has ``floor(fraction * n)`` examples with the same label distribution as the data.

    Args:
        stats: output of :func:`cartography_stats` for n examples.
        labels: (n,) gold label per example.
        fraction: subset size relative to n, in (0, 1/3] (the paper uses 33%).

    Returns:
        ``{"easy", "hard", "ambiguous"}`` -> sorted int64 row indices.
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not 0 < fraction <= 1 / 3 + 1e-9:
        raise ValueError(f"fraction must be in (0, 1/3] for disjoint subsets, got {fraction}")
    if len(stats["confidence"]) != n:
        raise ValueError(f"labels has {n} entries, stats {len(stats['confidence'])}")
    picked: dict[str, list[int]] = {name: [] for name in SUBSETS}
    for label, k in label_quotas(labels, int(fraction * n)).items():
        rows = np.flatnonzero(labels == label)
        by_conf = rows[np.lexsort((rows, -stats["confidence"][rows]))]  # most confident first
        easy, hard = by_conf[:k], by_conf[len(by_conf) - k :] if k else by_conf[:0]
        rest = np.setdiff1d(rows, np.concatenate([easy, hard]))
        ambiguous = rest[np.lexsort((rest, -stats["variability"][rest]))][:k]
        for name, chosen in zip(SUBSETS, (easy, hard, ambiguous), strict=True):
            picked[name] += chosen.tolist()
    return {name: np.sort(np.asarray(rows, dtype=np.int64)) for name, rows in picked.items()}


def cartography_table(
    ids: Sequence, labels: Sequence, stats: dict[str, np.ndarray], subsets: dict[str, np.ndarray]
) -> list[dict]:
    """Rows for the cartography map: id, label, confidence, variability, correctness, subset.

    ``subset`` is "easy" / "hard" / "ambiguous", or "" for examples in none.
    """
    member = {int(i): name for name, rows in subsets.items() for i in rows}
    return [
        {
            "id": ids[i],
            "label": labels[i],
            "confidence": float(stats["confidence"][i]),
            "variability": float(stats["variability"][i]),
            "correctness": float(stats["correctness"][i]),
            "subset": member.get(i, ""),
        }
        for i in range(len(ids))
    ]


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


def write_table(rows: list[dict], path: str | Path) -> None:
    """Write cartography rows as CSV (atomically)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TABLE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _atomic_write(Path(path), lambda f: f.write(buf.getvalue().encode()))


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
    _atomic_write(Path(path), lambda f: f.write(text.encode()))


def write_cartography(run_dir: str | Path, examples: Sequence[dict], *,
                      fraction: float = 0.33) -> dict[str, np.ndarray]:
    """From a run's saved dynamics: ``cartography.csv`` (the map) and ``selection.json``.

    Args:
        run_dir: the ``out_dir`` of a training run with ``record_dynamics=True``.
        examples: the training examples (rows = ``example_index``) with "id" and "label".
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
    labels = [ex["label"] for ex in examples]
    stats = cartography_stats(probs, correct)
    subsets = select_subsets(stats, np.asarray(labels), fraction=fraction)
    write_table(cartography_table(ids, labels, stats, subsets), run_dir / "cartography.csv")
    save_selection(run_dir / "selection.json", ids, subsets,
                   {"fraction": fraction, "n_epochs": meta.get("n_epochs")},
                   stats=stats, labels=labels)
    return subsets


def save_dynamics(out_dir: str | Path, probs: np.ndarray, correct: np.ndarray, meta: dict) -> Path:
    """Write the three dynamics files into ``out_dir``; returns the JSON path."""
    out_dir = Path(out_dir)
    _check_dynamics(np.nan_to_num(probs), correct)
    _atomic_write(out_dir / "dynamics_probs.npy", lambda f: np.save(f, probs.astype(np.float32)))
    _atomic_write(out_dir / "dynamics_correct.npy", lambda f: np.save(f, correct.astype(bool)))
    meta = {**meta, "shape": list(probs.shape)}
    text = json.dumps(meta, indent=2, sort_keys=True)
    _atomic_write(out_dir / "dynamics.json", lambda f: f.write(text.encode()))
    return out_dir / "dynamics.json"


def load_dynamics(out_dir: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Read (probs (n, E) float32, correct (n, E) bool, metadata) saved by training."""
    out_dir = Path(out_dir)
    meta_path = out_dir / "dynamics.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: no training dynamics (train with record_dynamics)")
    probs = np.load(out_dir / "dynamics_probs.npy", allow_pickle=False)
    correct = np.load(out_dir / "dynamics_correct.npy", allow_pickle=False)
    _check_dynamics(np.nan_to_num(probs), correct)
    return probs, correct, json.loads(meta_path.read_text())


class DynamicsRecorder:
    """Collects p_gold and correctness per (example_index, epoch) during training.

    Arrays hold *sums* plus a ``seen`` count, so the partial records of several ranks (or a
    resumed run) combine by addition; :meth:`finalize` turns them into the saved form.

    Args:
        example_index: (n_features,) example row of each training feature.
        n_epochs: epochs the run will start.
    """

    def __init__(self, example_index: Sequence[int], n_epochs: int):
        if len(example_index) == 0:
            raise ValueError("record_dynamics needs at least one feature")
        self.present = np.unique(np.asarray(example_index, dtype=np.int64))
        n = int(self.present[-1]) + 1
        self.probs = np.zeros((n, n_epochs), dtype=np.float64)
        self.correct = np.zeros((n, n_epochs), dtype=np.int64)
        self.seen = np.zeros((n, n_epochs), dtype=np.int64)

    def record(self, epoch: int, example_index: np.ndarray, p_gold: np.ndarray,
               correct: np.ndarray) -> None:
        """Add one batch: (B,) example rows, (B,) p_gold, (B,) bool correctness."""
        np.add.at(self.probs[:, epoch], example_index, p_gold)
        np.add.at(self.correct[:, epoch], example_index, correct.astype(np.int64))
        np.add.at(self.seen[:, epoch], example_index, 1)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.probs, self.correct, self.seen

    def save_raw(self, folder: Path, arrays: tuple[np.ndarray, ...]) -> None:
        """Store (summed) arrays in a checkpoint folder."""
        for name, arr in zip(("probs", "correct", "seen"), arrays, strict=True):
            _atomic_write(Path(folder) / f"dynamics_raw_{name}.npy", lambda f, a=arr: np.save(f, a))

    def load_raw(self, folder: Path, *, keep: bool = True) -> None:
        """Restore from a checkpoint; ``keep=False`` (non-main ranks) starts from zeros so the
        sum over ranks counts the restored part once."""
        for name in ("probs", "correct", "seen"):
            path = Path(folder) / f"dynamics_raw_{name}.npy"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: checkpoint lacks training dynamics")
            arr = np.load(path, allow_pickle=False)
            getattr(self, name)[...] = arr if keep else 0

    def finalize(self, arrays: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, int]:
        """(probs (n, E') float32 with NaN for absent rows, correct (n, E') bool, E').

        Only epochs in which every present example was seen are kept (E' <= E), so a run
        stopped by max_steps mid-epoch does not bias the statistics. A feature seen twice in
        an epoch (e.g. several features per example) contributes its mean.
        """
        probs, correct, seen = arrays
        complete = [e for e in range(seen.shape[1]) if (seen[self.present, e] > 0).all()]
        count = np.maximum(seen[:, complete], 1)
        p = (probs[:, complete] / count).astype(np.float32)
        c = correct[:, complete] * 2 >= count  # majority of the example's features correct
        absent = np.setdiff1d(np.arange(len(p)), self.present)
        p[absent] = np.nan
        c[absent] = False
        return p, c, len(complete)
