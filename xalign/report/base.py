"""What every report section shares: the run's tables, the figure writer, number formats."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from figures.save import save_figure
from figures.tables import Rows, distinct, read_rows, require_columns, select
from xalign.tables import SCHEMAS

# The tables a report reads; cartography_<task>.csv files are found by name.
TABLES = ("alignment", "cka_grid", "condition_cka", "zeroshot", "contrasts",
          "change_vs_accuracy", "change_points", "task_difficulty", "difficulty_agreement",
          "flip_counts", "flip_pairs")


class Report:
    """The run's tables and the figure writer; figure links are relative to the run dir."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir, self.results = run_dir, run_dir / "results"
        self.tables: dict[str, Rows] = {}
        for name in TABLES:
            self._load(self.results / f"{name}.csv", SCHEMAS[name])
        for path in sorted(self.results.glob("cartography*.csv")):
            self._load(path, SCHEMAS["cartography"])

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

    def headline_layers(self) -> dict[str, int]:
        """model -> the headline layer as the analysis marked it (role "primary"); a model
        without analysis rows gets its last layer, the analysis default."""
        deepest: dict[str, int] = {}
        for row in self.tables.get("alignment", []):
            deepest[row["model"]] = max(deepest.get(row["model"], 0), int(row["layer"]))
        marked: dict[str, int] = {}
        for name in ("contrasts", "change_vs_accuracy"):
            for row in select(self.tables.get(name, []), role="primary"):
                if finite(row["layer"]):
                    marked.setdefault(row["model"], int(row["layer"]))
        return {**deepest, **marked}


def finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def signed(value: float) -> str:
    return f"{value:+.3f}"


def p_value(value: Any) -> str:
    return f"{value:.3g}" if finite(value) else "n/a"


def interval(low: Any, high: Any, sep: str = " to ") -> str:
    return f"{signed(low)}{sep}{signed(high)}" if finite(low) and finite(high) else "n/a"


def missing(name: str, title: str) -> str:
    return f"## {title}\n\n_results/{name}.csv not found or empty: section skipped._"


def slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-")


def tag(models: Sequence[str], model: str) -> str:
    """File-name suffix naming the model when a run has several."""
    return f"_{slug(model)}" if len(models) > 1 else ""


def models_of(rows: Rows) -> list[str]:
    return distinct(rows, "model")


def experiment_name(run_dir: Path) -> str:
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


SIGNIFICANT_SHOWN = 10  # exploratory rows listed by name; the rest are in the tables


def significant_elsewhere(rows: Rows, describe: Callable[[dict], str], nothing: str) -> str:
    """One sentence naming the rows with Holm p < 0.05 (smallest p first), or ``nothing``."""
    hits = sorted((r for r in rows if finite(r["p_adjusted"]) and r["p_adjusted"] < 0.05),
                  key=lambda r: r["p_adjusted"])
    if not hits:
        return nothing
    named = "; ".join(describe(r) for r in hits[:SIGNIFICANT_SHOWN])
    more = f" and {len(hits) - SIGNIFICANT_SHOWN} more" if len(hits) > SIGNIFICANT_SHOWN else ""
    return f"Other layers with Holm p < 0.05 ({len(hits)}): {named}{more}."

