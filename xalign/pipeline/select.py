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

    rows = random_subset(labels_of(task, examples), fraction=fraction, seed=seed, size=size,
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
            "n": n}
