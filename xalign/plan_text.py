"""The plan as ``xalign run --plan`` prints it: units per kind, training, probes, cost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

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
             f"{kinds['phase_cka'] + kinds['condition_cka']}",
             _disk(plan)]
    return "\n".join(lines)


def _disk(plan: Plan) -> str:
    """Disk the run keeps: one full model per trained checkpoint (final/ of every phase-1
    and phase-2 unit; a multi-task phase 1 keeps one per task), plus one resume
    checkpoint of the unit in training."""
    tasks = len(plan.config.finetune.intermediate_tasks)
    kept = Counter()
    for u in plan.units:
        if u.kind in ("phase1", "phase2"):
            kept[u.model] += tasks if u.kind == "phase1" and u.condition == "multi" else 1
    if not kept:
        return "  disk: no trained checkpoints"
    parts = []
    for model, n in kept.items():
        size = weights_bytes(model)
        parts.append(f"{n:,} x {_size(size)} = {_size(n * size)}" if size else
                     f"{n:,} x the weights of {model} (size known once they are local)")
    return "  disk: trained checkpoints kept, each a full model: " + "; ".join(parts)


def _size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size / 1e3:.1f} kB"


def weights_bytes(model: str) -> int | None:
    """Bytes of a model's weight files if they are on this machine (no download)."""
    from probe.e5_small import e5_small_dir

    folder = e5_small_dir(create=False) if model == "e5-small" else Path(model).expanduser()
    if folder.is_dir():
        files = list(folder.glob("*.safetensors")) or list(folder.glob("*.bin"))
        return sum(f.stat().st_size for f in files) or None
    try:  # a hub id: its files in the Hugging Face cache, if any
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "model.safetensors")
    except Exception:  # an id the hub library rejects: nothing to measure
        return None
    return Path(found).stat().st_size if isinstance(found, str) else None


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
