"""The fine-tuning units of a run: difficulty selection, phase 1, phase 2, zero-shot.

Each function is one resumable unit (see :mod:`xalign.pipeline.units`); results are plain
JSON (paths, ids, rows), checkpoints live inside the unit's folder.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from finetune.cartography import (
    cartography_stats,
    cartography_table,
    load_dynamics,
    select_subsets,
)
from finetune.data import load_examples
from finetune.difficulty import majority_error, score_examples, select_by_score, task_difficulty
from finetune.evaluate import evaluate, zero_shot_table
from finetune.features import Collator, featurize
from finetune.heads import build_model
from finetune.tasks import Task
from finetune.trainer import TrainConfig, train
from probe.models import model_fingerprint
from xalign.config import FinetuneConfig
from xalign.pipeline.units import Units

log = logging.getLogger(__name__)

# CPU-friendly training defaults for the pipeline; a config's finetune.intermediate /
# finetune.target mappings override any TrainConfig field.
PIPELINE_TRAIN_DEFAULTS = {"save_every": 50}


def train_config(overrides: dict, seed: int, **extra) -> TrainConfig:
    return TrainConfig.from_dict({**PIPELINE_TRAIN_DEFAULTS, **overrides, **extra, "seed": seed})


def _train_examples(task: Task, cfg: FinetuneConfig, seed: int) -> list[dict]:
    examples = load_examples(task, "train", limit=cfg.train_limit, seed=seed)
    if not examples:
        raise ValueError(f"task {task.name!r} has no training examples")
    return examples


def _fit(encoder: str, task: Task, examples: list[dict], tconf: TrainConfig, out: Path,
         max_length: int):
    """Train a fresh ``task`` head on ``encoder``; returns (model, tokenizer, result)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    # The fresh head is drawn from the run's seed, not from whatever the process did
    # before: a resumed process must build the same head as an uninterrupted one.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(tconf.seed)
        model = build_model(encoder, task)
    features = featurize(task, examples, tokenizer, max_length=max_length)
    result = train(model, features, Collator(tokenizer, task.format), tconf, out, progress=True,
                   tokenizer=tokenizer)
    return model, tokenizer, result


def _keep_final(train_dir: Path) -> str:
    """Drop the resume checkpoints of a finished run; keep ``final/`` (model + head + tokenizer).

    Probing loads the encoder of ``final/`` with AutoModel (the head is ignored),
    ``xalign evaluate`` the whole model, and the next phase its encoder under a new head.
    """
    for ckpt in train_dir.glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)
    return str(train_dir / "final")


def selection_unit(units: Units, model: str, task: Task, cfg: FinetuneConfig, seed: int) -> dict:
    """Dataset Cartography on ``task``: dynamics run, statistics, easy/hard/ambiguous ids."""
    tconf = train_config(cfg.intermediate, seed, epochs=cfg.cartography_epochs,
                         record_dynamics=True, max_steps=None)
    inputs = {"kind": "selection", "model": _fingerprint(model), "task": task.name, "seed": seed,
              "train": _plain(tconf), "limit": cfg.train_limit, "scorer": cfg.scorer,
              "fraction": cfg.subset_fraction, "data": _task_stamp(task)}

    def run(folder: Path) -> dict:
        examples = _train_examples(task, cfg, seed)
        _fit(model, task, examples, tconf, folder / "train", cfg.max_length)
        probs, correct, _ = load_dynamics(folder / "train")
        n = len(examples)
        probs, correct = probs[:n], correct[:n]
        stats = cartography_stats(probs, correct)
        labels = [str(ex["label"]) for ex in examples]
        if cfg.scorer == "cartography":
            subsets = select_subsets(stats, labels, fraction=cfg.subset_fraction)
        else:
            scores = score_examples(cfg.scorer, probs, correct)
            subsets = select_by_score(scores, labels, fraction=cfg.subset_fraction)
        ids = [str(ex["id"]) for ex in examples]
        table = cartography_table(ids, labels, stats, subsets)
        shutil.rmtree(folder / "train", ignore_errors=True)  # dynamics are in the table
        return {"subsets": {k: [ids[i] for i in v] for k, v in subsets.items()},
                "table": table, "n": n}

    return units.run(f"select-{_slug(model)}-{task.name}-s{seed}", inputs, run)


def intermediate_unit(units: Units, model: str, task: Task, ids: list[str] | None,
                      label: str, cfg: FinetuneConfig, seed: int) -> str:
    """Phase 1: train ``task`` on the examples ``ids`` (None = all); returns the encoder dir."""
    tconf = train_config(cfg.intermediate, seed)
    inputs = {"kind": "intermediate", "model": _fingerprint(model), "task": task.name,
              "seed": seed,
              "ids": ids, "train": _plain(tconf), "limit": cfg.train_limit,
              "data": _task_stamp(task)}

    def run(folder: Path) -> str:
        examples = _train_examples(task, cfg, seed)
        if ids is not None:
            keep = set(ids)
            examples = [ex for ex in examples if str(ex["id"]) in keep]
        _fit(model, task, examples, tconf, folder / "train", cfg.max_length)
        return _keep_final(folder / "train")

    return units.run(f"phase1-{_slug(model)}-{label}-s{seed}", inputs, run)


def target_unit(units: Units, encoder: str, base: str, label: str, target: Task,
                cfg: FinetuneConfig, seed: int) -> dict:
    """Phase 2: train the target task on English, evaluate zero-shot per language."""
    tconf = train_config(cfg.target, seed)
    inputs = {"kind": "target", "encoder": _fingerprint(encoder), "task": target.name,
              "seed": seed,
              "train": _plain(tconf), "limit": cfg.train_limit, "eval_limit": cfg.eval_limit,
              "languages": list(cfg.languages or target.languages),
              "data": _task_stamp(target)}

    def run(folder: Path) -> dict:
        examples = _train_examples(target, cfg, seed)
        trained, tokenizer, _ = _fit(encoder, target, examples, tconf, folder / "train",
                                     cfg.max_length)
        rows = zero_shot_table(trained, tokenizer, target,
                               languages=list(cfg.languages or target.languages),
                               max_length=cfg.max_length, limit=cfg.eval_limit)
        return {"encoder": _keep_final(folder / "train"), "zeroshot": rows}

    return units.run(f"phase2-{_slug(base)}-{label}-{target.name}-s{seed}", inputs, run)


def task_difficulty_unit(units: Units, model: str, task: Task, cfg: FinetuneConfig,
                         seed: int) -> dict:
    """Task-level difficulty: normalised dev error after a fixed budget of steps."""
    steps = cfg.task_difficulty_steps
    tconf = train_config(cfg.intermediate, seed, max_steps=steps, save_every=None)
    inputs = {"kind": "task_difficulty", "model": _fingerprint(model), "task": task.name,
              "seed": seed,
              "train": _plain(tconf), "data": _task_stamp(task), "limit": cfg.train_limit,
              "eval_limit": cfg.eval_limit}

    def run(folder: Path) -> dict:
        examples = _train_examples(task, cfg, seed)
        trained, tokenizer, _ = _fit(model, task, examples, tconf, folder / "train", cfg.max_length)
        dev = evaluate(trained, tokenizer, task, "validation", max_length=cfg.max_length,
                       limit=cfg.eval_limit)
        gold = [str(ex["label"]) for ex in load_examples(task, "validation", limit=cfg.eval_limit)]
        error = 1.0 - dev["accuracy"]
        chance = majority_error(gold)
        shutil.rmtree(folder / "train", ignore_errors=True)
        return {"task": task.name, "budget_steps": steps, "dev_error": error,
                "normalised_error": task_difficulty([{"budget": steps, "error": error}], chance)}

    return units.run(f"taskdiff-{_slug(model)}-{task.name}-s{seed}", inputs, run)


def _plain(tconf: TrainConfig) -> dict:
    import dataclasses

    return dataclasses.asdict(tconf)


def _task_stamp(task: Task) -> str:
    """What identifies the task's data: its source (and the data folder's meta.json)."""
    source = task.source
    path = getattr(source, "path", None)
    if path and (Path(path) / "meta.json").is_file():
        return (Path(path) / "meta.json").read_text()
    return repr(source)


def _fingerprint(path: str) -> str:
    """Content fingerprint of a checkpoint folder: units are keyed by weights, not paths."""
    return model_fingerprint(Path(path))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name or name)
