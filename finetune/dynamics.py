"""Training dynamics for every task format: per-feature signals, the recorder, the files.

For each training feature, the *training* forward pass (dropout on, parameters moving)
gives three signals (:func:`batch_signals`):

- ``probs``: the probability of the gold output.
  single / pair / multiple_choice: softmax(logits)[gold];
  tagging: the mean over labelled tokens (labels != -100) of the gold tag's probability;
  qa: p(gold span) = softmax(start)[gold_start] * softmax(end)[gold_end] over the
  feature's window (its attention mask; batch padding is left out). A window without the
  answer, and an unanswerable question, has the gold span (0, 0) = the <s> token, which
  is what training targets.
- ``correct``: in [0, 1]. One-label formats: argmax == gold; tagging: the fraction of
  labelled tokens whose argmax is the gold tag (token accuracy); qa: both argmaxes equal
  the gold positions.
- ``margins``: the gold logit minus the largest other logit (Pleiss et al. 2020, AUM);
  tagging: its mean over labelled tokens; qa: the mean of the start and the end margin.

An example with several features (QA windows) gets the mean of its features per epoch.
A tagging feature without a labelled token gets NaN (nothing of it is trained).

On disk (written by :func:`finetune.trainer.train` with ``record_dynamics=True``):
``dynamics_probs.npy``, ``dynamics_correct.npy``, ``dynamics_margins.npy`` (each
(n_examples, n_epochs) float32) and ``dynamics.json`` metadata. Row i is
``example_index`` i; rows of examples never trained on hold NaN.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

IGNORE_INDEX = -100  # label of positions without a gold tag (finetune.features)
SIGNALS = ("probs", "correct", "margins")


@dataclass(frozen=True)
class Dynamics:
    """What example-difficulty scorers read; every field is optional, all have n rows.

    Attributes:
        probs: (n, E) p(gold) per example and epoch of a training run.
        correct: (n, E) correctness in [0, 1] per example and epoch.
        margins: (n, E) gold logit minus the largest other logit (AUM's margin).
        p_input: (n,) final p(gold) of a model trained on the inputs (PVI's p_x).
        p_null: (n,) final p(gold) of a model trained on null inputs (PVI's p_null).
    """

    probs: np.ndarray | None = None
    correct: np.ndarray | None = None
    margins: np.ndarray | None = None
    p_input: np.ndarray | None = None
    p_null: np.ndarray | None = None

    def __post_init__(self) -> None:
        shapes = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            arr = np.asarray(value, dtype=np.float64)
            ndim = 1 if f.name.startswith("p_") else 2
            if arr.ndim != ndim or (ndim == 2 and arr.shape[1] < 1):
                want = "(n,)" if ndim == 1 else "(n, E>=1)"
                raise ValueError(f"Dynamics.{f.name} must be {want}, got shape {arr.shape}")
            object.__setattr__(self, f.name, arr)
            shapes[f.name] = arr.shape
        if not shapes:
            raise ValueError("Dynamics needs at least one array")
        if len({s[0] for s in shapes.values()}) > 1 or \
                len({s for s in shapes.values() if len(s) == 2}) > 1:
            raise ValueError(f"Dynamics arrays disagree in shape: {shapes}")

    @property
    def n(self) -> int:
        """Number of examples."""
        return next(len(v) for f in fields(self) if (v := getattr(self, f.name)) is not None)

    def need(self, *names: str, by: str) -> tuple[np.ndarray, ...]:
        """The arrays ``names``; a ValueError saying that ``by`` needs them when one is None."""
        missing = [name for name in names if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{by} needs Dynamics.{' and Dynamics.'.join(missing)}, "
                             "which this record lacks")
        return tuple(getattr(self, name) for name in names)


def _position_signals(logits: torch.Tensor, gold: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """p(gold), margin and argmax == gold along the last axis; logits (..., K), gold (...)."""
    gold = gold[..., None]
    gold_logit = logits.gather(-1, gold)[..., 0]
    p_gold = torch.log_softmax(logits, dim=-1).gather(-1, gold)[..., 0].exp()
    other = logits.scatter(-1, gold, float("-inf")).amax(dim=-1)
    return p_gold, gold_logit - other, logits.argmax(dim=-1) == gold[..., 0]


@torch.no_grad()
def label_signals(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, np.ndarray]:
    """Signals of classification / multiple-choice or tagging features.

    Args:
        logits: (B, C) class or choice scores, or (B, T, K) tag scores.
        labels: (B,) gold ids, or (B, T) gold tags with -100 on unlabelled positions.

    Returns:
        ``probs``, ``correct``, ``margins``: (B,) float64 each (tagging: means over the
        labelled tokens; NaN for a feature without any).
    """
    if labels.dim() not in (1, 2) or logits.dim() != labels.dim() + 1 or \
            logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not fit labels "
                         f"{tuple(labels.shape)}: expected (B, C) + (B,) or (B, T, K) + (B, T)")
    logits = logits.detach().float()
    if labels.dim() == 1:  # one label per feature: a tagging batch of one token each
        logits, labels = logits[:, None], labels[:, None]
    labelled = labels != IGNORE_INDEX  # (B, T)
    p_gold, margin, correct = _position_signals(logits, labels.clamp_min(0))
    count = labelled.sum(dim=1).double()  # 0/0 -> NaN for a feature without labels

    def mean(x: torch.Tensor) -> np.ndarray:
        return (torch.where(labelled, x.double(), 0.0).sum(dim=1) / count).cpu().numpy()

    return {"probs": mean(p_gold), "correct": mean(correct), "margins": mean(margin)}


@torch.no_grad()
def span_signals(start_logits: torch.Tensor, end_logits: torch.Tensor,
                 start_positions: torch.Tensor, end_positions: torch.Tensor,
                 window: torch.Tensor) -> dict[str, np.ndarray]:
    """Signals of extractive-QA features: the gold span's probability, margin, correctness.

    Args:
        start_logits, end_logits: (B, T).
        start_positions, end_positions: (B,) gold token positions ((0, 0) = no answer here).
        window: (B, T) bool, True on the feature's own tokens (the attention mask).

    Returns:
        ``probs`` = p_start * p_end, ``correct`` = both argmaxes right, ``margins`` = mean
        of the start and end margins; (B,) float64 each.
    """
    if start_logits.shape != end_logits.shape or start_logits.shape != window.shape:
        raise ValueError(f"start {tuple(start_logits.shape)}, end {tuple(end_logits.shape)} "
                         f"and window {tuple(window.shape)} logits must be one (B, T) shape")
    out = []
    for logits, gold in ((start_logits, start_positions), (end_logits, end_positions)):
        # positions outside the window can neither be predicted nor take probability mass
        masked = logits.detach().float().masked_fill(~window.bool(), float("-inf"))
        out.append(_position_signals(masked, gold.to(masked.device)))
    (p_s, m_s, c_s), (p_e, m_e, c_e) = out
    as_numpy = lambda x: x.double().cpu().numpy()  # noqa: E731
    return {"probs": as_numpy(p_s * p_e), "correct": as_numpy(c_s & c_e),
            "margins": as_numpy((m_s + m_e) / 2)}


def batch_signals(outputs, batch: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Per-feature signals of one forward pass, for any format (see the module docstring).

    Args:
        outputs: the model output (``logits``, or ``start_logits`` / ``end_logits``).
        batch: the model inputs: ``labels``, or QA's ``start_positions`` /
            ``end_positions`` and ``attention_mask``.

    Returns:
        ``probs``, ``correct``, ``margins``: (B,) float64 each.
    """
    if "start_positions" in batch:
        return span_signals(outputs.start_logits, outputs.end_logits, batch["start_positions"],
                            batch["end_positions"], batch["attention_mask"].bool())
    if batch.get("labels") is None:
        raise ValueError("training dynamics need 'labels' or QA 'start_positions' / "
                         f"'end_positions' in the batch; got keys {sorted(batch)}")
    return label_signals(outputs.logits, batch["labels"])


class DynamicsRecorder:
    """Collects the signals per (example_index, epoch) during training.

    Arrays hold *sums* plus a ``seen`` count, so the partial records of several ranks (or a
    resumed run) combine by addition; :meth:`finalize` turns them into means.

    Args:
        example_index: (n_features,) example row of each training feature.
        n_epochs: epochs the run will start.
    """

    def __init__(self, example_index: Sequence[int], n_epochs: int):
        if len(example_index) == 0:
            raise ValueError("record_dynamics needs at least one feature")
        self.present = np.unique(np.asarray(example_index, dtype=np.int64))
        shape = (int(self.present[-1]) + 1, n_epochs)
        self.sums = {name: np.zeros(shape, dtype=np.float64) for name in SIGNALS}
        self.seen = np.zeros(shape, dtype=np.int64)

    def record(self, epoch: int, example_index, signals: Mapping[str, np.ndarray]) -> None:
        """Add one batch: (B,) example rows and :func:`batch_signals`' (B,) arrays."""
        if example_index is None:
            raise ValueError("record_dynamics needs an 'example_index' per feature")
        rows = np.asarray(example_index, dtype=np.int64)
        for name in SIGNALS:
            np.add.at(self.sums[name][:, epoch], rows, signals[name])
        np.add.at(self.seen[:, epoch], rows, 1)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """(probs, correct, margins sums, seen): what ranks sum and checkpoints store."""
        return (*(self.sums[name] for name in SIGNALS), self.seen)

    def save_raw(self, folder: Path, arrays: tuple[np.ndarray, ...]) -> None:
        """Store (summed) arrays in a checkpoint folder."""
        for name, arr in zip((*SIGNALS, "seen"), arrays, strict=True):
            atomic_write(Path(folder) / f"dynamics_raw_{name}.npy", lambda f, a=arr: np.save(f, a))

    def load_raw(self, folder: Path, *, keep: bool = True) -> None:
        """Restore from a checkpoint; ``keep=False`` (non-main ranks) starts from zeros so the
        sum over ranks counts the restored part once."""
        for name, target in zip((*SIGNALS, "seen"), self.arrays(), strict=True):
            path = Path(folder) / f"dynamics_raw_{name}.npy"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: checkpoint lacks training dynamics")
            target[...] = np.load(path, allow_pickle=False) if keep else 0

    def finalize(self, arrays: tuple[np.ndarray, ...]) -> tuple[Dynamics, int]:
        """(Dynamics of (n, E') means with NaN rows for absent examples, E').

        Only epochs in which every present example was seen are kept (E' <= E), so a run
        stopped by max_steps mid-epoch does not bias the statistics. An example with
        several features in an epoch gets their mean.
        """
        *sums, seen = arrays
        complete = [e for e in range(seen.shape[1]) if (seen[self.present, e] > 0).all()]
        count = np.maximum(seen[:, complete], 1)
        absent = np.setdiff1d(np.arange(len(seen)), self.present)
        means = {}
        for name, total in zip(SIGNALS, sums, strict=True):
            means[name] = total[:, complete] / count
            means[name][absent] = np.nan
        return Dynamics(**means), len(complete)


def atomic_write(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary sibling of ``path``, then rename it into place."""
    from finetune.checkpoint import atomic_file

    with atomic_file(path) as tmp, open(tmp, "wb") as f:
        write(f)


def save_dynamics(out_dir: str | Path, dynamics: Dynamics, meta: dict) -> Path:
    """Write the (n, E) signals as float32 .npy files and ``dynamics.json`` (last).

    Returns:
        The JSON path; its presence marks a complete record.
    """
    out_dir = Path(out_dir)
    arrays = dynamics.need(*SIGNALS, by="save_dynamics")
    for name, arr in zip(SIGNALS, arrays, strict=True):
        atomic_write(out_dir / f"dynamics_{name}.npy",
                     lambda f, a=arr: np.save(f, a.astype(np.float32)))
    text = json.dumps({**meta, "shape": list(arrays[0].shape)}, indent=2, sort_keys=True)
    atomic_write(out_dir / "dynamics.json", lambda f: f.write(text.encode()))
    return out_dir / "dynamics.json"


def read_dynamics(out_dir: str | Path) -> tuple[Dynamics, dict]:
    """The saved :class:`Dynamics` (probs, correct, margins) of a run and its metadata.

    A record written before margins were saved loads with ``margins=None``.
    """
    out_dir = Path(out_dir)
    meta_path = out_dir / "dynamics.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: no training dynamics (train with record_dynamics)")
    arrays = {}
    for name in SIGNALS:
        path = out_dir / f"dynamics_{name}.npy"
        if path.is_file():
            arrays[name] = np.load(path, allow_pickle=False)
    return Dynamics(**arrays), json.loads(meta_path.read_text())


def load_dynamics(out_dir: str | Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """(probs (n, E) float32, correct (n, E) float32 in [0, 1], metadata) of a run.

    The cartography path's reader; :func:`read_dynamics` also gives the margins.
    """
    dynamics, meta = read_dynamics(out_dir)
    probs, correct = dynamics.need("probs", "correct", by="load_dynamics")
    return probs.astype(np.float32), correct.astype(np.float32), meta


def mean_per_example(values: npt.ArrayLike, example_index: npt.ArrayLike,
                     n_examples: int) -> np.ndarray:
    """(n_examples,) mean of per-feature ``values`` over each example's features (NaN if none)."""
    rows = np.asarray(example_index, dtype=np.int64)
    total = np.bincount(rows, weights=np.asarray(values, dtype=np.float64), minlength=n_examples)
    count = np.bincount(rows, minlength=n_examples)
    with np.errstate(invalid="ignore"):
        return total / count
