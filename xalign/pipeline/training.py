"""The fine-tuning units: task difficulty, selection, phase 1, phase 2, zero-shot.

Each function runs one planned unit through the unit store (:mod:`xalign.pipeline.units`):
its inputs name everything that changes the result (the starting weights' fingerprint,
the examples, the training config), checkpoints live inside the unit's folder, and the
result is plain JSON.
"""

from __future__ import annotations

import hashlib
import logging
import math
import shutil
from pathlib import Path

from xalign.pipeline import fitting
from xalign.pipeline.data import train_examples
from xalign.plan import SELECTED, Unit
from xalign.validate import max_length, plain, train_config

log = logging.getLogger(__name__)


def task_difficulty(ctx, unit: Unit) -> dict:
    """The pretrained model's dev score on a task after a fixed step budget, normalised."""
    from finetune.difficulty import normalised_error, trivial_baseline
    from finetune.evaluate import MAIN_KEY, evaluate

    task, base = ctx.tasks[unit.inter_task], ctx.base_path(unit.model)
    tconf = train_config(ctx.config, "intermediate", unit.seed, task=task.name,
                         max_steps=unit.steps, save_every=None)
    inputs = _inputs(ctx, unit, base, task, tconf, eval_limit=ctx.ft.eval_limit)

    def work(folder: Path) -> dict:
        from finetune.data import load_examples

        examples = train_examples(task, ctx.config, unit.seed)
        model, tokenizer = fitting.fit(base, task, examples, tconf, folder / "train", ctx)
        dev = evaluate(model, tokenizer, task, "validation",
                       max_length=max_length(ctx.config, task.name), limit=ctx.ft.eval_limit,
                       mixed_precision="bf16" if tconf.mixed_precision == "bf16" else "no")
        gold = load_examples(task, "validation", limit=ctx.ft.eval_limit)
        score, baseline = dev["score"], trivial_baseline(task, gold)
        shutil.rmtree(folder / "train", ignore_errors=True)
        return {"model": unit.model, "seed": unit.seed, "task": task.name,
                "format": task.format, "metric": MAIN_KEY[task.metric],
                "budget_steps": unit.steps, "dev_score": score, "baseline_score": baseline,
                "normalised_error": normalised_error(score, baseline)}

    return ctx.units.run(unit.name, inputs, work)


def selection(ctx, unit: Unit) -> dict:
    """Training dynamics on an intermediate task -> easy / hard / ambiguous example ids."""
    from xalign.pipeline.select import select_examples

    task, base = ctx.tasks[unit.inter_task], ctx.base_path(unit.model)
    tconf = train_config(ctx.config, "cartography", unit.seed, task=task.name)
    inputs = _inputs(ctx, unit, base, task, tconf, scorer=ctx.ft.scorer,
                     robustness=list(ctx.ft.robustness_scorers),
                     fraction=ctx.ft.subset_fraction)

    def work(folder: Path) -> dict:
        examples = train_examples(task, ctx.config, unit.seed)
        result = select_examples(ctx, unit, task, base, examples, tconf, folder)
        shutil.rmtree(folder / "train", ignore_errors=True)  # the dynamics are in the table
        return result

    return ctx.units.run(unit.name, inputs, work)


def phase1(ctx, unit: Unit) -> dict:
    """Intermediate training of one condition; returns the encoder folder and its task."""
    base = ctx.base_path(unit.model)
    task_name = _chosen_task(ctx, unit) if not unit.inter_task else unit.inter_task
    names = task_name.split("+")
    tasks = [ctx.tasks[name] for name in names]
    tconf = train_config(ctx.config, "intermediate", unit.seed,
                         task=names[0] if len(names) == 1 else None)
    ids = _phase1_ids(ctx, unit, tasks)
    inputs = _inputs(ctx, unit, base, tasks, tconf,
                     ids=None if ids is None else _digest(ids), n_ids=None if ids is None
                     else len(ids), inter_task=task_name)

    def work(folder: Path) -> dict:
        data = {t.name: train_examples(t, ctx.config, unit.seed) for t in tasks}
        if ids is not None:
            keep = set(ids)
            data = {name: [ex for ex in exs if str(ex["id"]) in keep] for name, exs in
                    data.items()}
        encoder, steps = fitting.fit_encoder(base, tasks, data, tconf, folder / "train", ctx)
        return {"encoder": encoder, "inter_task": task_name, "steps": steps,
                "examples": sum(len(v) for v in data.values())}

    return ctx.units.run(unit.name, inputs, work)


def phase2(ctx, unit: Unit) -> dict:
    """Target-task training on the target's English training task."""
    encoder = ctx.checkpoint(unit.deps[0] if unit.deps else None, unit.model)
    task = ctx.tasks[unit.train_task]
    tconf = train_config(ctx.config, "target", unit.seed, task=task.name)
    inputs = _inputs(ctx, unit, encoder, task, tconf, target=True)

    def work(folder: Path) -> dict:
        examples = train_examples(task, ctx.config, unit.seed)
        fitting.fit(encoder, task, examples, tconf, folder / "train", ctx, target=True)
        return {"encoder": fitting.keep_final(folder / "train"), "examples": len(examples)}

    return ctx.units.run(unit.name, inputs, work)


def zeroshot(ctx, unit: Unit) -> dict:
    """Per-language zero-shot score of a phase-2 checkpoint on one target."""
    checkpoint = ctx.results[unit.deps[0]]["encoder"]
    target = ctx.tasks[unit.eval_task]
    languages = list(ctx.ft.languages or target.languages)
    # scored in the precision it was trained in: bf16 autocast, or fp32
    tconf = train_config(ctx.config, "target", unit.seed, task=unit.train_task)
    precision = "bf16" if tconf.mixed_precision == "bf16" else "no"
    inputs = {"kind": unit.kind, "checkpoint": fitting.fingerprint(checkpoint),
              "target": target.name, "data": fitting.task_stamp(target),
              "languages": languages, "eval_limit": ctx.ft.eval_limit, "precision": precision,
              "max_length": max_length(ctx.config, unit.train_task, target=True)}

    def work(folder: Path) -> dict:
        return {"rows": fitting.evaluate_checkpoint(
            checkpoint, target, languages,
            max_length=max_length(ctx.config, unit.train_task, target=True),
            limit=ctx.ft.eval_limit, mixed_precision=precision)}

    return ctx.units.run(unit.name, inputs, work)


def _phase1_ids(ctx, unit: Unit, tasks) -> list[str] | None:
    """The example ids a phase-1 condition trains on (None = all of them)."""
    from xalign.pipeline.select import random_ids

    cond = unit.condition
    if cond.split("@")[0] in SELECTED:  # easy, or easy@<robustness scorer>
        return ctx.results[unit.deps[0]]["subsets"][cond]
    if cond == "random":
        task = tasks[0]
        return random_ids(train_examples(task, ctx.config, unit.seed), task,
                          ctx.ft.subset_fraction, unit.seed)
    if cond in ("task_easiest", "task_hardest"):
        sizes = [len(train_examples(t, ctx.config, unit.seed))
                 for t in (ctx.tasks[n] for n in ctx.ft.intermediate_tasks)]
        task = tasks[0]
        size = math.floor(ctx.ft.subset_fraction * min(sizes))
        return random_ids(train_examples(task, ctx.config, unit.seed), task, None, unit.seed,
                          size=size)
    return None


def _chosen_task(ctx, unit: Unit) -> str:
    """The measured-easiest or -hardest intermediate task (mean over seeds, ties by name)."""
    errors: dict[str, list[float]] = {}
    for name in unit.deps:
        row = ctx.results[name]
        errors.setdefault(row["task"], []).append(row["normalised_error"])
    mean = {task: sum(v) / len(v) for task, v in errors.items()}
    sign = 1 if unit.condition == "task_easiest" else -1
    chosen = min(mean, key=lambda t: (sign * mean[t], t))
    log.info("%s: %s (mean normalised dev error %s)", unit.condition, chosen,
             ", ".join(f"{t} {e:.3f}" for t, e in sorted(mean.items())))
    return chosen


def _inputs(ctx, unit: Unit, start: str, tasks, tconf, *, target: bool = False,
            **extra) -> dict:
    tasks = tasks if isinstance(tasks, list) else [tasks]
    return {"kind": unit.kind, "condition": unit.condition, "seed": unit.seed,
            "start": fitting.fingerprint(start), "tasks": [t.name for t in tasks],
            "data": [fitting.task_stamp(t) for t in tasks], "train": plain(tconf),
            "limit": ctx.ft.train_limit,
            "max_length": [max_length(ctx.config, t.name, target=target) for t in tasks],
            **extra}


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()
