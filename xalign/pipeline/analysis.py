"""Relating representation change to zero-shot accuracy change across a run's grid.

An observation is one (model, condition, seed, language) with an intermediate phase
(condition other than ``none``). Its accuracy change is the zero-shot accuracy of that
condition minus the ``none`` baseline's, same model, seed and language. Its
representation change at layer l is, for each measure:

- ``delta_<metric>_p<k>``: alignment metric at phase k minus phase 0 (metrics
  ``cka_en_xx``, ``tatoeba_en2xx``, ``bucc_f1``), per language;
- ``cka_vs_phase0_p<k>``: CKA between phase 0 and phase k on English sentences at layer
  l (the same for every language of a condition).

The statistics are :func:`probe.change.layer_predictiveness` (Pearson, Spearman and
bootstrap intervals per layer).
"""

from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np

from probe.change import layer_predictiveness

log = logging.getLogger(__name__)

DELTA_METRICS = ("cka_en_xx", "tatoeba_en2xx", "bucc_f1")
MIN_OBSERVATIONS = 6  # fewer gives degenerate bootstrap intervals (e.g. rho = -1 [-1, -1])


def accuracy_changes(zeroshot: list[dict], task: str) -> dict[tuple, float]:
    """(model, condition, seed, language) -> accuracy minus the ``none`` baseline's.

    With several target tasks the conditions are ``<condition>><task>`` and the baseline
    is ``none><task>``.
    """
    acc = {(r["model"], r["condition"], r["seed"], r["language"]): r["value"]
           for r in zeroshot if r["task"] == task and r["language"] != "avg"}
    conditions = {key[1] for key in acc}
    baseline = "none" if "none" in conditions else f"none>{task}"
    out = {}
    for (model, cond, seed, lang), value in acc.items():
        base = acc.get((model, baseline, seed, lang))
        if cond != baseline and base is not None and value is not None and lang != "en":
            out[(model, cond, seed, lang)] = value - base
    return out


def change_tables(alignment: list[dict], zeroshot: list[dict], task: str, *,
                  phases=(1, 2), n_boot: int = 2000, seed: int = 0):
    """Correlation rows and the observation rows behind them (results schema)."""
    acc = accuracy_changes(zeroshot, task)
    if not acc:
        return [], []
    value = {(r["model"], r["condition"], r["seed"], r["phase"], r["language"], r["layer"],
              r["metric"]): r["value"] for r in alignment}
    corr_rows, points = [], []
    for measure, lookup in _measures(value, phases):
        obs, layers = _observations(acc, lookup)
        if len(obs) < MIN_OBSERVATIONS or not layers:
            continue
        change = np.array([[o["change"][layer] for layer in layers] for o in obs])
        y = np.array([o["accuracy_change"] for o in obs])
        for row in layer_predictiveness(change, y, layers=layers, n_boot=n_boot, seed=seed):
            corr_rows.append({"measure": measure, **row})
        for o in obs:
            for layer in layers:
                points.append({"measure": measure, "layer": layer, **o["key"],
                               "change": o["change"][layer],
                               "accuracy_change": o["accuracy_change"]})
    return corr_rows, points


def _measures(value: dict, phases):
    """(name, lookup) pairs; lookup(model, cond, seed, lang) -> {layer: change} or None."""
    by_key = defaultdict(dict)
    for (model, cond, seed, phase, lang, layer, metric), v in value.items():
        by_key[(model, cond, seed, phase, lang, metric)][layer] = v

    for phase in phases:
        for metric in DELTA_METRICS:
            def lookup(model, cond, seed, lang, phase=phase, metric=metric):
                now = by_key.get((model, cond, seed, phase, lang, metric))
                before = by_key.get((model, cond, seed, 0, lang, metric))
                if not now or not before:
                    return None
                return {layer: now[layer] - before[layer] for layer in now if layer in before}

            yield f"delta_{metric}_p{phase}", lookup

        def cka_lookup(model, cond, seed, lang, phase=phase):
            return by_key.get((model, cond, seed, phase, "en", "cka_vs_phase0"))

        yield f"cka_vs_phase0_p{phase}", cka_lookup


def _observations(acc: dict, lookup):
    obs = []
    for (model, cond, seed, lang), dy in sorted(acc.items(), key=str):
        change = lookup(model, cond, seed, lang)
        if change:
            key = {"model": model, "condition": cond, "seed": seed, "language": lang}
            obs.append({"key": key, "change": change, "accuracy_change": dy})
    if not obs:
        return [], []
    layers = sorted(set.intersection(*(set(o["change"]) for o in obs)))
    return obs, layers
