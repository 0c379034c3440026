"""Condition contrasts paired by seed: the ``contrasts`` table (REFERENCE.md statistics).

One row per (model, target, phase, metric, layer, contrast, inter_task). For a contrast
"a-b" and one seed, each condition's value is the mean over languages (non-English for
zero-shot; the languages both checkpoints have), and the seed's difference is a minus b;
:func:`xalign.stats.paired_contrast` turns the per-seed differences into the estimate,
t-interval and exact sign-flip p.

Pairing: checkpoints of the same model and seed (and, at phase 2, the same train_task).
Two ordinary conditions (easy, hard, random, ...) pair within one ``inter_task``. The
conditions in :data:`SEED_LEVEL` exist once per seed and pair with any ``inter_task``:
``none`` (no intermediate task; the row's inter_task is the other side's), and
``task_easiest`` / ``task_hardest`` (their task is chosen per seed; the row's inter_task
names it, e.g. ``task_hardest:mnli|task_easiest:sst2``, several choices joined by ";").

Multiplicity (Holm): the alignment rows of one (model, target, phase, contrast,
inter_task) form a family (all metrics x layers); a zero-shot row is a family of its own.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from xalign.analysis.primary import Headline
from xalign.analysis.series import (
    Series,
    finite_or_none,
    group_values,
    mean_difference,
    target_train_tasks,
)
from xalign.stats import holm, paired_contrast

log = logging.getLogger(__name__)

SEED_LEVEL = ("none", "task_easiest", "task_hardest")
ZEROSHOT_PREFIX = "zeroshot_"  # contrast metric of a target's own zero-shot score
STATISTICS = ("estimate", "ci_low", "ci_high", "p_value", "sd")


def parse_contrast(spec: str) -> tuple[str, str]:
    """"hard-easy" -> ("hard", "easy"); condition names hold no "-"."""
    parts = spec.split("-")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"analysis.contrasts: {spec!r} is not of the form 'a-b' "
                         f"(e.g. 'hard-easy')")
    return parts[0], parts[1]


def contrast_rows(alignment: Iterable[dict], zeroshot: Iterable[dict], *,
                  contrasts: Sequence[str], headline: Headline) -> list[dict]:
    """The contrasts table from the alignment and zero-shot tables.

    Args:
        alignment: alignment rows (tables.SCHEMAS["alignment"]); phase 0 is skipped (every
            condition's phase 0 is the same pretrained model).
        zeroshot: zeroshot rows; their English rows are left out.
        contrasts: "a-b" specs in report order; contrasts whose conditions are absent
            give no rows.
        headline: marks the primary rows (role "primary"; zero-shot rows are primary too).

    Returns:
        Rows with the columns of ``tables.SCHEMAS["contrasts"]``; statistics that need 2
        seeds are None with one seed.
    """
    pairs = [(spec, *parse_contrast(spec)) for spec in contrasts]
    rows = []
    for fields, series in _cells(list(alignment), list(zeroshot)):
        for spec, a, b in pairs:
            for inter_task, diffs in _paired_differences(series, a, b).items():
                stats = paired_contrast(diffs)
                primary = fields["metric"].startswith(ZEROSHOT_PREFIX) or headline.is_primary(
                    fields["model"], fields["metric"], fields["phase"], fields["layer"])
                rows.append({**fields, "contrast": spec, "inter_task": inter_task,
                             **{k: finite_or_none(stats[k]) for k in STATISTICS},
                             "n_seeds": stats["n_seeds"], "p_adjusted": None,
                             "role": "primary" if primary else "exploratory"})
    _adjust(rows)
    order = {spec: i for i, (spec, _, _) in enumerate(pairs)}
    rows.sort(key=lambda r: (r["model"], r["target"], r["phase"], order[r["contrast"]],
                             r["inter_task"], not r["metric"].startswith(ZEROSHOT_PREFIX),
                             r["metric"], -1 if r["layer"] is None else r["layer"]))
    return rows


def _cells(alignment: list[dict], zeroshot: list[dict]):
    """(output fields, series) of every alignment and zero-shot cell, in table order."""
    cells = group_values((r for r in alignment if r["phase"] != 0),
                         lambda r: (r["model"], r["phase"], r["train_task"], r["metric"],
                                    int(r["layer"])), table="alignment")
    for (model, phase, train_task, metric, layer), series in sorted(cells.items()):
        # a phase-2 checkpoint is named by its target task; phases 0-1 precede any target
        yield {"model": model, "target": train_task if phase == 2 else "", "phase": phase,
               "metric": metric, "layer": layer}, series
    target_train_tasks(zeroshot)  # one train task per target, or a clear error
    cells = group_values(zeroshot, lambda r: (r["model"], r["target"], r["metric"]),
                         table="zeroshot", skip_languages=("en",))
    for (model, target, metric), series in sorted(cells.items()):
        yield {"model": model, "target": target, "phase": 2,
               "metric": ZEROSHOT_PREFIX + metric, "layer": None}, series


def _paired_differences(series: Series, a: str, b: str) -> dict[str, list[float]]:
    """inter_task label -> per-seed differences a - b (seeds in increasing order)."""
    side_a = [(inter, seed, v) for (c, inter, seed), v in series.items() if c == a]
    side_b = [(inter, seed, v) for (c, inter, seed), v in series.items() if c == b]
    groups: dict[str, dict[int, tuple[str, float]]] = defaultdict(dict)
    for inter_a, seed, values_a in side_a:
        for inter_b, seed_b, values_b in side_b:
            if seed_b != seed or (a not in SEED_LEVEL and b not in SEED_LEVEL
                                  and inter_a != inter_b):
                continue
            diff = mean_difference(values_a, values_b)
            if diff is None:
                continue
            group = inter_a if a not in SEED_LEVEL else inter_b if b not in SEED_LEVEL else ""
            if seed in groups[group]:
                raise ValueError(f"contrast {a}-{b}: several checkpoints of one condition for "
                                 f"seed {seed} (inter_task {inter_a!r} vs {inter_b!r}); "
                                 f"{SEED_LEVEL} must have one checkpoint per seed")
            groups[group][seed] = (_label(a, inter_a, b, inter_b), diff)
    out = {}
    for by_seed in groups.values():
        labels = sorted({label for label, _ in by_seed.values()})
        out[";".join(labels)] = [by_seed[seed][1] for seed in sorted(by_seed)]
    return out


def _label(a: str, inter_a: str, b: str, inter_b: str) -> str:
    """The inter_task column: the shared task, or each seed-level condition's own task."""
    parts = []
    for cond, inter in ((a, inter_a), (b, inter_b)):
        if not inter:
            continue
        part = f"{cond}:{inter}" if cond in SEED_LEVEL else inter
        if part not in parts:
            parts.append(part)
    return "|".join(parts)


def _adjust(rows: list[dict]) -> None:
    """Fill p_adjusted by Holm within each family (see the module docstring)."""
    families: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        zeroshot = row["metric"].startswith(ZEROSHOT_PREFIX)
        families[(row["model"], row["target"], row["phase"], row["contrast"],
                  row["inter_task"], row["metric"] if zeroshot else "")].append(row)
    for members in families.values():
        p = [row["p_value"] if row["p_value"] is not None else float("nan") for row in members]
        for row, adjusted in zip(members, holm(p), strict=True):
            row["p_adjusted"] = finite_or_none(adjusted)
