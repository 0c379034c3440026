"""Write ``report.md`` for a run directory: summary, findings, tables and figures.

Reads whatever exists of ``RUN_DIR/results/*.csv`` (a missing table skips its section with
a line saying so), draws every figure into ``RUN_DIR/figures/`` (PNG + PDF + JSON sidecar)
and writes ``RUN_DIR/report.md`` atomically. The same tables give the same report.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from figures import bars, cartography, change, cka, layers
from figures.save import atomic_write, save_figure
from figures.style import PHASE_NAMES
from figures.tables import (
    Rows,
    best_by,
    distinct,
    markdown_table,
    mean_by,
    pivot,
    read_rows,
    require_columns,
    select,
)

log = logging.getLogger(__name__)

# Each table of results/ and the columns the report relies on.
TABLES = {
    "alignment": layers.COLUMNS,
    "cka_grid": cka.COLUMNS,
    "zeroshot": bars.ZEROSHOT_COLUMNS,
    "change_vs_accuracy": change.CORR_COLUMNS,
    "change_points": change.POINT_COLUMNS,
    "task_difficulty": bars.DIFFICULTY_COLUMNS,
}
# Metrics stated in the findings when present (the rest are in the tables).
HEADLINE = ("tatoeba_en2xx", "bucc_f1", "cka_en_xx")
METRIC_ORDER = ("tatoeba_en2xx", "tatoeba_xx2en", "tatoeba_en2xx_dedup", "bucc_f1",
                "bucc_f1_oracle", "cka_en_xx", "cka_vs_phase0")


def write_report(run_dir: Path) -> Path:
    """Draw all figures of a run and write its Markdown report.

    Args:
        run_dir: a run directory holding ``results/*.csv`` and optionally ``config.yaml``.

    Returns:
        The path of the written ``report.md``.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        ValueError: a table is malformed (the message names the table and column).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    report = _Report(run_dir)
    findings: list[str] = []
    body = [
        _alignment_section(report, findings),
        _cka_section(report),
        _zeroshot_section(report, findings),
        _change_section(report, findings),
        _cartography_section(report),
        _difficulty_section(report, findings),
    ]
    head = [f"# xalign report: {_experiment_name(run_dir)}", _summary_section(report.tables),
            "## Findings\n\n" + ("\n".join(findings) or "No result tables with findings.")]
    out = run_dir / "report.md"
    text = "\n\n".join(head + body) + "\n"
    atomic_write(out, lambda handle: handle.write(text.encode("utf-8")))
    log.info("wrote %s", out)
    return out


class _Report:
    """The run's tables and the figure writer; figure links are relative to the run dir."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.results = run_dir, run_dir / "results"
        self.tables: dict[str, Rows] = {}
        for name, columns in TABLES.items():
            self._load(self.results / f"{name}.csv", columns)
        for path in sorted(self.results.glob("cartography_*.csv")):
            self._load(path, cartography.COLUMNS)

    def _load(self, path: Path, columns: Sequence[str]) -> None:
        """Keep a table that exists and has rows; a header-only table counts as missing."""
        if path.is_file():
            rows = read_rows(path)
            require_columns(rows, columns, str(path))
            if rows:
                self.tables[path.stem] = rows

    def figure(self, plot: Callable[..., Any], stem: str, sources: Sequence[str],
               caption: str, *, inputs: Sequence[Rows] | None = None, **params: Any) -> str:
        """Draw ``plot(*tables, **params)``, save it under figures/, return its Markdown link.

        ``inputs`` replaces the whole tables by a slice of them (the same rows the plot would
        select itself), which saves rescanning a large table for every figure.
        """
        paths = [self.results / f"{name}.csv" for name in sources]
        tables = inputs if inputs is not None else [self.tables[name] for name in sources]
        fig = plot(*tables, **params)
        save_figure(fig, self.run_dir / "figures" / stem, sources=paths, params=params)
        return f"![{caption}](figures/{stem}.png)\n\n[{caption} (PDF)](figures/{stem}.pdf)"


def _missing(name: str, title: str) -> str:
    return f"## {title}\n\n_results/{name}.csv not found or empty: section skipped._"


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-")


def _experiment_name(run_dir: Path) -> str:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return run_dir.resolve().name
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
    if isinstance(config, dict):
        experiment = config.get("experiment")
        if isinstance(experiment, dict) and experiment.get("name"):
            return str(experiment["name"])
        for value in (experiment, config.get("name")):
            if isinstance(value, str) and value:
                return value
    return run_dir.resolve().name


def _summary_section(tables: dict[str, Rows]) -> str:
    def values(column: str, names: Sequence[str], skip: tuple = ()) -> str:
        found = [r for n in names for r in tables.get(n, []) if column in r]
        shown = [v for v in distinct(found, column) if v not in skip]
        return ", ".join(str(v) for v in shown) or "(none)"

    runs = ("alignment", "zeroshot", "change_points", "cka_grid")
    lines = [
        f"- models: {values('model', runs)}",
        f"- conditions: {values('condition', runs)}",
        f"- seeds: {values('seed', runs)}",
        f"- phases: {values('phase', ('alignment',))}",
        f"- languages: {values('language', runs, skip=('avg', 'en'))}",
        f"- target tasks: {values('task', ('zeroshot',))}",
        f"- tables: {', '.join(f'{n}.csv' for n in TABLES if n in tables) or '(none)'}",
    ]
    return "## Run summary\n\n" + "\n".join(lines)


def _ordered_metrics(rows: Rows) -> list[str]:
    present = distinct(rows, "metric")
    return [m for m in METRIC_ORDER if m in present] + [m for m in present if m not in METRIC_ORDER]


def _alignment_section(report: _Report, findings: list[str]) -> str:
    rows = report.tables.get("alignment")
    if rows is None:
        return _missing("alignment", "Layer-wise alignment")
    models = distinct(rows, "model")
    parts = ["## Layer-wise alignment\n\nBest layer = argmax over hidden_states indices of the "
             "seed mean; cells show `value (layer)`."]
    for model in models:
        tag = f"_{_slug(model)}" if len(models) > 1 else ""
        for metric in _ordered_metrics(select(rows, model=model)):
            chosen = select(rows, model=model, metric=metric)
            best = best_by(mean_by(chosen, ("condition", "phase", "language", "layer")),
                           ("condition", "phase", "language"))
            parts += [f"### {metric} ({model})", _best_layer_table(best)]
            first = min(best, key=lambda r: (r["phase"], r["condition"] != "none"))
            curves = {"model": model, "phase": first["phase"], "condition": first["condition"]}
            parts += [
                report.figure(layers.plot_phase_curves, f"phase_{metric}{tag}", ["alignment"],
                              f"{metric} per phase", inputs=[chosen], metric=metric,
                              where={"model": model}),
                report.figure(layers.plot_layer_curves, f"layers_{metric}{tag}", ["alignment"],
                              f"{metric} per language, phase {first['phase']}",
                              inputs=[chosen], metric=metric, where=curves),
            ]
            if metric in HEADLINE or not set(HEADLINE) & set(distinct(rows, "metric")):
                findings += _alignment_findings(best, metric, model if len(models) > 1 else "")
    return "\n\n".join(parts)


def _best_layer_table(best: Rows) -> str:
    return markdown_table(*pivot(best, ("condition", "phase"), "language",
                                 lambda r: f"{r['value']:.3f} ({r['layer']})"))


def _alignment_findings(best: Rows, metric: str, model: str) -> list[str]:
    lines = []
    for phase in distinct(best, "phase"):
        per_condition = mean_by(select(best, phase=phase), ("condition",))
        counts = {r["n_rows"] for r in per_condition}
        if len(counts) == 1:
            values = " vs ".join(f"{r['condition']} {r['value']:.3f}" for r in per_condition)
            n = f"{counts.pop()} languages"
        else:  # conditions cover different languages: give each its own count
            values = " vs ".join(f"{r['condition']} {r['value']:.3f} (n={r['n_rows']})"
                                 for r in per_condition)
            n = "the languages present"
        prefix = f"{model}: " if model else ""
        lines.append(f"- {prefix}{metric} at the best layer, phase {phase} "
                     f"({PHASE_NAMES.get(phase, '?')}): {values} (mean over {n})")
    return lines


def _cka_section(report: _Report) -> str:
    rows = report.tables.get("cka_grid")
    if rows is None:
        return _missing("cka_grid", "Layer x layer CKA")
    parts = ["## Layer x layer CKA"]
    models = distinct(rows, "model")
    for model in models:
        chosen = select(rows, model=model)
        languages = distinct(chosen, "language")
        language = "en" if "en" in languages else languages[0]
        chosen = select(chosen, language=language)
        pairs = sorted({(r["phase_a"], r["phase_b"]) for r in chosen})
        # A phase against itself is the identity on the diagonal: show it only if alone.
        pairs = [(a, b) for a, b in pairs if a != b] or pairs
        panels = [{"model": model, "language": language, "condition": c, "phase_a": a,
                   "phase_b": b}
                  for c in distinct(chosen, "condition") for a, b in pairs
                  if select(chosen, condition=c, phase_a=a, phase_b=b)]
        tag = f"_{_slug(model)}" if len(models) > 1 else ""
        others = ", ".join(str(v) for v in languages if v != language) or "none"
        parts.append(f"Linear CKA between layers of two phases ({model}, {language} sentences; "
                     f"grids of other languages in cka_grid.csv: {others}).")
        parts.append(report.figure(cka.plot_cka_grids, f"cka_grids{tag}", ["cka_grid"],
                                   f"CKA grids, {language}", panels=panels, ncols=len(pairs)))
    return "\n\n".join(parts)


def _zeroshot_section(report: _Report, findings: list[str]) -> str:
    rows = report.tables.get("zeroshot")
    if rows is None:
        return _missing("zeroshot", "Zero-shot cross-lingual accuracy")
    parts = ["## Zero-shot cross-lingual accuracy\n\nSeed means; avg = mean over non-English "
             "languages as written by the pipeline."]
    for model in distinct(rows, "model"):
        for task in distinct(select(rows, model=model), "task"):
            for metric in distinct(select(rows, model=model, task=task), "metric"):
                chosen = select(rows, model=model, task=task, metric=metric)
                means = mean_by(chosen, ("language", "condition"))
                seeds = len(distinct(chosen, "seed"))
                parts.append(f"### {task} {metric} ({model}, mean over {seeds} seeds)")
                parts.append(markdown_table(*pivot(means, ("language",), "condition",
                                                   lambda r: r["value"])))
                stem = f"zeroshot_{_slug(model)}_{_slug(task)}_{_slug(metric)}"
                where = {"model": model, "task": task}
                parts.append(report.figure(bars.plot_language_bars, stem, ["zeroshot"],
                                           f"{task} {metric} per language", metric=metric,
                                           where=where))
                avg = select(means, language="avg")
                if avg:
                    values = ", ".join(f"{r['condition']} {r['value']:.3f}" for r in avg)
                    findings.append(f"- {task} zero-shot {metric}, avg over non-English languages "
                                    f"({model}, mean over {seeds} seeds): {values}")
    return "\n\n".join(parts)


def _interval(row: dict[str, Any], name: str) -> str:
    return f"{row[name]:.3f} [{row[name + '_lo']:.3f}, {row[name + '_hi']:.3f}]"


def _change_section(report: _Report, findings: list[str]) -> str:
    rows = report.tables.get("change_vs_accuracy")
    if rows is None:
        return _missing("change_vs_accuracy", "Representation change vs accuracy change")
    ordered = sorted(rows, key=lambda r: (str(r["measure"]), r["layer"]))
    body = [[r["measure"], r["layer"], _interval(r, "pearson"), _interval(r, "spearman"),
             int(r["n"])] for r in ordered]
    parts = ["## Representation change vs accuracy change",
             markdown_table(["measure", "layer", "Pearson r [95% CI]",
                             "Spearman rho [95% CI]", "n"], body)]
    top = _strongest(ordered)
    if top is not None:
        findings.append(f"- largest |Spearman| between change and accuracy change: "
                        f"{top['measure']} at layer {top['layer']}, rho = "
                        f"{top['spearman']:.2f} [{top['spearman_lo']:.2f}, "
                        f"{top['spearman_hi']:.2f}], n = {int(top['n'])}")
    if "change_points" not in report.tables:
        parts.append("_results/change_points.csv not found or empty: scatter plots skipped._")
        return "\n\n".join(parts)
    for measure in distinct(ordered, "measure"):
        best = _strongest(select(ordered, measure=measure))
        if best is None or not select(report.tables["change_points"], measure=measure,
                                      layer=best["layer"]):
            continue
        parts.append(report.figure(
            change.plot_change_vs_accuracy, f"change_{_slug(measure)}_layer{best['layer']}",
            ["change_points", "change_vs_accuracy"],
            f"{measure} at layer {best['layer']} (largest |Spearman|)",
            measure=measure, layer=best["layer"]))
    return "\n\n".join(parts)


def _strongest(rows: Rows) -> dict[str, Any] | None:
    """The row with the largest |Spearman| (first in measure/layer order on ties)."""
    finite = [r for r in rows if r["spearman"] == r["spearman"]]  # drop NaN
    return max(finite, key=lambda r: abs(r["spearman"]), default=None)


def _cartography_section(report: _Report) -> str:
    names = [n for n in report.tables if n.startswith("cartography_")]
    if not names:
        return "## Dataset cartography\n\n_results/cartography_<task>.csv not found: " \
               "section skipped._"
    parts = ["## Dataset cartography"]
    for name in names:
        task, rows = name.removeprefix("cartography_"), report.tables[name]
        counts = [[s or "(none)", len(select(rows, subset=s))] for s in distinct(rows, "subset")]
        parts.append(f"### {task}\n\n" + markdown_table(["subset", "examples"], counts))
        parts.append(report.figure(cartography.plot_cartography_map,
                                   f"cartography_{_slug(task)}", [name], f"data map of {task}",
                                   title=task))
    return "\n\n".join(parts)


def _difficulty_section(report: _Report, findings: list[str]) -> str:
    rows = report.tables.get("task_difficulty")
    if rows is None:
        return _missing("task_difficulty", "Task difficulty")
    ordered = sorted(rows, key=lambda r: (r["rank"], str(r["task"])))
    body = [[r["rank"], r["task"], r["budget_steps"], float(r["dev_error"]),
             float(r["normalised_error"])] for r in ordered]
    hardest = max(ordered, key=lambda r: r["normalised_error"])
    easiest = min(ordered, key=lambda r: r["normalised_error"])
    findings.append(f"- task difficulty: hardest {hardest['task']} (normalised dev error "
                    f"{hardest['normalised_error']:.3f}), easiest {easiest['task']} "
                    f"({easiest['normalised_error']:.3f}), {len(ordered)} tasks")
    return "\n\n".join([
        "## Task difficulty",
        markdown_table(["rank", "task", "budget steps", "dev error", "normalised error"], body),
        report.figure(bars.plot_task_difficulty, "task_difficulty", ["task_difficulty"],
                      "normalised dev error per task"),
    ])

