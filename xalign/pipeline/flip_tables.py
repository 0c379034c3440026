"""The flip tables of a run: which Tatoeba pairs change between checkpoints.

Comparisons come from the plan: phase 0 -> 1 and 1 -> 2 within each lineage, and b -> a
between the two conditions of each configured contrast "a-b" (same seed and phase). The
counts cover every layer; the pairs themselves are listed at the headline layer only.
"""

from __future__ import annotations

from xalign.analysis.flips import count_rows, pair_rows
from xalign.plan import Lineage, Plan


def flip_tables(plan: Plan, results: dict, texts: dict, layers: dict[str, int]
                ) -> dict[str, list[dict]]:
    """``flip_counts`` and ``flip_pairs`` rows.

    Args:
        plan, results: the run's plan and unit results (probe results carry ``hits``).
        texts: language -> (xx texts, English texts) of the aligned corpora.
        layers: model -> the headline layer (a hidden_states index).
    """
    counts, pairs = [], []
    for before, after, head in _comparisons(plan, results):
        hits_b, hits_a = results[before].get("hits", {}), results[after].get("hits", {})
        counts += count_rows(hits_b, hits_a, head)
        pairs += pair_rows(hits_b, hits_a, head, layers[head["model"]], texts)
    return {"flip_counts": counts, "flip_pairs": pairs}


def _comparisons(plan: Plan, results: dict):
    """(probe unit before, probe unit after, identity columns) of every comparison."""
    probes = {(u.deps[-1] if u.deps else None, u.model): u.name for u in plan.units
              if u.kind == "probe"}

    def probe_of(lin: Lineage, producer: str | None) -> str | None:
        name = probes.get((producer, lin.model))
        return name if name in results else None

    def key(lin: Lineage, phase: int, suffix: str = "") -> dict:
        task = lin.inter_task or (results.get(lin.phase1) or {}).get("inter_task", "")
        return {f"condition{suffix}": lin.condition, f"inter_task{suffix}": task,
                f"phase{suffix}": phase}

    for lin in plan.lineages:
        base = {"model": lin.model, "seed": lin.seed}
        steps = [(0, None, 1, lin.phase1)] if lin.phase1 else []
        steps += [(1, lin.phase1, 2, p2) for p2 in lin.phase2.values()]
        for phase_b, producer_b, phase_a, producer_a in steps:
            before, after = probe_of(lin, producer_b), probe_of(lin, producer_a)
            if before and after:
                train = _train_task(lin, producer_a)
                yield before, after, {**base, **key(lin, phase_b, "_from"), **key(lin, phase_a),
                                      "train_task": train}
    yield from _between_conditions(plan, results, probe_of, key)


def _between_conditions(plan: Plan, results: dict, probe_of, key):
    pairs = [tuple(c.split("-")) for c in plan.config.analysis.contrasts]
    for a, b in pairs:
        for la in (lin for lin in plan.lineages if lin.condition == a):
            for lb in (lin for lin in plan.lineages if lin.condition == b
                       and lin.seed == la.seed and lin.model == la.model
                       and (lin.inter_task in ("", la.inter_task) or la.inter_task == "")):
                base = {"model": la.model, "seed": la.seed}
                for phase, producer_a, producer_b, train in _same_phase(la, lb):
                    before, after = probe_of(lb, producer_b), probe_of(la, producer_a)
                    if before and after and before != after:
                        yield before, after, {**base, **key(lb, phase, "_from"),
                                              **key(la, phase), "train_task": train}


def _same_phase(la: Lineage, lb: Lineage):
    yield 1, la.phase1, lb.phase1, ""
    for train in la.phase2.keys() & lb.phase2.keys():
        yield 2, la.phase2[train], lb.phase2[train], train


def _train_task(lin: Lineage, producer: str | None) -> str:
    return next((t for t, p in lin.phase2.items() if p == producer), "")
