"""Read result tables (CSV or JSON) into rows and select from them; no metric is computed here.

A row is a plain ``dict`` from column name to value. CSV columns whose every non-empty
value parses as an integer become ``int``, else as a number become ``float`` (empty
cells become NaN), else stay ``str``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

Rows = list[dict[str, Any]]
RowSource = str | Path | Sequence[Mapping[str, Any]]

# Display order of the intermediate conditions; unknown labels follow alphabetically.
CONDITION_ORDER = {c: i for i, c in enumerate(("none", "easy", "hard", "ambiguous", "random",
                                               "full", "multi", "task_easiest",
                                               "task_hardest"))}


def read_rows(source: RowSource) -> Rows:
    """Rows from a CSV or JSON result table, or a copy of rows already in memory.

    Args:
        source: path to ``*.csv`` (with a header) or ``*.json`` (a list of objects),
            or a sequence of mappings.

    Returns:
        A list of dicts, numeric CSV columns parsed.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not a CSV/JSON table of rows.
    """
    if not isinstance(source, (str, Path)):
        return [dict(row) for row in source]
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: result table not found")
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{path}: expected a JSON list of objects")
        return rows
    if path.suffix != ".csv":
        raise ValueError(f"{path}: expected a .csv or .json result table")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise ValueError(f"{path}: CSV has no header row")
        raw = list(reader)
        columns = list(reader.fieldnames)
    parsed = {name: _parse_column([row[name] for row in raw]) for name in columns}
    return [{name: parsed[name][i] for name in columns} for i in range(len(raw))]


def _parse_column(cells: list[str | None]) -> list[Any]:
    filled = [c for c in cells if c not in ("", None)]
    if not filled:
        return [c or "" for c in cells]
    for kind in (int, float):
        try:
            values = [kind(c) for c in filled]
        except ValueError:
            continue
        if len(filled) < len(cells):  # gaps in a numeric column are missing numbers
            it = iter(values)
            return [float(next(it)) if c not in ("", None) else math.nan for c in cells]
        return values
    return [c or "" for c in cells]


def require_columns(rows: Rows, columns: Iterable[str], table: str) -> None:
    """Raise ValueError naming the table and the first missing column."""
    if not rows:
        return
    for name in columns:
        if name not in rows[0]:
            raise ValueError(f"{table}: missing column {name!r}; has {sorted(rows[0])}")


def select(rows: Rows, where: Mapping[str, Any] | None = None, **equals: Any) -> Rows:
    """Rows whose columns equal every given value (``where`` and keywords combined)."""
    criteria = tuple({**(where or {}), **equals}.items())
    if len(criteria) == 1:  # the common case, without a generator per row
        ((key, value),) = criteria
        return [row for row in rows if row.get(key) == value]
    return [row for row in rows if all(row.get(k) == v for k, v in criteria)]


def sort_key(column: str, value: Any) -> tuple:
    """Display order: conditions in CONDITION_ORDER first, language "avg" last, else natural."""
    if column == "condition":
        return (CONDITION_ORDER.get(value, len(CONDITION_ORDER)), str(value))
    if column == "language":
        return (value == "avg", str(value))
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def distinct(rows: Rows, column: str) -> list[Any]:
    """The distinct values of a column in display order."""
    return sorted({row[column] for row in rows}, key=lambda v: sort_key(column, v))


def check_single(rows: Rows, varying: Iterable[str], table: str) -> None:
    """Raise ValueError if a column outside ``varying`` holds more than one value.

    Figures draw one slice of a table; a column that still varies (several models, say)
    would silently mix slices, so the caller must filter it with ``where``.
    """
    allowed = set(varying)
    for column in rows[0] if rows else ():
        if column in allowed:
            continue
        values = distinct(rows, column)
        if len(values) > 1:
            raise ValueError(
                f"{table}: column {column!r} has several values {values[:6]}; "
                f"pick one with where={{{column!r}: ...}}"
            )


def mean_by(rows: Rows, keys: Sequence[str], value: str = "value") -> Rows:
    """One row per distinct ``keys`` tuple with the mean of ``value`` and the count ``n_rows``.

    Used to average repeated rows (seeds) before drawing; rows come back in display order.
    """
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(float(row[value]))
    out = [
        {**dict(zip(keys, group, strict=True)), value: math.fsum(vals) / len(vals),
         "n_rows": len(vals)}
        for group, vals in groups.items()
    ]
    return sorted(out, key=lambda r: tuple(sort_key(k, r[k]) for k in keys))


def best_by(rows: Rows, keys: Sequence[str], over: str = "layer", value: str = "value") -> Rows:
    """Per ``keys`` group, the row with the largest ``value`` (lowest ``over`` on ties).

    NaN values (a layer that failed to evaluate) never win; a group of only NaN is left out.
    """
    best: dict[tuple, dict[str, Any]] = {}
    finite = (r for r in rows if not math.isnan(r[value]))
    for row in sorted(finite, key=lambda r: sort_key(over, r[over])):
        group = tuple(row[k] for k in keys)
        if group not in best or row[value] > best[group][value]:
            best[group] = row
    return sorted(best.values(), key=lambda r: tuple(sort_key(k, r[k]) for k in keys))


def pivot(
    rows: Rows, index: Sequence[str], column: str, cell: Callable[[dict[str, Any]], Any]
) -> tuple[list[str], list[list[Any]]]:
    """A wide table: one line per ``index`` tuple, one column per value of ``column``.

    Returns:
        ``(header, body)`` for :func:`markdown_table`; lines and columns in display order,
        ``cell(row)`` in each filled cell and "" where no row exists.
    """
    columns = distinct(rows, column)
    lines: dict[tuple, dict[Any, Any]] = {}
    for row in rows:
        lines.setdefault(tuple(row[k] for k in index), {})[row[column]] = cell(row)
    order = sorted(lines, key=lambda key: tuple(map(sort_key, index, key)))
    body = [[*key, *(lines[key].get(c, "") for c in columns)] for key in order]
    return [*index, *map(str, columns)], body


def markdown_table(header: Sequence[str], body: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; floats are shown with three decimals."""
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in body]
    return "\n".join(lines)
