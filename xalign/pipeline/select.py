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
    """Train with dynamics recorded, score every example, pick easy / hard / ambiguous."""
    from finetune.cartography import (
        cartography_stats,
        cartography_table,
        load_dynamics,
        select_subsets,
    )
    from finetune.difficulty import score_examples, select_by_score
    from xalign.pipeline import fitting

    fitting.fit(base, task, examples, tconf, folder / "train", ctx)
    probs, correct, _ = load_dynamics(folder / "train")
    n = len(examples)
    probs, correct = probs[:n], correct[:n]
    stats = cartography_stats(probs, correct)
    labels = labels_of(task, examples)
    fraction = ctx.ft.subset_fraction
    if ctx.ft.scorer == "cartography":
        subsets = select_subsets(stats, labels, fraction=fraction)
    else:
        subsets = select_by_score(score_examples(ctx.ft.scorer, probs, correct), labels,
                                  fraction=fraction)
    ids = [str(ex["id"]) for ex in examples]
    shown = [str(ex.get("label", "")) for ex in examples]
    table = [{"model": unit.model, "seed": unit.seed, "task": task.name, **row}
             for row in cartography_table(ids, shown, stats, subsets)]
    return {"subsets": {k: [ids[i] for i in v] for k, v in subsets.items()}, "table": table,
            "n": len(examples)}


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
