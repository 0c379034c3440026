"""Glue between the pipeline's units and finetune/: build, train, keep and evaluate models."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from finetune.tasks import Task
from probe.models import load_tokenizer
from xalign.validate import max_length

log = logging.getLogger(__name__)


def fit(encoder: str, task: Task, examples: list[dict], tconf, out: Path, ctx, *,
        target: bool = False):
    """Train a fresh ``task`` head on ``encoder`` into ``out``; returns (model, tokenizer).

    ``target``: this is phase-2 training of a target's training task (its max length may
    differ, finetune.target_per_task).
    """
    from finetune.features import Collator, featurize
    from finetune.trainer import train

    tokenizer = load_tokenizer(encoder)
    model = _fresh_model(encoder, task, tconf.seed)
    features = featurize(task, examples, tokenizer,
                        max_length=max_length(ctx.config, task.name, target=target))
    train(model, features, Collator(tokenizer, task.format), tconf, out, progress=True,
          tokenizer=tokenizer, start_fingerprint=fingerprint(encoder))
    return model, tokenizer


def fit_encoder(encoder: str, tasks: list[Task], data: dict[str, list[dict]], tconf,
                out: Path, ctx) -> tuple[str, int]:
    """Intermediate training on one task or several at once (a shared encoder).

    Returns:
        (the folder whose encoder the next phase starts from, optimizer steps).
    """
    from finetune.features import Collator, featurize
    from finetune.sampling import share_encoder
    from finetune.trainer import train

    tokenizer = load_tokenizer(encoder)
    if len(tasks) == 1:
        model, = (_fresh_model(encoder, tasks[0], tconf.seed),)
        features = featurize(tasks[0], data[tasks[0].name], tokenizer,
                             max_length=max_length(ctx.config, tasks[0].name))
        result = train(model, features, Collator(tokenizer, tasks[0].format), tconf, out,
                       progress=True, tokenizer=tokenizer,
                       start_fingerprint=fingerprint(encoder))
        return keep_final(out), result.global_step
    models = share_encoder({t.name: _fresh_model(encoder, t, tconf.seed + i)
                            for i, t in enumerate(tasks)})
    features = {t.name: featurize(t, data[t.name], tokenizer,
                                  max_length=max_length(ctx.config, t.name)) for t in tasks}
    collators = {t.name: Collator(tokenizer, t.format) for t in tasks}
    result = train(models, features, collators, tconf, out, progress=True, tokenizer=tokenizer,
                   start_fingerprint=fingerprint(encoder))
    # every task's folder holds the one shared encoder: the first one serves as phase 1
    return str(Path(keep_final(out)) / tasks[0].name), result.global_step


def _fresh_model(encoder: str, task: Task, seed: int):
    """``encoder`` under a new ``task`` head drawn from ``seed``, whatever ran before."""
    from finetune.heads import build_model

    # A resumed process must build the same head as an uninterrupted one.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(encoder, task)


def keep_final(train_dir: Path) -> str:
    """Drop the resume checkpoints of a finished run; keep ``final/`` (model + tokenizer)."""
    for ckpt in Path(train_dir).glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)
    return str(Path(train_dir) / "final")


def evaluate_checkpoint(checkpoint: str, target: Task, languages: list[str], *,
                        max_length: int, limit: int | None,
                        mixed_precision: str = "no") -> list[dict]:
    """Zero-shot rows of a saved task checkpoint: language, metric, value, n (no average)."""
    from finetune.evaluate import zero_shot_table
    from finetune.heads import AUTO_CLASSES

    model = AUTO_CLASSES[target.format].from_pretrained(checkpoint).eval()
    tokenizer = load_tokenizer(checkpoint)
    rows = zero_shot_table(model, tokenizer, target, languages=languages,
                           max_length=max_length, limit=limit,
                           mixed_precision=mixed_precision)
    return [r for r in rows if r["language"] != "avg"]


def fingerprint(path: str) -> str:
    """Content fingerprint of a checkpoint folder: units are keyed by weights, not paths."""
    from probe.models import model_fingerprint

    return model_fingerprint(Path(path))


def task_stamp(task: Task) -> str:
    """What identifies a task's data: its source, plus the files of any local folder it
    reads (a local-layout folder or a hub mirror): their names, sizes and modification
    times, so that new data in the same folder reruns the units that read it."""
    from finetune.tasks import ConcatSource

    parts = task.source.parts if isinstance(task.source, ConcatSource) else (task.source,)
    stamp = [repr(task.source)]
    for part in parts:
        folder = Path(getattr(part, "path", None) or "")
        if folder.is_dir() and str(folder) != ".":
            stamp += [f"{p.relative_to(folder)}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                      for p in sorted(folder.rglob("*")) if p.is_file()]
    return "\n".join(stamp)
