"""Exploratory alignment sections: contrasts at the headline layer, layer curves, CKA."""

from __future__ import annotations

import statistics

from figures import bands, cka, forest, layers
from figures.style import PHASE_NAMES
from figures.tables import Rows, distinct, markdown_table, mean_by, select
from xalign.report.base import (
    Report,
    finite,
    interval,
    missing,
    models_of,
    p_value,
    signed,
    significant_elsewhere,
    slug,
    tag,
)
from xalign.stats import t_interval

METRIC_ORDER = ("tatoeba_en2xx", "tatoeba_xx2en", "tatoeba_en2xx_dedup", "bucc_f1",
                "bucc_f1_oracle", "cka_en_xx", "cka_vs_phase0")


def ordered_metrics(rows: Rows) -> list[str]:
    present = distinct(rows, "metric")
    return [m for m in METRIC_ORDER if m in present] + [m for m in present if m not in METRIC_ORDER]


def _phase_title(phase: int, target: str) -> str:
    return f"phase {phase} ({PHASE_NAMES.get(phase, '?')})" + (f", target {target}" if target
                                                              else "")


def contrasts_section(report: Report) -> str:
    rows = report.tables.get("contrasts")
    if rows is None:
        return missing("contrasts", "Contrasts at the headline layer (exploratory)")
    heads = report.headline_layers()
    parts = ["## Contrasts at the headline layer (exploratory)",
             "Every alignment metric at the headline layer, and the zero-shot score. p: the "
             "exact sign-flip p; Holm p: adjusted within its family (one model, target, "
             "phase, contrast and intermediate task over all metrics and layers; a zero-shot "
             f"row is a family of its own). All layers: results/contrasts.csv ({len(rows)} "
             "rows)."]
    models = models_of(rows)
    for model in models:
        mine = select(rows, model=model)
        for phase, target in sorted({(int(r["phase"]), r["target"]) for r in mine}):
            chosen = [r for r in select(mine, target=target) if int(r["phase"]) == phase]
            shown = [r for r in chosen if not finite(r["layer"])
                     or int(r["layer"]) == heads.get(model)]
            parts.append(f"### {_phase_title(phase, target)}, layer {heads.get(model)} "
                         f"({model})")
            parts.append(_contrast_table(shown))
            stem = f"forest{tag(models, model)}_p{phase}" + (f"_{slug(target)}" if target else "")
            parts.append(report.figure(forest.plot_contrast_forest, stem, ["contrasts"],
                                       f"contrasts, phase {phase}, layer {heads.get(model)}",
                                       inputs=[shown]))
            parts.append(_elsewhere([r for r in chosen if r not in shown]))
    return "\n\n".join(parts)


def _contrast_table(rows: Rows) -> str:
    """One line per row: contrasts in table order, the primary row first, then by metric."""
    order = {c: i for i, c in enumerate(dict.fromkeys(r["contrast"] for r in rows))}
    rows = sorted(rows, key=lambda r: (order[r["contrast"]], r["inter_task"],
                                       r["role"] != "primary", _metric_rank(str(r["metric"]))))
    body = [[r["contrast"], r["inter_task"] or "-", r["metric"], signed(r["estimate"]),
             interval(r["ci_low"], r["ci_high"], ", "), p_value(r["p_value"]),
             p_value(r["p_adjusted"]), int(r["n_seeds"]), r["role"]] for r in rows]
    return markdown_table(["contrast", "inter_task", "metric", "estimate", "95% CI", "p",
                           "Holm p", "n seeds", "role"], body)


def _metric_rank(metric: str) -> tuple[bool, int, str]:
    """Zero-shot first, then METRIC_ORDER, then the rest by name."""
    index = METRIC_ORDER.index(metric) if metric in METRIC_ORDER else len(METRIC_ORDER)
    return (not metric.startswith("zeroshot_"), index, metric)


def _elsewhere(rows: Rows) -> str:
    return significant_elsewhere(
        rows, lambda r: f"{r['contrast']} {r['metric']} layer {int(r['layer'])}: "
                        f"{signed(r['estimate'])} (Holm p = {p_value(r['p_adjusted'])})",
        "Other layers: no row with Holm p < 0.05.")


PAPER_METRICS = ("tatoeba_en2xx", "tatoeba_xx2en", "bucc_f1", "bucc_f1_oracle")


def headline_layer_section(report: Report) -> str | None:
    """Tatoeba and BUCC at the headline layer (XLM-R: the paper's fixed layer, jiant's
    hidden_states[14] for large), next to the all-layer tables: mean over languages per
    seed, then mean and SD over seeds."""
    rows = [r for r in report.tables.get("alignment", []) if r["metric"] in PAPER_METRICS]
    if not rows:
        return None
    layers = report.headline_layers()
    rows = [r for r in rows if r["layer"] == layers.get(r["model"])]
    groups: dict[tuple, dict[int, list[float]]] = {}
    for r in rows:
        key = (r["model"], r["metric"], r["phase"], r["condition"], r["inter_task"],
               r["train_task"])
        groups.setdefault(key, {}).setdefault(r["seed"], []).append(r["value"])
    body = []
    for key in sorted(groups, key=lambda k: (k[0], PAPER_METRICS.index(k[1]), k[2], k[3])):
        per_seed = [statistics.mean(v) for v in groups[key].values()]
        sd = statistics.stdev(per_seed) if len(per_seed) > 1 else float("nan")
        model, metric, phase, condition, inter, train = key
        body.append([model, metric, layers[model], phase, condition, inter or "-",
                     train or "-", f"{statistics.mean(per_seed):.3f}",
                     f"{sd:.3f}" if sd == sd else "n/a", len(per_seed)])
    header = ["model", "metric", "layer", "phase", "condition", "inter_task", "train_task",
              "mean", "seed SD", "n seeds"]
    return "\n\n".join([
        "## Retrieval at the headline layer",
        "Tatoeba accuracy and BUCC F1 at the headline layer (for XLM-R the paper's fixed "
        "layer, with mean pooling over all tokens): mean over languages per seed, then over "
        "seeds. Every layer: results/alignment.csv and the curves below.",
        markdown_table(header, body)])


def curves_section(report: Report) -> str:
    rows = report.tables.get("alignment")
    if rows is None:
        return missing("alignment", "Alignment by layer")
    parts = ["## Alignment by layer",
             "Conditions are compared at the same layer: the line is the seed mean, the band "
             "the 95% t-interval over seeds (each seed averaged over languages first)."]
    models = models_of(rows)
    headline = _headline_metric(report)
    for model in models:
        mine = select(rows, model=model)
        for metric in ordered_metrics(mine):
            chosen = select(mine, metric=metric)
            parts.append(f"### {metric} ({model})")
            if metric == headline:
                parts.append(_pretrained_curves(report, models, model, chosen, metric))
            for phase, task in sorted({(r["phase"], r["train_task"]) for r in chosen
                                       if r["phase"] > 0}):
                where = {"model": model, "train_task": task}
                stem = f"conditions_{slug(metric)}{tag(models, model)}_p{phase}" + (
                    f"_{slug(task)}" if task else "")
                parts.append(report.figure(
                    bands.plot_condition_curves, stem, ["alignment"],
                    f"{metric} by condition, {_phase_title(phase, task)}", inputs=[chosen],
                    metric=metric, phase=phase, where=where))
            tasks = distinct([r for r in chosen if r["phase"] == 2], "train_task")
            parts.append(report.figure(
                layers.plot_phase_curves, f"phases_{slug(metric)}{tag(models, model)}",
                ["alignment"], f"{metric} per phase", inputs=[chosen], metric=metric,
                train_task=tasks[0] if tasks else None, where={"model": model}))
    return "\n\n".join(parts)


def _headline_metric(report: Report) -> str | None:
    primary = [r for r in select(report.tables.get("contrasts", []), role="primary")
               if not str(r["metric"]).startswith("zeroshot_")]
    return primary[0]["metric"] if primary else None


def _pretrained_curves(report: Report, models, model: str, rows: Rows, metric: str) -> str:
    """Per-language curves of the pretrained model (phase 0 is the same for every condition;
    the first condition's copy is drawn); the star marks each language's best layer."""
    phase0 = select(rows, phase=0)
    first = phase0[0]
    where = {"model": model, "condition": first["condition"], "inter_task": first["inter_task"]}
    return report.figure(layers.plot_layer_curves, f"languages_{slug(metric)}{tag(models, model)}",
                         ["alignment"], f"{metric} per language, pretrained model",
                         inputs=[select(phase0, where)], metric=metric, where=where,
                         title="phase 0 (pretrained)")


def condition_cka_section(report: Report) -> str:
    rows = report.tables.get("condition_cka")
    if rows is None:
        return missing("condition_cka", "CKA between conditions")
    heads = report.headline_layers()
    parts = ["## CKA between conditions",
             "CKA between the checkpoints of two conditions with the same seed and phase, "
             "per layer (1: the same representation up to rotation and scale). Table: the "
             "headline layer, mean over seeds (each seed averaged over languages) with its "
             "95% t-interval."]
    models = models_of(rows)
    for model in models:
        mine = select(rows, model=model)
        body, figures = [], []
        for phase, task, metric in sorted({(r["phase"], r["train_task"], r["metric"])
                                           for r in mine}):
            chosen = [r for r in select(mine, train_task=task, metric=metric)
                      if r["phase"] == phase]
            body += _cka_cells(chosen, heads.get(model))
            stem = f"condition_cka_{slug(metric)}{tag(models, model)}_p{phase}" + (
                f"_{slug(task)}" if task else "")
            figures.append(report.figure(bands.plot_condition_cka, stem, ["condition_cka"],
                                         f"{metric} between conditions, "
                                         f"{_phase_title(phase, task)}", inputs=[chosen]))
        parts.append(markdown_table(["model", "phase", "target", "metric", "conditions",
                                     "layer", "mean", "95% CI", "n seeds"], body))
        parts += figures
    return "\n\n".join(parts)


def _cka_cells(rows: Rows, layer: int | None) -> list[list]:
    at = [r for r in rows if r["layer"] == layer]
    seeds = mean_by(at, ("condition_a", "inter_task_a", "condition_b", "inter_task_b", "seed"))
    out = []
    for pair in sorted({tuple(r[k] for k in ("condition_a", "inter_task_a", "condition_b",
                                             "inter_task_b")) for r in seeds}):
        values = [r["value"] for r in seeds if (r["condition_a"], r["inter_task_a"],
                                                r["condition_b"], r["inter_task_b"]) == pair]
        low, high = t_interval(values)
        first = rows[0]
        band = f"{low:.3f}, {high:.3f}" if finite(low) else "n/a"
        out.append([first["model"], first["phase"], first["train_task"] or "-", first["metric"],
                    f"{pair[0]} vs {pair[2]}", layer, f"{sum(values) / len(values):.3f}",
                    band, len(values)])
    return out


def grids_section(report: Report) -> str:
    rows = report.tables.get("cka_grid")
    if rows is None:
        return missing("cka_grid", "Layer x layer CKA")
    parts = ["## Layer x layer CKA"]
    models = models_of(rows)
    for model in models:
        chosen = select(rows, model=model)
        languages = distinct(chosen, "language")
        language = "en" if "en" in languages else languages[0]
        chosen = select(chosen, language=language)
        keys = sorted({(r["condition"], r["inter_task"], r["phase_a"], r["phase_b"],
                        r["train_task"]) for r in chosen if r["phase_a"] != r["phase_b"]})
        panels = [{"condition": c, "inter_task": i, "phase_a": a, "phase_b": b,
                   "train_task": t} for c, i, a, b, t in keys]
        others = ", ".join(str(v) for v in languages if v != language) or "none"
        parts.append(f"CKA between layers of two phases ({model}, {language} sentences, mean "
                     f"over seeds; grids of other languages in cka_grid.csv: {others}).")
        if panels:
            ncols = len({(a, b) for _, _, a, b, _ in keys}) or 1
            parts.append(report.figure(cka.plot_cka_grids, f"cka_grids{tag(models, model)}",
                                       ["cka_grid"], f"CKA grids, {language}", inputs=[chosen],
                                       panels=panels, ncols=min(ncols, 4)))
    return "\n\n".join(parts)
