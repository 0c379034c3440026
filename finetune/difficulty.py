"""Difficulty, measured: example-level scorers (a registry) and task-level learning curves.

Example level: a *scorer* maps training dynamics (p_gold and correctness per example and
epoch, see :mod:`finetune.cartography`) to one difficulty score per example, higher =
harder. Built-ins: ``hard_to_learn`` (1 - confidence), ``ambiguous`` (variability),
``loss`` (mean cross-entropy -log p_gold) and ``forgetting`` (correct-to-wrong transitions,
Toneva et al. 2019). Users add their own with :func:`register_scorer`. For a trained model
without dynamics, :func:`example_losses` gives the per-example loss directly.

Task level: a task is hard for a model when the pretrained model still has a large
*normalised* dev error after a fixed training budget (0 = perfect, 1 = no better than the
majority-class baseline). :func:`learning_curve` runs a user-supplied train-and-evaluate
callable at several budgets; :func:`task_difficulty` summarises the curve. Grounding "easy"
and "hard" tasks in this measurement replaces assuming them (cf. Pruksachatkun et al. 2020).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import torch

from finetune.cartography import label_quotas

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
_SCORERS: dict[str, Scorer] = {}
EPS = 1e-12


def register_scorer(name: str, scorer: Scorer, *, overwrite: bool = False) -> Scorer:
    """Add an example-difficulty scorer: ``scorer(probs (n, E), correct (n, E)) -> (n,)``."""
    if name in _SCORERS and not overwrite:
        raise ValueError(f"scorer {name!r} is already registered (pass overwrite=True)")
    _SCORERS[name] = scorer
    return scorer


def get_scorer(name: str) -> Scorer:
    """The scorer called ``name``; unknown names raise ValueError with suggestions."""
    if name not in _SCORERS:
        close = difflib.get_close_matches(name, list(_SCORERS), n=3)
        hint = f"; did you mean {close}?" if close else ""
        raise ValueError(f"unknown difficulty scorer {name!r}; known: {sorted(_SCORERS)}{hint}")
    return _SCORERS[name]


def list_scorers() -> list[str]:
    return sorted(_SCORERS)


def score_examples(name: str, probs: npt.ArrayLike, correct: npt.ArrayLike) -> np.ndarray:
    """Difficulty per example (higher = harder) from (n, E) dynamics with scorer ``name``."""
    probs = np.asarray(probs, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if probs.ndim != 2 or probs.shape != correct.shape:
        raise ValueError(f"dynamics must be (n, E) arrays of one shape, got {probs.shape} "
                         f"and {correct.shape}")
    scores = np.asarray(get_scorer(name)(probs, correct), dtype=np.float64)
    if scores.shape != (len(probs),):
        raise ValueError(f"scorer {name!r} returned shape {scores.shape}, expected ({len(probs)},)")
    return scores


def _hard_to_learn(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    return 1.0 - probs.mean(axis=1)


def _ambiguous(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    return probs.std(axis=1, ddof=0)


def _loss(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(probs, EPS, 1.0)).mean(axis=1)


def _forgetting(probs: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Forgetting events (Toneva et al. 2019): epochs where a correct example turns wrong."""
    return (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(np.float64)


for _name, _fn in (("hard_to_learn", _hard_to_learn), ("ambiguous", _ambiguous),
                   ("loss", _loss), ("forgetting", _forgetting)):
    register_scorer(_name, _fn)


@torch.no_grad()
def example_losses(
    model, features: Sequence[dict], collator, *, batch_size: int = 64
) -> np.ndarray:
    """Cross-entropy of each feature's gold label under ``model`` in eval mode.

    A loss-based difficulty score that needs no training dynamics (e.g. the pretrained or
    a briefly trained model's loss). Classification formats only (one label per feature).

    Returns:
        (n_features,) float64, -log softmax(logits)[gold].
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(features), batch_size):
        batch = collator(list(features[start : start + batch_size]))
        batch.pop("example_index", None)
        labels = batch.pop("labels")
        if labels.dim() != 1:
            raise ValueError("example_losses needs one 'labels' entry per feature, got shape "
                             f"{tuple(labels.shape)}")
        logits = model(**{k: v.to(device) for k, v in batch.items()}).logits.float()
        logp = torch.log_softmax(logits, dim=-1)  # (B, C)
        out.append(-logp.gather(1, labels.to(device)[:, None])[:, 0].double().cpu())
    model.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0)


def majority_error(labels: npt.ArrayLike) -> float:
    """Dev error of always predicting the most frequent label: 1 - max class frequency."""
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("majority_error needs at least one label")
    return 1.0 - np.unique(labels, return_counts=True)[1].max() / labels.size


def learning_curve(train_and_eval: Callable[[int], float], budgets: Sequence[int]) -> list[dict]:
    """Run ``train_and_eval(budget) -> dev error`` for each budget (e.g. training steps).

    The callable should start from the same pretrained model every time.

    Returns:
        Rows ``{"budget", "error"}`` in increasing budget order.
    """
    budgets = sorted(set(int(b) for b in budgets))
    if not budgets or budgets[0] < 0:
        raise ValueError(f"budgets must be non-negative and non-empty, got {budgets}")
    return [{"budget": b, "error": float(train_and_eval(b))} for b in budgets]


def curve_from_history(history: Sequence[Mapping], metric: str, *,
                       higher_is_better: bool = True) -> list[dict]:
    """Turn a training history's eval entries into ``{"budget": step, "error"}`` rows.

    ``error`` is 1 - metric for accuracy-like metrics (``higher_is_better``), else the metric.
    """
    rows = [{"budget": int(h["step"]),
             "error": 1.0 - float(h[metric]) if higher_is_better else float(h[metric])}
            for h in history if metric in h]
    if not rows:
        raise ValueError(f"no history entry has metric {metric!r}; did training evaluate?")
    return rows


def task_difficulty(curve: Sequence[Mapping], chance_error: float, *,
                    summary: str = "final") -> float:
    """Normalised dev error of a learning curve: 0 = solved, 1 = chance, higher = harder.

    Args:
        curve: rows ``{"budget", "error"}`` (from :func:`learning_curve` or
            :func:`curve_from_history`).
        chance_error: error of the trivial baseline (e.g. :func:`majority_error` of dev).
        summary: "final" = normalised error at the largest budget; "auc" = its mean over the
            budget range (trapezoid rule), which also rewards learning fast.

    Returns:
        error / chance_error (may exceed 1 if worse than chance).
    """
    if chance_error <= 0:
        raise ValueError(f"chance_error must be > 0, got {chance_error}")
    rows = sorted(curve, key=lambda r: r["budget"])
    if not rows:
        raise ValueError("empty learning curve")
    budgets = np.array([r["budget"] for r in rows], dtype=np.float64)
    errors = np.array([r["error"] for r in rows], dtype=np.float64) / chance_error
    if summary == "final":
        return float(errors[-1])
    if summary == "auc":
        if len(rows) == 1:
            return float(errors[0])
        return float(np.trapezoid(errors, budgets) / (budgets[-1] - budgets[0]))
    raise ValueError(f"summary must be 'final' or 'auc', got {summary!r}")


def rank_tasks(difficulties: Mapping[str, float]) -> list[str]:
    """Task names from easiest to hardest (ties by name)."""
    return sorted(difficulties, key=lambda t: (difficulties[t], t))


def select_by_score(scores: npt.ArrayLike, labels: npt.ArrayLike, *,
                    fraction: float = 0.33) -> dict[str, np.ndarray]:
    """Easiest and hardest ``floor(fraction * n)`` examples by any scorer, label-stratified.

    Within each label the lowest scores are "easy" and the highest "hard"; both subsets
    have the data's label distribution (ties by lower index for easy, higher for hard).

    Returns:
        ``{"easy", "hard"}`` -> sorted int64 row indices (disjoint when fraction <= 0.5).
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be equal (n,)")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    easy, hard = [], []
    for label, k in label_quotas(labels, int(fraction * len(labels))).items():
        rows = np.flatnonzero(labels == label)
        ordered = rows[np.lexsort((rows, scores[rows]))]  # easiest first
        easy += ordered[:k].tolist()
        hard += ordered[len(ordered) - k :].tolist() if k else []
    return {"easy": np.sort(np.asarray(easy, dtype=np.int64)),
            "hard": np.sort(np.asarray(hard, dtype=np.int64))}
