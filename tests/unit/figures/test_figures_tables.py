"""Reading result tables and the selection helpers the figures share."""

from __future__ import annotations

import json
import math

import pytest
from figrows import write_csv

from figures.tables import (
    best_by,
    check_single,
    distinct,
    markdown_table,
    mean_by,
    pivot,
    read_rows,
    select,
)


def test_read_rows_parses_numeric_columns(tmp_path):
    path = write_csv(tmp_path / "t.csv", [
        {"language": "de", "layer": "3", "value": "0.5", "gap": "1.5", "subset": ""},
        {"language": "fr", "layer": "11", "value": "1", "gap": "", "subset": "easy"},
    ])
    rows = read_rows(path)
    assert rows[0] == {"language": "de", "layer": 3, "value": 0.5, "gap": 1.5, "subset": ""}
    assert rows[1]["layer"] == 11 and isinstance(rows[1]["layer"], int)
    assert rows[1]["value"] == 1.0 and isinstance(rows[1]["value"], float)
    assert math.isnan(rows[1]["gap"]) and rows[1]["subset"] == "easy"


def test_read_rows_json_and_in_memory_copy(tmp_path):
    rows = [{"a": 1, "b": "x"}]
    (tmp_path / "t.json").write_text(json.dumps(rows))
    assert read_rows(tmp_path / "t.json") == rows
    copy = read_rows(rows)
    copy[0]["a"] = 2
    assert rows[0]["a"] == 1


def test_read_rows_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_rows(tmp_path / "missing.csv")
    (tmp_path / "t.txt").write_text("a,b\n")
    with pytest.raises(ValueError, match="expected a .csv or .json"):
        read_rows(tmp_path / "t.txt")
    (tmp_path / "t.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="JSON list of objects"):
        read_rows(tmp_path / "t.json")


def test_mean_and_best_by():
    rows = [{"g": "a", "layer": k, "seed": s, "value": v}
            for k, vals in enumerate([(0.1, 0.3), (0.5, 0.7), (0.6, 0.6)])
            for s, v in enumerate(vals)]
    means = mean_by(rows, ("g", "layer"))
    assert [round(r["value"], 12) for r in means] == [0.2, 0.6, 0.6]
    assert [r["n_rows"] for r in means] == [2, 2, 2]
    best = best_by(means, ("g",))
    assert best[0]["layer"] == 1  # tie 0.6 = 0.6: the lower layer wins
    with_nan = [{"g": "a", "layer": 0, "value": math.nan}, {"g": "a", "layer": 1, "value": 0.2},
                {"g": "b", "layer": 0, "value": math.nan}]
    assert best_by(with_nan, ("g",)) == [with_nan[1]]


def test_display_order_and_single_slice():
    rows = [{"condition": c, "language": lang} for c in ("hard", "x", "none", "easy")
            for lang in ("avg", "zh", "de")]
    assert distinct(rows, "condition") == ["none", "easy", "hard", "x"]
    assert distinct(rows, "language") == ["de", "zh", "avg"]
    assert select(rows, {"condition": "x"}, language="de") == [{"condition": "x", "language": "de"}]
    with pytest.raises(ValueError, match="'language' has several values"):
        check_single(rows, {"condition"}, "t")
    check_single(rows, {"condition", "language"}, "t")


def test_markdown_table():
    text = markdown_table(["a", "b"], [["x|y", 0.12345], [3, "z"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 0.123 |", "| 3 | z |"]


def test_pivot_orders_lines_and_columns_and_leaves_gaps_empty():
    rows = [{"language": lang, "condition": c, "value": v}
            for lang, c, v in (("avg", "hard", 0.3), ("de", "easy", 0.1), ("de", "hard", 0.2),
                               ("avg", "none", 0.4))]
    header, body = pivot(rows, ("language",), "condition", lambda r: r["value"])
    assert header == ["language", "none", "easy", "hard"]
    assert body == [["de", "", 0.1, 0.2], ["avg", 0.4, "", 0.3]]
