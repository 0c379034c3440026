"""Zero-shot transfer and its relation to representation change."""

from __future__ import annotations

import statistics

from figures import bars, change
from figures.tables import Rows, distinct, markdown_table, select, sort_key
from xalign.report.base import (
    Report,
    finite,
    missing,
    models_of,
    p_value,
    significant_elsewhere,
    slug,
    tag,
)


def _label(row: dict, several: bool) -> str:
    task = row["inter_task"]
    return f"{row['condition']} ({task})" if several and task else str(row["condition"])


def _cell(values: list[float], lows: list[float], highs: list[float]) -> str:
    mean = statistics.fmean(values)
    spread = f" \u00b1 {statistics.stdev(values):.3f}" if len(values) > 1 else ""
    test = ""
    if lows and all(finite(v) for v in lows + highs):
        test = f" [{statistics.fmean(lows):.3f}, {statistics.fmean(highs):.3f}]"
    return f"{mean:.3f}{spread}{test}"


def _zeroshot_table(rows: Rows) -> str:
    several = len({r["inter_task"] for r in rows if r["inter_task"]}) > 1
    labels = sorted({_label(r, several) for r in rows},
                    key=lambda c: sort_key("condition", c.split(" (")[0]) + (c,))
    body = []
    for lang in distinct(rows, "language"):
        line = [lang]
        for label in labels:
            cell = [r for r in select(rows, language=lang) if _label(r, several) == label]
            line.append(_cell([r["value"] for r in cell], [r["ci_low"] for r in cell],
                              [r["ci_high"] for r in cell]) if cell else "")
        body.append(line)
    mean_line = ["mean (non-English)"]
    for label in labels:
        mine = [r for r in rows if _label(r, several) == label and r["language"] != "en"]
        per_seed = [statistics.fmean(r["value"] for r in select(mine, seed=s))
                    for s in distinct(mine, "seed")]
        mean_line.append(_cell(per_seed, [], []) if per_seed else "")
    return markdown_table(["language", *labels], [*body, mean_line])


def zeroshot_section(report: Report) -> str:
    rows = report.tables.get("zeroshot")
    if rows is None:
        return missing("zeroshot", "Zero-shot cross-lingual transfer")
    parts = ["## Zero-shot cross-lingual transfer",
             "Cells: mean over seeds \u00b1 seed SD; in brackets the test-set 95% interval of "
             "one checkpoint (Wilson, averaged over seeds) where the score is an accuracy. "
             "The last line averages the non-English languages per seed, then over seeds. "
             "Figures: bars = seed means, black lines = test-set interval, dots = seeds."]
    models = models_of(rows)
    for model in models:
        for target in distinct(select(rows, model=model), "target"):
            for metric in distinct(select(rows, model=model, target=target), "metric"):
                chosen = select(rows, model=model, target=target, metric=metric)
                n_items = sorted({int(r["n"]) for r in chosen})
                items = f"{n_items[0]}" if len(n_items) == 1 else \
                    f"{n_items[0]}-{n_items[-1]}"
                parts.append(f"### {target} {metric} ({model}, "
                             f"{len(distinct(chosen, 'seed'))} seeds, {items} test items per "
                             f"language)")
                parts.append(_zeroshot_table(chosen))
                stem = f"zeroshot{tag(models, model)}_{slug(target)}_{slug(metric)}"
                parts.append(report.figure(bars.plot_language_bars, stem, ["zeroshot"],
                                           f"{target} {metric} per language", inputs=[chosen],
                                           metric=metric, where={"model": model,
                                                                 "target": target}))
    return "\n\n".join(parts)


def _corr(row: dict, key: str) -> str:
    if not finite(row[key]):
        return "n/a"
    low, high = row[f"{key}_lo"], row[f"{key}_hi"]
    band = f" [{low:.2f}, {high:.2f}]" if finite(low) and finite(high) else ""
    return f"{row[key]:.2f}{band}"


def _change_table(rows: Rows, units: str) -> str:
    body = [[r["measure"], _corr(r, "pearson"), _corr(r, "spearman"), p_value(r["p_value"]),
             p_value(r["p_adjusted"]), int(r[units]), int(r["n_seeds"])] for r in rows]
    return markdown_table(["measure", "Pearson r [95% CI]", "Spearman \u03c1 [95% CI]", "p",
                           "Holm p", units.replace("_", " "), "n seeds"], body)


def headline_change(row: dict) -> str:
    return (f"Headline ({row['measure']} at layer {int(row['layer'])}, between checkpoints, "
            f"target {row['target']}): Spearman \u03c1 = {_corr(row, 'spearman')}, Pearson "
            f"r = {_corr(row, 'pearson')}, bootstrap p = {p_value(row['p_value'])}, n = "
            f"{int(row['n_checkpoints'])} checkpoints from {int(row['n_seeds'])} seeds.")


def change_section(report: Report) -> str:
    rows = report.tables.get("change_vs_accuracy")
    title = "Representation change vs zero-shot change"
    if rows is None:
        return missing("change_vs_accuracy", title)
    heads = report.headline_layers()
    parts = [f"## {title}",
             "Unit: one fine-tuned checkpoint (condition other than none); its change is "
             "measured against the none checkpoint of the same seed (zero-shot) and against "
             "phase 0 (representation). Between checkpoints: each checkpoint's changes "
             "averaged over languages. Within language: each checkpoint's per-language "
             "changes centred on its own mean, pooled. Intervals and p (Spearman) resample "
             "whole seeds; Holm p within one model, target and analysis over all measures "
             "and layers. Only the headline row is confirmatory."]
    models = models_of(rows)
    for model in models:
        for target in distinct(select(rows, model=model), "target"):
            chosen = select(rows, model=model, target=target)
            layer = heads.get(model)
            parts.append(f"### target {target}, layer {layer} ({model})")
            parts += [headline_change(r) for r in select(chosen, role="primary")]
            for analysis, units in (("between_checkpoint", "n_checkpoints"),
                                    ("within_language", "n_points")):
                mine = select(chosen, analysis=analysis)
                if mine:
                    parts.append(f"{analysis.replace('_', ' ')}:")
                    parts.append(_change_table(select(mine, layer=layer), units))
            parts.append(_elsewhere([r for r in chosen if r["layer"] != layer]))
            parts += _scatter(report, models, model, target, chosen, layer)
    return "\n\n".join(parts)


def _elsewhere(rows: Rows) -> str:
    return significant_elsewhere(
        rows, lambda r: f"{r['measure']} layer {r['layer']} ({r['analysis']}): \u03c1 = "
                        f"{r['spearman']:.2f}, Holm p = {p_value(r['p_adjusted'])}",
        "Other layers: no correlation with Holm p < 0.05.")


def _scatter(report: Report, models, model: str, target: str, rows: Rows, layer) -> list[str]:
    points = select(report.tables.get("change_points", []), model=model, target=target,
                    layer=layer)
    primary = select(rows, role="primary")
    measure = primary[0]["measure"] if primary else (distinct(points, "measure") or [None])[0]
    points = select(points, measure=measure)
    if not points:
        return ["_No change_points for the headline measure: scatter skipped._"]
    stem = f"change{tag(models, model)}_{slug(target)}_{slug(measure)}_layer{layer}"
    return [report.figure(change.plot_change_vs_accuracy, stem,
                          ["change_points", "change_vs_accuracy"],
                          f"{measure} at layer {layer} vs zero-shot change",
                          inputs=[points, rows], measure=measure, layer=layer,
                          where={"model": model, "target": target})]
