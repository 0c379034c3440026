"""The unit store: skip on unchanged inputs, rerun on changed or damaged records."""

from __future__ import annotations

import json

from xalign.pipeline.units import Units


def test_unchanged_inputs_skip_and_changed_inputs_rerun(tmp_path):
    calls = []

    def work(folder):
        calls.append(folder.name)
        return {"value": len(calls)}

    units = Units(tmp_path)
    assert units.run("a", {"x": 1}, work) == {"value": 1}
    assert Units(tmp_path).run("a", {"x": 1}, work) == {"value": 1}  # a new process, same record
    assert calls == ["a"]
    assert Units(tmp_path).run("a", {"x": 2}, work) == {"value": 2}  # inputs changed
    assert calls == ["a", "a"]


def test_interrupted_unit_runs_again(tmp_path):
    def dies(folder):
        (folder / "partial.bin").write_bytes(b"half")
        raise KeyboardInterrupt

    units = Units(tmp_path)
    try:
        units.run("train", {"lr": 1}, dies)
    except KeyboardInterrupt:
        pass
    assert not (tmp_path / "units" / "train" / "unit.json").exists()
    assert units.run("train", {"lr": 1}, lambda folder: "done") == "done"


def test_damaged_record_runs_again(tmp_path):
    units = Units(tmp_path)
    units.run("a", {}, lambda folder: 1)
    (tmp_path / "units" / "a" / "unit.json").write_text("{broken")
    assert units.run("a", {}, lambda folder: 2) == 2
    assert json.loads((tmp_path / "units" / "a" / "unit.json").read_text())["result"] == 2


def test_only_rank_zero_writes_records(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    Units(tmp_path).run("a", {}, lambda folder: 1)
    assert not (tmp_path / "units" / "a" / "unit.json").exists()


def test_non_finite_results_are_strict_json_and_identical_when_reused(tmp_path):
    units = Units(tmp_path)
    fresh = units.run("a", {}, lambda folder: {"threshold": float("inf"), "f1": float("nan"),
                                               "rows": [1.5]})
    assert fresh == {"threshold": None, "f1": None, "rows": [1.5]}
    text = (tmp_path / "units" / "a" / "unit.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert Units(tmp_path).run("a", {}, lambda folder: {}) == fresh


def test_changed_inputs_start_from_an_empty_folder(tmp_path):
    units = Units(tmp_path)

    def dies(folder):
        (folder / "checkpoint-4").mkdir()  # work on the old inputs, then a kill
        raise KeyboardInterrupt

    try:
        units.run("train", {"subset": 0.3}, dies)
    except KeyboardInterrupt:
        pass
    seen = []
    units.run("train", {"subset": 0.2}, lambda folder: seen.append(sorted(folder.iterdir())))
    assert [p.name for p in seen[0]] == ["inputs.json"]  # nothing of the old run is left


def test_same_inputs_resume_inside_their_folder(tmp_path):
    units = Units(tmp_path)

    def dies(folder):
        (folder / "checkpoint-4").mkdir()
        raise KeyboardInterrupt

    try:
        units.run("train", {"subset": 0.3}, dies)
    except KeyboardInterrupt:
        pass
    seen = []
    units.run("train", {"subset": 0.3}, lambda folder: seen.append((folder / "checkpoint-4")
                                                                   .is_dir()))
    assert seen == [True]
