"""The result tables of a run, assembled from the plan and its units' records.

One function per table family; every row follows :data:`xalign.tables.SCHEMAS`. Because
the tables are rebuilt from the records after every run, a killed run started again ends
with the same tables as an uninterrupted one.
"""

from __future__ import annotations

from collections import defaultdict

from xalign.plan import Lineage, Plan


def assemble(plan: Plan, results: dict) -> dict[str, list[dict]]:
    """Every base table (no analysis) from the unit results of ``plan``."""
    tables: dict[str, list[dict]] = defaultdict(list)
    probes = {u.name: u for u in plan.units if u.kind == "probe"}
    done = set(results)
    for model in plan.config.model.names:
        # a subset of the plan (``xalign difficulty``) may hold no probe at all
        base = next((u.name for u in probes.values() if u.model == model and u.phase == 0),
                    None)
        for lin in (lin for lin in plan.lineages if lin.model == model):
            _lineage_rows(plan, results, lin, base, tables, done)
    _training_rows(plan, results, tables)
    _condition_rows(plan, results, tables)
    return dict(tables)


def _key(lin: Lineage, results: dict) -> dict:
    """A lineage's identity; a task-level condition's task is known once it has trained."""
    task = lin.inter_task
    if not task and lin.phase1 and lin.phase1 in results:
        task = results[lin.phase1].get("inter_task", "")
    return {"model": lin.model, "condition": lin.condition, "inter_task": task,
            "seed": lin.seed}


def _checkpoints(plan: Plan, lin: Lineage, base: str):
    """(phase, train_task, probe unit, phase-CKA unit, producer) of each checkpoint.

    The probe is None for a phase that ``probe.phases`` leaves out (its zero-shot rows
    are still reported); none's phase 1 is the pretrained model itself."""
    names = {u.deps[-1] if u.deps else None: u.name for u in plan.units if u.kind == "probe"}
    ckas = {u.deps[-1]: u.name for u in plan.units if u.kind == "phase_cka"}
    yield 0, "", base, None, None
    phase1 = names.get(lin.phase1) if lin.phase1 else base
    yield 1, "", phase1, ckas.get(lin.phase1), lin.phase1
    for train_task, producer in lin.phase2.items():
        yield 2, train_task, names.get(producer), ckas.get(producer), producer


def _lineage_rows(plan, results, lin, base, tables, done) -> None:
    from probe.models import model_fingerprint

    key = _key(lin, results)
    trained = any(u in done for u in (lin.phase1, *lin.phase2.values()) if u)
    for phase, train_task, probe, cka, producer in _checkpoints(plan, lin, base):
        head = {**key, "phase": phase, "train_task": train_task}
        if producer in done or (producer is None and (trained or base in done)):
            path = results[producer]["encoder"] if producer else _base_path(plan, lin.model)
            tables["checkpoints"].append({**head, "path": path,
                                          "fingerprint": model_fingerprint(path)})
        if phase == 2 and producer in done:
            _zeroshot_rows(plan, results, producer, key, train_task, tables, done)
        if probe is None or probe not in done:
            continue
        tables["alignment"] += [{**head, **row} for row in results[probe]["rows"]]
        if cka is not None and cka in done:
            measures = results[cka]["measures"]
            tables["cka_grid"] += [{**key, "phase_a": 0, "phase_b": phase,
                                    "train_task": train_task, **row}
                                   for row in results[cka]["rows"]]
        else:  # the pretrained model (or none's phase 1) against itself
            measures = _identity(plan, results[probe]["rows"])
        tables["alignment"] += [{**head, "language": "en", "layer": layer, "metric": metric,
                                 "value": value}
                                for metric, values in measures.items()
                                for layer, value in enumerate(values)]


def _zeroshot_rows(plan, results, producer, key, train_task, tables, done) -> None:
    for unit in plan.units:
        if unit.kind == "zeroshot" and unit.deps == (producer,) and unit.name in done:
            tables["zeroshot"] += [{**key, "train_task": train_task,
                                    "target": unit.eval_task, **row}
                                   for row in results[unit.name]["rows"]]


def _identity(plan: Plan, rows: list[dict]) -> dict[str, list[float]]:
    """A checkpoint against itself: every similarity index is 1 by definition (a
    calibrated z-score has no meaning there and is left out)."""
    layers = 1 + max(r["layer"] for r in rows)
    return {f"{m}_vs_phase0": [1.0] * layers for m in ("cka", *plan.config.probe.measures)}


def _base_path(plan: Plan, model: str) -> str:
    from probe.models import resolve_model_path

    return str(resolve_model_path(model, revision=plan.config.model.revision))


def _training_rows(plan: Plan, results: dict, tables) -> None:
    difficulty = [results[u.name] for u in plan.units
                  if u.kind == "task_difficulty" and u.name in results]
    for model in plan.config.model.names:
        rows = [r for r in difficulty if r["model"] == model]
        mean = defaultdict(list)
        for row in rows:
            mean[row["task"]].append(row["normalised_error"])
        order = sorted(mean, key=lambda t: (sum(mean[t]) / len(mean[t]), t))
        for row in rows:  # rank of the task by its mean over seeds (1 = easiest)
            tables["task_difficulty"].append({**row, "rank": order.index(row["task"]) + 1})
    for unit in plan.units:
        if unit.kind == "selection" and unit.name in results:
            tables[f"cartography_{unit.inter_task}"] += results[unit.name]["table"]
            tables["difficulty_agreement"] += results[unit.name].get("agreement", [])


def _condition_rows(plan: Plan, results: dict, tables) -> None:
    task_of = {producer: _key(lin, results)["inter_task"] for lin in plan.lineages
               for producer in (lin.phase1, *lin.phase2.values()) if producer}
    for unit in plan.units:
        if unit.kind != "condition_cka" or unit.name not in results:
            continue
        task_a, task_b = (task_of[dep] for dep in unit.deps)
        head = {"model": unit.model, "seed": unit.seed, "phase": unit.phase,
                "train_task": unit.train_task, "condition_a": unit.condition,
                "inter_task_a": task_a, "condition_b": unit.other[0], "inter_task_b": task_b}
        tables["condition_cka"] += [{**head, **row} for row in results[unit.name]]
