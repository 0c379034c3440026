"""Stages of the pipeline run on their own: ``xalign difficulty`` and ``xalign finetune``.

They use the same units as ``xalign run`` (:mod:`xalign.pipeline.units`), so running a
stage first and the whole pipeline later into the same directory does the work once.
"""

from __future__ import annotations

from pathlib import Path

from probe.models import resolve_model_path
from xalign.config import ExperimentConfig, dump_config
from xalign.io import write_table, write_text
from xalign.pipeline import training
from xalign.pipeline.data import resolve_tasks
from xalign.pipeline.run import (
    COLUMNS,
    SUBSET_CONDITIONS,
    _finetune_grid,
    _rank_task_difficulty,
)
from xalign.pipeline.units import Units


def run_difficulty(config: ExperimentConfig, run_dir: Path, *, on_unit=None) -> dict:
    """Example difficulty (cartography subsets) and task difficulty of every intermediate task.

    Cartography runs when the conditions ask for subsets (easy/hard/ambiguous); the
    learning-curve task difficulty when ``finetune.task_difficulty_steps`` > 0.
    """
    run_dir = Path(run_dir)
    units = Units(run_dir, on_done=on_unit)
    write_text(run_dir / "config.yaml", dump_config(config))
    inter, _ = resolve_tasks(config)
    ft = config.finetune
    wants_subsets = any(c in SUBSET_CONDITIONS for c in ft.conditions)
    difficulty, written = [], []
    for model in config.model.names:
        base = str(resolve_model_path(model, revision=config.model.revision))
        for seed in ft.seeds:
            for task in inter:
                stem = run_dir / "results" / f"cartography_{task.name}"
                if wants_subsets:
                    selection = training.selection_unit(units, base, task, ft, seed)
                    if stem not in written:
                        write_table(stem, selection["table"], COLUMNS["cartography"])
                        written.append(stem)
                if ft.task_difficulty_steps:
                    difficulty.append(training.task_difficulty_unit(units, base, task, ft, seed))
    _rank_task_difficulty(difficulty)
    if difficulty:
        write_table(run_dir / "results" / "task_difficulty", difficulty,
                    COLUMNS["task_difficulty"])
    return {"run_dir": str(run_dir), "tables": [str(p) + ".csv" for p in written],
            "task_difficulty": difficulty}


def run_finetune(config: ExperimentConfig, run_dir: Path, *, on_unit=None) -> dict:
    """Phase 1 and phase 2 training plus zero-shot evaluation, without the probing."""
    run_dir = Path(run_dir)
    units = Units(run_dir, on_done=on_unit)
    write_text(run_dir / "config.yaml", dump_config(config))
    tables: dict[str, list[dict]] = {"zeroshot": [], "task_difficulty": []}
    checkpoints = []
    for model in config.model.names:
        for seed in config.finetune.seeds:
            checkpoints += _finetune_grid(units, config, model, seed, tables)
    rows = [{"model": c.model, "condition": c.condition, "seed": c.seed, "phase": c.phase,
             "path": c.path, "fingerprint": ""} for c in checkpoints]
    for name, table in {**tables, "checkpoints": rows}.items():
        if table:
            columns = COLUMNS["cartography" if name.startswith("cartography") else name]
            write_table(run_dir / "results" / name, table, columns)
    return {"run_dir": str(run_dir), "zeroshot": tables["zeroshot"], "checkpoints": rows}
