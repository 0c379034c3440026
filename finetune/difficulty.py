"""Difficulty, measured: example scorers (a registry), subsets, agreement, task difficulty.

Example level: a *scorer* maps a :class:`~finetune.dynamics.Dynamics` record to one
difficulty per example, higher = harder. Built-ins:

- ``hard_to_learn`` 1 - confidence and ``ambiguous`` variability (Dataset Cartography,
  Swayamdipta et al. 2020); ``loss`` mean -log p_gold over epochs;
- ``forgetting``: forgetting events, epochs whose correctness drops below the previous
  one's (Toneva et al. 2019); an example never fully correct counts E events, more than
  any learnt example can have (the paper ranks never-learnt examples as most forgotten);
- ``aum``: -AUM, AUM = the mean over epochs of the margin gold logit - largest other
  logit (Pleiss et al. 2020, "Identifying Mislabeled Data using the Area Under the Margin
  Ranking");
- ``pvi``: -PVI, pointwise V-information (Ethayarajh et al. 2022, "Understanding Dataset
  Difficulty with V-Usable Information"), see :mod:`finetune.pvi`.

Users add their own with :func:`register_scorer`. :func:`select_by_score` and
:func:`random_subset` build the easy / hard / random training subsets and
:func:`scorer_agreement` compares scorers.

Task level: a task is hard for a model when it still has a large *normalised* dev error
after a fixed training budget: (1 - score) / (1 - trivial baseline's score) in the task's
own metric (0 = solved, 1 = no better than a trivial predictor; see
:func:`trivial_baseline`). :func:`learning_curve` runs a train-and-evaluate callable at
several budgets; :func:`task_difficulty` summarises the curve. Grounding "easy" and "hard"
tasks in this measurement replaces assuming them (cf. Pruksachatkun et al. 2020).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from finetune.cartography import check_finite, strata, subset_parts
from finetune.dynamics import Dynamics
from finetune.metrics import squad_scores
from finetune.pvi import pvi
from finetune.tasks import Task

Scorer = Callable[[Dynamics], np.ndarray]
_SCORERS: dict[str, Scorer] = {}
EPS = 1e-12


def register_scorer(name: str, scorer: Scorer, *, overwrite: bool = False) -> Scorer:
    """Add an example-difficulty scorer: ``scorer(dynamics: Dynamics) -> (n,)``."""
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


def score_examples(name: str, dynamics: Dynamics | npt.ArrayLike,
                   correct: npt.ArrayLike | None = None) -> np.ndarray:
    """Difficulty per example (higher = harder) with scorer ``name``.

    Args:
        name: a registered scorer.
        dynamics: the record the scorer reads; ``score_examples(name, probs, correct)``
            with two (n, E) arrays means ``Dynamics(probs=probs, correct=correct)``.
        correct: only with arrays as ``dynamics``.

    Returns:
        (n,) float64.
    """
    if not isinstance(dynamics, Dynamics):
        dynamics = Dynamics(probs=dynamics, correct=correct)
    elif correct is not None:
        raise ValueError("pass correctness inside the Dynamics record, not as `correct`")
    scores = np.asarray(get_scorer(name)(dynamics), dtype=np.float64)
    if scores.shape != (dynamics.n,):
        raise ValueError(f"scorer {name!r} returned shape {scores.shape}, expected ({dynamics.n},)")
    return scores


def _hard_to_learn(d: Dynamics) -> np.ndarray:
    return 1.0 - d.need("probs", by="scorer 'hard_to_learn'")[0].mean(axis=1)


def _ambiguous(d: Dynamics) -> np.ndarray:
    return d.need("probs", by="scorer 'ambiguous'")[0].std(axis=1, ddof=0)


def _loss(d: Dynamics) -> np.ndarray:
    return -np.log(np.clip(d.need("probs", by="scorer 'loss'")[0], EPS, 1.0)).mean(axis=1)


def _forgetting(d: Dynamics) -> np.ndarray:
    (correct,) = d.need("correct", by="scorer 'forgetting'")
    events = (correct[:, :-1] > correct[:, 1:]).sum(axis=1).astype(np.float64)
    events[correct.max(axis=1) < 1] = correct.shape[1]  # never learnt: most forgotten
    events[np.isnan(correct).any(axis=1)] = np.nan
    return events


def _aum(d: Dynamics) -> np.ndarray:
    return -d.need("margins", by="scorer 'aum'")[0].mean(axis=1)


def _pvi(d: Dynamics) -> np.ndarray:
    return -pvi(*d.need("p_input", "p_null", by="scorer 'pvi'"))


for _name, _fn in (("hard_to_learn", _hard_to_learn), ("ambiguous", _ambiguous),
                   ("loss", _loss), ("forgetting", _forgetting), ("aum", _aum), ("pvi", _pvi)):
    register_scorer(_name, _fn)


def select_by_score(scores: npt.ArrayLike, labels: npt.ArrayLike | None, *,
                    fraction: float = 0.33) -> dict[str, np.ndarray]:
    """Easiest and hardest ``floor(fraction * n)`` examples by any scorer, label-stratified.

    Within each label the lowest scores are "easy" and the highest "hard"; both subsets
    have the data's label distribution (ties by lower index for easy, higher for hard).
    ``labels=None`` (QA, tagging) ranks all examples together.

    Returns:
        ``{"easy", "hard"}`` -> sorted int64 row indices (disjoint when fraction <= 0.5).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be (n,), got shape {scores.shape}")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    check_finite(scores, "scores")
    easy, hard = [], []
    for rows, k in strata(labels, len(scores), int(fraction * len(scores)),
                          parts=subset_parts(fraction)):
        ordered = rows[np.lexsort((rows, scores[rows]))]  # easiest first
        easy += ordered[:k].tolist()
        hard += ordered[len(ordered) - k :].tolist() if k else []
    return {"easy": np.sort(np.asarray(easy, dtype=np.int64)),
            "hard": np.sort(np.asarray(hard, dtype=np.int64))}


def random_subset(labels: npt.ArrayLike | None, fraction: float | None, seed: int, *,
                  n: int | None = None, size: int | None = None) -> np.ndarray:
    """A seeded random subset of the size and label distribution of the easy / hard ones.

    The control condition: ``floor(fraction * n)`` examples (or exactly ``size``) with the
    same per-label quotas as :func:`select_by_score`, drawn uniformly within each label.

    Args:
        labels: (n,) label per example, or None (QA, tagging) with ``n`` given.
        fraction: in (0, 1]; ignored when ``size`` is given.
        seed: seeds numpy's default generator.
        n: number of examples; only (and then required) when ``labels`` is None.
        size: the subset size, when it is fixed across tasks of different sizes.

    Returns:
        Sorted int64 row indices.
    """
    if labels is not None:
        n = len(labels)
    if n is None:
        raise ValueError("random_subset with labels=None needs n, the number of examples")
    if size is None:
        if fraction is None or not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        size = int(fraction * n)
    if not 0 <= size <= n:
        raise ValueError(f"size {size} is outside 0..{n} examples")
    rng = np.random.default_rng(seed)
    parts = 1 if fraction is None else subset_parts(fraction)  # the quotas of easy / hard
    picked = [rng.choice(rows, size=k, replace=False)
              for rows, k in strata(labels, n, size, parts=parts)]
    return np.sort(np.concatenate(picked).astype(np.int64))


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = len(np.union1d(a, b))
    return len(np.intersect1d(a, b)) / union if union else float("nan")


def scorer_agreement(scores: Mapping[str, npt.ArrayLike], *, labels: npt.ArrayLike | None = None,
                     fraction: float = 1 / 3) -> list[dict]:
    """How far difficulty measures agree: rank correlation and overlap of their subsets.

    Args:
        scores: scorer name -> (n,) difficulty of the same n examples.
        labels: stratify the thirds as :func:`select_by_score` does (None: no strata).
        fraction: size of the easy and hard subsets compared.

    Returns:
        One row per pair of scorers (in the mapping's order): ``scorer_a``, ``scorer_b``,
        ``spearman`` (scipy's, ties averaged), ``easy_jaccard`` and ``hard_jaccard``
        (|A & B| / |A | B| of their easy and of their hard subsets), ``n``.
    """
    from scipy.stats import spearmanr

    names = list(scores)
    arrays = {name: np.asarray(scores[name], dtype=np.float64) for name in names}
    if len({a.shape for a in arrays.values()}) > 1:
        raise ValueError(f"scores differ in shape: { {k: v.shape for k, v in arrays.items()} }")
    subsets = {name: select_by_score(a, labels, fraction=fraction) for name, a in arrays.items()}
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rows.append({"scorer_a": a, "scorer_b": b,
                         "spearman": _spearman(arrays[a], arrays[b], spearmanr),
                         "easy_jaccard": _jaccard(subsets[a]["easy"], subsets[b]["easy"]),
                         "hard_jaccard": _jaccard(subsets[a]["hard"], subsets[b]["hard"]),
                         "n": len(arrays[a])})
    return rows


def _spearman(a: np.ndarray, b: np.ndarray, spearmanr) -> float:
    """Rank correlation; NaN (undefined, not a warning) when a scorer gives every example
    the same score, e.g. forgetting counts after too few epochs to forget anything."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def majority_error(labels: npt.ArrayLike) -> float:
    """Dev error of always predicting the most frequent label: 1 - max class frequency."""
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("majority_error needs at least one label")
    return 1.0 - np.unique(labels, return_counts=True)[1].max() / labels.size


def trivial_baseline(task: Task, examples: Sequence[dict]) -> float:
    """Score of a trivial predictor on ``examples`` in the task's own main metric, in [0, 1].

    single / pair / multiple_choice (accuracy): the most frequent label (answer position)
    of ``examples``; tagging with token accuracy: the most frequent tag for every token;
    tagging with entity F1: all "O" (no entity predicted), F1 = 0; qa (SQuAD F1): the
    empty answer for every question, F1 = the fraction of unanswerable questions (0 for
    SQuAD 1.1-style data). The majority is taken from ``examples`` themselves: the best
    constant predictor there.
    """
    if not examples:
        raise ValueError(f"task {task.name!r}: trivial_baseline needs at least one example")
    if task.format == "qa":
        golds = [ex["answers"]["text"] for ex in examples]
        return squad_scores([""] * len(golds), golds)["f1"]
    if task.format == "tagging":
        if task.metric == "f1":
            return 0.0  # no predicted entity: precision = recall = F1 = 0 (entity_f1)
        return 1.0 - majority_error(np.concatenate([ex["tags"] for ex in examples]))
    return 1.0 - majority_error([ex["label"] for ex in examples])


def normalised_error(score: float, baseline: float) -> float:
    """(1 - score) / (1 - baseline): 0 = solved, 1 = the trivial baseline, > 1 = worse.

    Args:
        score: the model's main score in [0, 1] (``evaluate(...)["score"]``).
        baseline: :func:`trivial_baseline` on the same examples, in [0, 1).
    """
    for name, value in (("score", score), ("baseline", baseline)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}={value}: expected a score in [0, 1]")
    if baseline >= 1.0:
        raise ValueError("baseline=1: a trivial predictor already solves these examples, so "
                         "the normalised error is undefined")
    return (1.0 - score) / (1.0 - baseline)


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
        chance_error: error of the trivial baseline, 1 - :func:`trivial_baseline` of
            the dev examples (with the curve's errors = 1 - the main score).
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
