"""Every result table of a run: its name, its columns and what one row means.

This module owns the schemas; the pipeline assembles rows from unit records and writes
them through :func:`write_tables`, the analysis and the report read them. Tables are tidy
(one value per row) and written as ``results/<name>.csv`` and ``results/<name>.json``.

Identity of a checkpoint (the unit of replication, REFERENCE.md "Statistics protocol"):

- ``model``: the pretrained model as named in the config;
- ``condition``: none | easy | hard | ambiguous | random | full | multi | task_easiest |
  task_hardest (see :data:`xalign.plan.CONDITIONS`);
- ``inter_task``: the English intermediate task it was trained on ("" for ``none``; the
  tasks joined by "+" for ``multi``; the measured task for ``task_easiest/hardest``);
- ``seed``: the seed of every random choice of that checkpoint's training;
- ``phase``: 0 pretrained, 1 after intermediate training, 2 after target-task training
  (``none``'s phase 1 is its phase 0);
- ``train_task``: for phase 2, the English training task of the target ("" otherwise).

The zero-shot table holds languages only (no "avg" row): averages are derived, by the analysis.
Phase-0 and phase-1 rows are repeated for every checkpoint that shares them, so that any
(condition, inter_task, seed) selects a complete set of phases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

CHECKPOINT_KEY = ("model", "condition", "inter_task", "seed")

SCHEMAS: dict[str, tuple[str, ...]] = {
    # one row per probed checkpoint
    "checkpoints": (*CHECKPOINT_KEY, "phase", "train_task", "path", "fingerprint"),
    # one alignment value per checkpoint, language, layer and metric
    "alignment": (*CHECKPOINT_KEY, "phase", "train_task", "language", "layer", "metric",
                  "value"),
    # layer x layer CKA between phase_a and phase_b of one checkpoint lineage
    "cka_grid": (*CHECKPOINT_KEY, "phase_a", "phase_b", "train_task", "language", "layer_a",
                 "layer_b", "value"),
    # CKA between two conditions' checkpoints of the same seed and phase, per layer
    "condition_cka": ("model", "seed", "phase", "train_task", "condition_a", "inter_task_a",
                      "condition_b", "inter_task_b", "language", "layer", "metric", "value"),
    # zero-shot score of a phase-2 checkpoint on one evaluation language of one target;
    # ci_low/ci_high: the test-set interval (Wilson for accuracy; empty otherwise)
    "zeroshot": (*CHECKPOINT_KEY, "train_task", "target", "language", "metric", "value", "n",
                 "ci_low", "ci_high"),
    # task-level difficulty: the pretrained model's dev score after a fixed step budget
    "task_difficulty": ("model", "seed", "task", "format", "metric", "budget_steps",
                        "dev_score", "baseline_score", "normalised_error", "rank"),
    # how far two difficulty scorers agree on one task's examples (Spearman of the scores,
    # Jaccard overlap of their easy and of their hard subsets)
    "difficulty_agreement": ("model", "seed", "task", "scorer_a", "scorer_b", "spearman",
                             "easy_jaccard", "hard_jaccard", "n"),
    # Tatoeba pairs that flip between two checkpoints (the "_from" one and the other):
    # counts at every layer, and the flipped pairs themselves at the headline layer
    "flip_counts": ("model", "seed", "condition_from", "inter_task_from", "phase_from",
                    "condition", "inter_task", "phase", "train_task", "language", "layer",
                    "metric", "lost", "gained", "n"),
    "flip_pairs": ("model", "seed", "condition_from", "inter_task_from", "phase_from",
                   "condition", "inter_task", "phase", "train_task", "language", "layer",
                   "pair", "change", "en", "xx", "en_words", "xx_chars", "script"),
    # example-level difficulty of one intermediate task, every model and seed
    "cartography": ("model", "seed", "task", "id", "label", "confidence", "variability",
                    "correctness", "subset"),
    # derived by xalign.pipeline.analysis.analyse (docs/statistics.md):
    # a minus b of two conditions paired by seed; target "" at phase 1, the train task at
    # phase 2, the evaluated target for zeroshot_<metric>; layer empty for zero-shot;
    # role "primary" (the config's headline and every zero-shot row) or "exploratory"
    "contrasts": ("model", "target", "phase", "metric", "layer", "contrast", "inter_task",
                  "estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "n_seeds", "sd",
                  "role"),
    # correlation of representation change with zero-shot change across checkpoints
    # (analysis between_checkpoint) or within checkpoints across languages (within_language)
    "change_vs_accuracy": ("model", "target", "analysis", "measure", "layer", "pearson",
                           "pearson_lo", "pearson_hi", "spearman", "spearman_lo",
                           "spearman_hi", "p_value", "p_adjusted", "n_checkpoints",
                           "n_seeds", "n_points", "role"),
    # one checkpoint's changes averaged over languages (the between-checkpoint points)
    "change_points": ("model", "target", "measure", "layer", "condition", "inter_task", "seed",
                      "change", "accuracy_change"),
}


def columns(name: str) -> tuple[str, ...]:
    """The columns of table ``name`` (``cartography_<task>`` tables share one schema)."""
    key = "cartography" if name.startswith("cartography_") else name
    if key not in SCHEMAS:
        raise KeyError(f"no schema for table {name!r}; known: {', '.join(sorted(SCHEMAS))}")
    return SCHEMAS[key]


def write_tables(results: Path, tables: Mapping[str, Sequence[dict]], *,
                 keep_others: bool = False) -> list[Path]:
    """Write every non-empty table as CSV + JSON; returns the CSV paths.

    The whole ``results`` folder is written into a temporary folder and swapped in, so a
    reader sees all tables of one run or of the next, never a mix. ``keep_others`` (a stage
    run such as ``xalign difficulty``) carries over the tables it does not write; a full
    run drops tables it no longer produces, so none goes stale.
    """
    import shutil

    from xalign.io import atomic_dir, table_files

    results = Path(results)
    names = {name for name, rows in tables.items() if rows}
    with atomic_dir(results) as tmp:
        if keep_others and results.is_dir():
            for path in results.iterdir():
                if path.is_file() and path.stem not in names:
                    shutil.copy2(path, tmp / path.name)
        for name in sorted(names):
            table_files(tmp, name, tables[name], columns(name))
    return [results / f"{name}.csv" for name in sorted(names)]
