"""Tidy rows regrouped per checkpoint and language: the common input of every analysis.

A *cell* is one quantity measured on many checkpoints (e.g. model m, metric tatoeba_en2xx,
phase 1, layer 12); its *series* maps each checkpoint of the cell, written
``(condition, inter_task, seed)``, to its values per language.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

Member = tuple[str, str, int]  # (condition, inter_task, seed): a checkpoint within a cell
Series = dict[Member, dict[str, float]]


def group_values(rows: Iterable[dict], cell: Callable[[dict], tuple], *, table: str,
                 skip_languages: tuple[str, ...] = ()) -> dict[tuple, Series]:
    """``cell(row) -> {(condition, inter_task, seed) -> {language: value}}``.

    Missing values (None, NaN: a score that could not be computed) are left out, so an
    average over languages is over the languages that have a value.

    Args:
        rows: tidy rows with condition, inter_task, seed, language and value columns.
        cell: the cell a row belongs to, e.g. ``lambda r: (r["model"], r["metric"])``.
        table: the table's name, for error messages.
        skip_languages: languages left out (English for zero-shot transfer).

    Raises:
        ValueError: two rows give different values for the same cell, checkpoint and
            language (the table mixes two things that the cell key does not tell apart).
    """
    cells: dict[tuple, Series] = {}
    for row in rows:
        language, value = row["language"], row["value"]
        if language in skip_languages or value is None or not math.isfinite(value):
            continue
        member = (row["condition"], row["inter_task"], int(row["seed"]))
        values = cells.setdefault(cell(row), {}).setdefault(member, {})
        if language in values and values[language] != value:
            raise ValueError(f"{table}: two values ({values[language]} and {value}) for "
                             f"{cell(row)}, checkpoint {member}, language {language!r}")
        values[language] = float(value)
    return cells


def mean_difference(a: dict[str, float], b: dict[str, float]) -> float | None:
    """Mean over the languages both have of a minus b (None if they share none)."""
    common = a.keys() & b.keys()
    if not common:
        return None
    return math.fsum(a[lang] - b[lang] for lang in common) / len(common)


def mean_value(values: dict[str, float]) -> float:
    return math.fsum(values.values()) / len(values)


def target_train_tasks(zeroshot: Iterable[dict]) -> dict[tuple[str, str], str]:
    """(model, target) -> the train_task of the checkpoints evaluated on it.

    Raises:
        ValueError: one target evaluated from checkpoints of several training tasks (the
            analyses name a result by its target, which would then be ambiguous).
    """
    found: dict[tuple[str, str], str] = {}
    for row in zeroshot:
        key = (row["model"], row["target"])
        if found.setdefault(key, row["train_task"]) != row["train_task"]:
            raise ValueError(f"zeroshot: target {row['target']!r} of model {row['model']!r} "
                             f"is evaluated from train tasks {found[key]!r} and "
                             f"{row['train_task']!r}; expected one per target")
    return found


def finite_or_none(value: float | None) -> float | None:
    """NaN (a statistic that could not be computed) as None: an empty CSV cell, JSON null."""
    return None if value is None or not math.isfinite(value) else value
