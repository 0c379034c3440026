"""The plan as ``xalign run --plan`` prints it: units per kind, training, probes, cost."""

from __future__ import annotations

from collections import Counter

from xalign.plan import KINDS, Plan, Unit


def describe(plan: Plan) -> str:
    """A human-readable summary of every unit the run would execute."""
    config = plan.config
    ft = config.finetune
    lines = [f"plan for experiment {config.name!r}: {len(plan.units)} units",
             f"  models: {', '.join(config.model.names)}",
             f"  seeds: {', '.join(map(str, ft.seeds))}   conditions: "
             f"{', '.join(ft.conditions)}",
             f"  intermediate tasks: {', '.join(ft.intermediate_tasks) or '(none)'}",
             "  targets: " + (", ".join(f"{t} (trained on {_train(plan, t)})"
                                         for t in ft.target_tasks) or "(none)"),
             "", "units per kind:"]
    counts = plan.kinds()
    lines += [f"  {kind:<16} {counts[kind]:>6}" for kind in KINDS if counts[kind]]
    lines += ["", "training units (examples, optimizer steps; '?' = known once loaded):"]
    training = [u for u in plan.units if u.kind in ("task_difficulty", "selection", "phase1",
                                                     "phase2")]
    for unit in training:
        lines.append(f"  {unit.name:<60} {_n(unit.examples):>9} ex  {_n(unit.steps):>8} steps")
    if not training:
        lines.append("  (none)")
    lines += ["", _cost(plan, training)]
    if plan.missing:
        lines += ["", "to provide before running (a run stops here before any work):"]
        lines += [f"  - {item}" for item in plan.missing]
    return "\n".join(lines) + "\n"


def _train(plan: Plan, target: str) -> str:
    units = [u for u in plan.units if u.kind == "zeroshot" and u.eval_task == target]
    return units[0].train_task if units else "?"


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _cost(plan: Plan, training: list[Unit]) -> str:
    """Rough cost: optimizer steps x batch, and sentence encodings of the probes."""
    config = plan.config
    steps = [u.steps for u in training]
    known = sum(s for s in steps if s is not None)
    unknown = sum(s is None for s in steps)
    passes = sum((u.steps or 0) * _batch(config, u) for u in training)
    kinds = Counter(u.kind for u in plan.units)
    per_probe = _probe_sentences(config)
    sentences = "?" if per_probe is None else f"{kinds['probe'] * per_probe:,}"
    lines = ["rough cost:",
             f"  training: {known:,} optimizer steps ({passes:,} example forward/backward "
             f"passes)" + (f" + {unknown} units of unknown size" if unknown else ""),
             f"  probing: {kinds['probe']} checkpoints x about {_n(per_probe)} sentence "
             f"encodings (all layers in one pass) = {sentences}",
             f"  zero-shot evaluations: {kinds['zeroshot']}; CKA units: "
             f"{kinds['phase_cka'] + kinds['condition_cka']}"]
    return "\n".join(lines)


def _batch(config, unit: Unit) -> int:
    """Examples per optimizer step of a training unit (global batch x accumulation)."""
    from xalign.validate import train_config

    which = {"selection": "cartography", "phase2": "target"}.get(unit.kind, "intermediate")
    task = unit.train_task if unit.kind == "phase2" else None
    tconf = train_config(config, which, task=task)
    return tconf.batch_size * tconf.grad_accum


def _probe_sentences(config) -> int | None:
    """Sentences one probe unit encodes (an upper bound from the limits), if knowable."""
    data = config.data
    if data.aligned and data.aligned_limit is None:
        return None
    aligned = 2 * len(data.aligned) * (data.aligned_limit or 0)
    if data.mining and data.mining_limit is None:
        return None
    return aligned + 2 * 2 * len(data.mining) * (data.mining_limit or 0)
