"""Stages of the pipeline run on their own: ``xalign difficulty`` and ``xalign finetune``.

Each is a subset of the same plan as ``xalign run`` (the units of some kinds and what they
depend on), executed through the same unit store, so running a stage first and the whole
pipeline later into the same directory does the work once.
"""

from __future__ import annotations

from pathlib import Path

from xalign.config import ExperimentConfig
from xalign.pipeline.run import run_experiment

DIFFICULTY_KINDS = ("task_difficulty", "selection")
FINETUNE_KINDS = ("task_difficulty", "selection", "phase1", "phase2", "zeroshot")


def run_difficulty(config: ExperimentConfig, run_dir: Path, *, on_unit=None) -> dict:
    """Example difficulty (selection units) and task difficulty of every intermediate task."""
    return run_experiment(config, run_dir, on_unit=on_unit, kinds=DIFFICULTY_KINDS)


def run_finetune(config: ExperimentConfig, run_dir: Path, *, on_unit=None) -> dict:
    """Phase 1 and phase 2 training plus zero-shot evaluation, without the probing."""
    return run_experiment(config, run_dir, on_unit=on_unit, kinds=FINETUNE_KINDS)
