"""Representation change vs zero-shot accuracy change, with the checkpoint as the unit.

Per evaluation target, a unit is one fine-tuned checkpoint (model, condition, inter_task,
seed) with condition != none whose seed has a ``none`` baseline. Per language l:

- accuracy change: zero-shot score(unit, l) - score(none of the same model and seed, l),
  non-English languages;
- representation change at layer L, for every alignment metric m and phase k in (1, 2):
  ``delta_<m>_p<k>`` = m(unit, phase k, l) - m(unit, phase 0, l); and
  ``cka_vs_phase0_p<k>``, CKA between phase k and phase 0 on English sentences (one value
  per checkpoint, so it enters the between-checkpoint analysis only).

Two analyses per measure and layer (table ``change_vs_accuracy``):

- ``between_checkpoint``: each unit's changes averaged over its languages; Pearson and
  Spearman across units;
- ``within_language``: each unit's per-language changes centred on the unit's own mean
  (this removes everything the languages of one checkpoint share), pooled over units.

Both resample whole seeds (all checkpoints of a seed together) for the 95% percentile
intervals and the two-sided bootstrap p of Spearman's rho (:func:`probe.change.correlate`).
n is the number of checkpoints (and of seeds, the resampled clusters; within-language
also the number of pooled points). p_adjusted: Holm over all measures x layers of one
(model, target, analysis).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from probe.change import layer_predictiveness
from xalign.analysis.primary import Headline, change_measure
from xalign.analysis.series import (
    Member,
    finite_or_none,
    group_values,
    mean_value,
    target_train_tasks,
)
from xalign.stats import holm

log = logging.getLogger(__name__)

MIN_CHECKPOINTS = 3  # a correlation needs 3 points; fewer units give no row
CORR_FIELDS = ("pearson", "pearson_lo", "pearson_hi", "spearman", "spearman_lo",
               "spearman_hi")
Changes = dict[Member, dict[int, dict[str, float]]]  # unit -> layer -> language -> change


def change_tables(alignment: Iterable[dict], zeroshot: Iterable[dict], *, headline: Headline,
                  n_boot: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """The change_vs_accuracy rows and the change_points behind them (one per checkpoint).

    Args:
        alignment: alignment rows (tables.SCHEMAS["alignment"]).
        zeroshot: zeroshot rows (tables.SCHEMAS["zeroshot"]).
        headline: its measure at its layer, between checkpoints, is the primary row.
        n_boot: bootstrap resamples per correlation. seed: their generator seed.

    Returns:
        ``(rows, points)`` with the columns of tables.SCHEMAS["change_vs_accuracy"] and
        ["change_points"]; empty when no target has 3 checkpoints with a baseline.
    """
    zeroshot = list(zeroshot)
    cells = group_values(alignment, lambda r: (r["model"], r["metric"], r["phase"],
                                               r["train_task"], int(r["layer"])),
                         table="alignment")
    metrics = defaultdict(set)
    for model, metric, *_ in cells:
        metrics[model].add(metric)
    target_train_tasks(zeroshot)
    scores = group_values(zeroshot, lambda r: (r["model"], r["target"], r["train_task"]),
                          table="zeroshot", skip_languages=("en",))
    rows, points = [], []
    for (model, target, train_task), series in sorted(scores.items()):
        accuracy = _accuracy_changes(series)
        if len(accuracy) < MIN_CHECKPOINTS:
            log.info("change vs accuracy, %s on %s: %d checkpoints with a baseline, need %d",
                     model, target, len(accuracy), MIN_CHECKPOINTS)
            continue
        for metric in sorted(metrics[model]):
            for phase in (1, 2):
                changes = _representation_changes(cells, (model, metric, phase),
                                                  train_task if phase == 2 else "", accuracy)
                fields = {"model": model, "target": target,
                          "measure": change_measure(metric, phase)}
                rows += _between(fields, changes, accuracy, points, n_boot, seed)
                if metric != "cka_vs_phase0":
                    rows += _within(fields, changes, accuracy, n_boot, seed)
    _finish(rows, headline)
    return rows, points


def _accuracy_changes(series) -> dict[Member, dict[str, float]]:
    """unit -> language -> score minus the none baseline of the same seed."""
    out = {}
    for (condition, inter_task, seed), values in series.items():
        base = series.get(("none", "", seed))
        if condition == "none" or base is None:
            continue
        common = values.keys() & base.keys()
        if common:
            out[(condition, inter_task, seed)] = {lang: values[lang] - base[lang]
                                                  for lang in common}
    return out


def _representation_changes(cells, key: tuple, train_task: str, units) -> Changes:
    """unit -> layer -> language -> change of metric ``key[1]`` at phase ``key[2]``."""
    model, metric, phase = key
    out: Changes = defaultdict(dict)
    for (m, met, ph, task, layer), series in cells.items():
        if (m, met, ph, task) != (model, metric, phase, train_task):
            continue
        before = cells.get((model, metric, 0, "", layer), {})
        for unit in units:
            now = series.get(unit)
            if now is None:
                continue
            if metric == "cka_vs_phase0":  # already a comparison with phase 0
                out[unit][layer] = now
            elif unit in before:
                change = {lang: now[lang] - before[unit][lang]
                          for lang in now.keys() & before[unit].keys()}
                if change:
                    out[unit][layer] = change
    return out


def _complete(changes: Changes) -> tuple[list[Member], list[int]]:
    """Units and the layers every one of them has (sorted)."""
    units = sorted(changes)
    if not units:
        return [], []
    return units, sorted(set.intersection(*(set(changes[u]) for u in units)))


def _between(fields, changes: Changes, accuracy, points: list, n_boot: int, seed: int):
    units, layers = _complete(changes)
    if len(units) < MIN_CHECKPOINTS or not layers:
        return []
    x = np.array([[mean_value(changes[u][layer]) for layer in layers] for u in units])
    y = np.array([mean_value(accuracy[u]) for u in units])
    seeds = [u[2] for u in units]
    for col, layer in enumerate(layers):
        points += [{**fields, "layer": layer, "condition": u[0], "inter_task": u[1],
                    "seed": u[2], "change": float(x[i, col]), "accuracy_change": float(y[i])}
                   for i, u in enumerate(units)]
    found = layer_predictiveness(x, y, layers=layers, n_boot=n_boot, seed=seed, clusters=seeds)
    return [_row(fields, "between_checkpoint", r, len(units), len(units)) for r in found]


def _within(fields, changes: Changes, accuracy, n_boot: int, seed: int):
    units, layers = _complete(changes)
    x, y, clusters, used = [], [], [], 0
    for unit in units:
        shared = set(accuracy[unit]).intersection(*(changes[unit][layer] for layer in layers))
        if len(shared) < 2:  # one language centres to 0: nothing within the checkpoint
            continue
        langs = sorted(shared)
        rep = np.array([[changes[unit][layer][lang] for layer in layers] for lang in langs])
        acc = np.array([accuracy[unit][lang] for lang in langs])
        x.append(rep - rep.mean(axis=0))  # (languages, layers), centred per checkpoint
        y.append(acc - acc.mean())
        clusters += [unit[2]] * len(langs)
        used += 1
    if used < MIN_CHECKPOINTS or not layers:
        return []
    found = layer_predictiveness(np.vstack(x), np.concatenate(y), layers=layers,
                                 n_boot=n_boot, seed=seed, clusters=clusters)
    return [_row(fields, "within_language", r, used, len(clusters)) for r in found]


def _row(fields: dict, analysis: str, found: dict, n_checkpoints: int, n_points: int) -> dict:
    return {**fields, "analysis": analysis, "layer": found["layer"],
            **{k: finite_or_none(found[k]) for k in CORR_FIELDS},
            "p_value": finite_or_none(found["spearman_p"]), "p_adjusted": None,
            "n_checkpoints": n_checkpoints, "n_seeds": found["n_clusters"],
            "n_points": n_points}


def _finish(rows: list[dict], headline: Headline) -> None:
    """Holm within (model, target, analysis); mark the headline row; a stable order."""
    families: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        families[(row["model"], row["target"], row["analysis"])].append(row)
        primary = (row["analysis"] == "between_checkpoint" and row["measure"] == headline.measure
                   and row["layer"] == headline.layers.get(row["model"]))
        row["role"] = "primary" if primary else "exploratory"
    for members in families.values():
        p = [r["p_value"] if r["p_value"] is not None else float("nan") for r in members]
        for row, adjusted in zip(members, holm(p), strict=True):
            row["p_adjusted"] = finite_or_none(adjusted)
    rows.sort(key=lambda r: (r["model"], r["target"], r["analysis"], r["measure"], r["layer"]))
