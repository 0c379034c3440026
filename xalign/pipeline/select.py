"""Example selection: difficulty subsets from training dynamics, and the random control."""

from __future__ import annotations

import numpy as np

from finetune.tasks import Task

LABELLED = ("single", "pair", "multiple_choice")  # one gold label per example


def labels_of(task: Task, examples: list[dict]) -> np.ndarray | None:
    """Gold labels for stratification, or None for formats without one (qa, tagging)."""
    if task.format not in LABELLED:
        return None
    return np.asarray([str(ex["label"]) for ex in examples])


def random_ids(examples: list[dict], task: Task, fraction: float | None, seed: int, *,
               size: int | None = None) -> list[str]:
    """Ids of a label-stratified random subset (the ``random`` control), seeded."""
    from finetune.difficulty import random_subset

    rows = random_subset(labels_of(task, examples), fraction, seed, size=size,
                         n=len(examples))
    return [str(examples[i]["id"]) for i in rows]


def select_examples(ctx, unit, task: Task, base: str, examples: list[dict], tconf,
                    folder) -> dict:
    """Train with dynamics recorded, score every example, pick the difficulty subsets.

    Returns the ids of easy / hard / ambiguous by the main scorer, of easy@<s> / hard@<s>
    for each robustness scorer s, the cartography table, and how far every scorer the
    dynamics support agrees with the others (rank correlation, overlap of the thirds).
    """
    from finetune.cartography import cartography_stats, cartography_table, select_subsets
    from finetune.difficulty import score_examples, scorer_agreement, select_by_score
    from finetune.dynamics import read_dynamics
    from xalign.pipeline import fitting

    model, tokenizer = fitting.fit(base, task, examples, tconf, folder / "train", ctx)
    dynamics, _ = read_dynamics(folder / "train")
    stats = cartography_stats(dynamics.probs, dynamics.correct)
    labels = labels_of(task, examples)
    fraction, ft = ctx.ft.subset_fraction, ctx.ft
    if "pvi" in (ft.scorer, *ft.robustness_scorers):
        dynamics = _with_pvi(ctx, task, base, examples, dynamics, (model, tokenizer), tconf,
                             folder)
    scores = {name: score_examples(name, dynamics) for name in _scorers(dynamics)}
    if ft.scorer == "cartography":
        subsets = select_subsets(stats, labels, fraction=fraction)
    else:
        subsets = select_by_score(scores[ft.scorer], labels, fraction=fraction)
    for name in ft.robustness_scorers:
        chosen = select_by_score(scores[name], labels, fraction=fraction)
        subsets.update({f"{k}@{name}": v for k, v in chosen.items()})
    ids = [str(ex["id"]) for ex in examples]
    shown = None if labels is None else [str(x) for x in labels]
    key = {"model": unit.model, "seed": unit.seed, "task": task.name}
    table = [{**key, **row} for row in cartography_table(ids, shown, stats, subsets)]
    agreement = [{**key, **row} for row in scorer_agreement(scores, labels=labels,
                                                            fraction=fraction)]
    return {"subsets": {k: [ids[i] for i in v] for k, v in subsets.items()}, "table": table,
            "agreement": agreement, "n": len(examples)}


def _scorers(dynamics) -> list[str]:
    """Every registered scorer the recorded dynamics can feed."""
    from finetune.difficulty import list_scorers

    needs = {"aum": dynamics.margins, "pvi": dynamics.p_null}
    return [name for name in list_scorers() if needs.get(name, True) is not None]


def _with_pvi(ctx, task: Task, base: str, examples: list[dict], dynamics, trained, tconf,
              folder):
    """The dynamics plus p(gold) with and without the input (the PVI scorer).

    PVI (Ethayarajh et al. 2022) compares the model trained on the inputs (the dynamics
    run's, ``trained``) with one trained on null inputs under the same config; both score
    the training examples after training.
    """
    from dataclasses import replace

    from finetune.evaluate import gold_probabilities
    from finetune.pvi import null_examples
    from xalign.pipeline import fitting
    from xalign.validate import max_length

    length = max_length(ctx.config, task.name)
    model, tokenizer = trained
    p_input = gold_probabilities(model, tokenizer, task, examples, max_length=length)
    nulls = null_examples(task, examples)
    model, tokenizer = fitting.fit(base, task, nulls, replace(tconf, record_dynamics=False),
                                   folder / "train-null", ctx)
    p_null = gold_probabilities(model, tokenizer, task, nulls, max_length=length)
    return replace(dynamics, p_input=p_input, p_null=p_null)
