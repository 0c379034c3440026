"""``xalign run``: the phase pipeline over models x conditions x seeds x targets x languages.

Phase 0 is the pretrained model, phase 1 the model after English intermediate training
(condition ``none`` skips it, so its phase 1 is its phase 0), phase 2 after target-task
training. Every unit of work is resumable (:mod:`xalign.pipeline.units`); the result
tables are rebuilt from the units' records at the end of every run, so a killed run that
is started again ends with the same tables as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from probe.models import load_encoder, model_fingerprint, resolve_model_path
from xalign.config import ExperimentConfig, dump_config
from xalign.io import write_table, write_text
from xalign.pipeline import analysis, probing_units, training
from xalign.pipeline.data import load_corpora, resolve_tasks
from xalign.pipeline.units import Units

log = logging.getLogger(__name__)

COLUMNS = {
    "alignment": ["model", "condition", "seed", "phase", "language", "layer", "metric", "value"],
    "cka_grid": ["model", "condition", "seed", "phase_a", "phase_b", "language", "layer_a",
                 "layer_b", "value"],
    "zeroshot": ["model", "condition", "seed", "task", "language", "metric", "value", "n"],
    "change_vs_accuracy": ["measure", "layer", "pearson", "pearson_lo", "pearson_hi",
                           "spearman", "spearman_lo", "spearman_hi", "n"],
    "change_points": ["measure", "layer", "model", "condition", "seed", "language", "change",
                      "accuracy_change"],
    "checkpoints": ["model", "condition", "seed", "phase", "path", "fingerprint"],
    "task_difficulty": ["task", "budget_steps", "dev_error", "normalised_error", "rank"],
    "cartography": ["id", "label", "confidence", "variability", "correctness", "subset"],
}
SUBSET_CONDITIONS = ("easy", "hard", "ambiguous")


@dataclass(frozen=True)
class Checkpoint:
    model: str
    condition: str
    seed: int
    phase: int
    path: str


def run_experiment(config: ExperimentConfig, run_dir: Path, *, on_unit=None) -> dict:
    """Run (or resume) the whole experiment into ``run_dir``; returns a summary dict."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "config.yaml", dump_config(config))
    units = Units(run_dir, on_done=on_unit)
    tables: dict[str, list[dict]] = {name: [] for name in COLUMNS if name != "cartography"}
    checkpoints = []
    for model in config.model.names:
        for seed in config.finetune.seeds:
            checkpoints += _finetune_grid(units, config, model, seed, tables)
    corpora = load_corpora(config)
    _probe_grid(units, config, checkpoints, corpora, tables)
    if config.finetune.enabled and config.finetune.target_tasks:
        task = config.finetune.target_tasks[0]
        tables["change_vs_accuracy"], tables["change_points"] = analysis.change_tables(
            tables["alignment"], tables["zeroshot"], task, seed=config.data.seed)
    _write_tables(run_dir, tables)
    if config.output.figures:
        _report_if_changed(run_dir)
    return {"run_dir": str(run_dir), "units_run": len(units.ran),
            "units_reused": len(units.reused), "checkpoints": len(checkpoints)}


def planned_units(config: ExperimentConfig) -> int:
    """The number of units a run visits (reused ones included), for a progress bar."""
    ft = config.finetune
    if not ft.enabled:
        return len(config.model.names) * len(ft.seeds) * 2
    conds = [c for c in ft.conditions if c != "none"]
    n_tasks, n_targets = len(ft.intermediate_tasks), len(ft.target_tasks)
    labels = len(conds) * n_tasks + ("none" in ft.conditions)
    training = n_tasks * (bool(ft.task_difficulty_steps)
                          + any(c in SUBSET_CONDITIONS for c in conds) + len(conds))
    training += labels * n_targets
    # every checkpoint row (phases 0, 1 and 2 per label and target) is probed and compared
    # with phase 0: two units each (rows sharing a checkpoint reuse its units)
    probing = labels * (3 * n_targets if n_targets else 2) * 2
    return len(config.model.names) * len(ft.seeds) * (training + probing)


def _finetune_grid(units, config, model, seed, tables) -> list[Checkpoint]:
    ft = config.finetune
    base = str(resolve_model_path(model, revision=config.model.revision))
    if not ft.enabled:
        return [Checkpoint(model, "none", seed, 0, base)]
    inter, targets = resolve_tasks(config)
    phase1 = {"none": base} if "none" in ft.conditions else {}
    for task in inter:
        if ft.task_difficulty_steps:
            tables["task_difficulty"].append(
                training.task_difficulty_unit(units, base, task, ft, seed))
        chosen = [c for c in ft.conditions if c != "none"]
        selection = None
        if any(c in SUBSET_CONDITIONS for c in chosen):
            selection = training.selection_unit(units, base, task, ft, seed)
            tables.setdefault(f"cartography_{task.name}", selection["table"])
        for cond in chosen:
            ids = None if cond == "full" else _subset(selection, cond)
            label = cond if len(inter) == 1 else f"{cond}:{task.name}"
            phase1[label] = training.intermediate_unit(units, base, task, ids, label, ft, seed)
    _rank_task_difficulty(tables["task_difficulty"])
    out = []
    for label, encoder in phase1.items():
        if not targets:
            out += [Checkpoint(model, label, seed, 0, base),
                    Checkpoint(model, label, seed, 1, encoder)]
        for target in targets:
            result = training.target_unit(units, encoder, model, label, target, ft, seed)
            # one condition per (intermediate condition, target) when there are several
            # targets, each with all three phases (probing is shared through the units)
            cond = label if len(targets) == 1 else f"{label}>{target.name}"
            tables["zeroshot"] += [{"model": model, "condition": cond, "seed": seed,
                                    "task": target.name, **row} for row in result["zeroshot"]]
            out += [Checkpoint(model, cond, seed, 0, base),
                    Checkpoint(model, cond, seed, 1, encoder),
                    Checkpoint(model, cond, seed, 2, result["encoder"])]
    return out


def _subset(selection: dict | None, cond: str) -> list[str]:
    if selection is None or cond not in selection["subsets"]:
        raise ValueError(f"finetune.conditions: unknown condition {cond!r} "
                         f"(expected none, full, {', '.join(SUBSET_CONDITIONS)})")
    return selection["subsets"][cond]


def _rank_task_difficulty(rows: list[dict]) -> None:
    for rank, row in enumerate(sorted(rows, key=lambda r: r["normalised_error"]), 1):
        row["rank"] = rank


def _probe_grid(units, config, checkpoints, corpora, tables) -> None:
    prefixes = {}
    for ck in checkpoints:
        if ck.model not in prefixes:
            prefixes[ck.model] = load_encoder(ck.model, revision=config.model.revision).prefix
    bases = {(ck.model, ck.seed): ck.path for ck in checkpoints if ck.phase == 0}
    for ck in checkpoints:
        encoder = load_encoder(ck.path, prefix=prefixes[ck.model])
        key = {"model": ck.model, "condition": ck.condition, "seed": ck.seed}
        rows = probing_units.probe_unit(units, encoder, corpora, config)
        tables["alignment"] += [{**key, "phase": ck.phase, **r} for r in rows]
        base = load_encoder(bases[(ck.model, ck.seed)], prefix=prefixes[ck.model])
        grid = probing_units.phase_cka_unit(units, base, encoder, corpora, config)
        tables["alignment"] += [{**key, "phase": ck.phase, "language": "en", "layer": layer,
                                 "metric": "cka_vs_phase0", "value": value}
                                for layer, value in enumerate(grid["diagonal"])]
        tables["cka_grid"] += [{**key, "phase_a": 0, "phase_b": ck.phase, **r}
                               for r in grid["rows"]]
        tables["checkpoints"].append({**key, "phase": ck.phase, "path": ck.path,
                                      "fingerprint": model_fingerprint(Path(ck.path))})


def _report_if_changed(run_dir: Path) -> None:
    """Draw figures and report.md unless they were drawn from these exact tables."""
    from xalign.report import write_report

    digest = hashlib.sha256()
    for path in sorted((run_dir / "results").glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    stamp = run_dir / "figures" / ".tables.sha256"
    if (run_dir / "report.md").is_file() and stamp.is_file() \
            and stamp.read_text() == digest.hexdigest():
        log.info("report is up to date with the result tables")
        return
    write_report(run_dir)
    write_text(stamp, digest.hexdigest())


def _write_tables(run_dir: Path, tables: dict[str, list[dict]]) -> None:
    results = run_dir / "results"
    for name, rows in tables.items():
        if rows:
            columns = COLUMNS["cartography" if name.startswith("cartography") else name]
            write_table(results / name, rows, columns)
