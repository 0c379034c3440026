"""The phase pipeline end to end on a tiny model: tables, resume, kill, standalone equality."""

from __future__ import annotations

import csv
from collections import defaultdict
from statistics import fmean

import pytest
import torch

from xalign.cli import main
from xalign.config import load_config
from xalign.pipeline import training
from xalign.pipeline.run import run_experiment
from xalign.plan import build_plan

CONDITIONS = ("none", "easy", "hard", "random")


def read(run_dir, name):
    with open(run_dir / "results" / f"{name}.csv") as fh:
        return list(csv.DictReader(fh))


def key_values(rows, drop=("path",)):
    return sorted(tuple((k, v) for k, v in r.items() if k not in drop) for r in rows)


def test_full_run_writes_every_phase_and_resumes_from_cache(tiny_experiment, capsys):
    cfg_path, root = tiny_experiment
    out = root / "run"
    assert main(["run", str(cfg_path), "--out", str(out)]) == 0
    alignment = read(out, "alignment")
    seen = {(r["condition"], r["phase"]) for r in alignment}
    assert seen == {(c, p) for c in CONDITIONS for p in ("0", "1", "2")}
    assert {r["inter_task"] for r in alignment if r["condition"] != "none"} == {
        "debian-match-section"}
    assert {r["train_task"] for r in alignment if r["phase"] == "2"} == {"debian-section"}
    assert {r["layer"] for r in alignment} == {"0", "1", "2"}  # hidden_states of 2 blocks
    metrics = {r["metric"] for r in alignment}
    assert {"tatoeba_en2xx", "tatoeba_xx2en", "cka_en_xx", "bucc_f1", "cka_vs_phase0"} <= metrics
    for r in alignment:  # phase 0 compared with itself is CKA 1 at every layer
        if r["metric"] == "cka_vs_phase0" and r["phase"] == "0":
            assert float(r["value"]) == pytest.approx(1.0, abs=1e-9)
    # the "none" condition has no intermediate training: its phase 1 is its phase 0
    none = {(r["phase"], r["language"], r["layer"], r["metric"]): r["value"]
            for r in alignment if r["condition"] == "none"}
    assert all(none[("1",) + k[1:]] == v for k, v in none.items() if k[0] == "0")
    zeroshot = read(out, "zeroshot")
    assert {r["condition"] for r in zeroshot} == set(CONDITIONS)
    assert {r["language"] for r in zeroshot} == {"en", "de", "fr", "ja"}  # no derived "avg"
    assert {r["target"] for r in zeroshot} == {"debian-section"}
    # contrasts.csv's zero-shot rows are a recomputation from zeroshot.csv: per seed the
    # mean over the non-English languages, then the mean of the paired differences
    means = defaultdict(list)
    for r in zeroshot:
        if r["language"] != "en":
            means[(r["condition"], r["seed"])].append(float(r["value"]))
    rows = [r for r in read(out, "contrasts") if r["metric"] == "zeroshot_accuracy"]
    assert {r["contrast"] for r in rows} >= {"hard-easy", "easy-random", "random-none"}
    for row in rows:
        a, b = row["contrast"].split("-")
        diffs = [fmean(means[(a, s)]) - fmean(means[(b, s)]) for c, s in means if c == a]
        assert int(row["n_seeds"]) == len(diffs) > 0
        assert float(row["estimate"]) == pytest.approx(fmean(diffs), abs=1e-12)
    carto = read(out, "cartography_debian-match-section")
    assert {(r["model"], r["seed"], r["task"]) for r in carto} == {
        (load_config(cfg_path).model.names[0], "0", "debian-match-section")}
    sizes = {s: sum(r["subset"] == s for r in carto) for s in ("easy", "hard", "ambiguous")}
    assert sizes == {"easy": 9, "hard": 9, "ambiguous": 9}  # floor(0.33 * 30), stratified
    difficulty = read(out, "task_difficulty")
    assert difficulty[0]["task"] == "debian-match-section" and difficulty[0]["seed"] == "0"
    assert 0 <= float(difficulty[0]["baseline_score"]) <= 1
    pairs = {(r["condition_a"], r["condition_b"], r["phase"]) for r in read(out,
                                                                             "condition_cka")}
    assert pairs == {(a, b, p) for a, b in (("hard", "easy"), ("easy", "random"),
                                            ("hard", "random")) for p in ("1", "2")}
    assert (out / "config.yaml").is_file() and (out / "report.md").is_file()
    assert load_config(out / "config.yaml").name == "tiny"
    assert "units: 0 run" not in capsys.readouterr().out

    drawn = (out / "report.md").stat().st_mtime_ns
    assert main(["run", str(cfg_path), "--out", str(out)]) == 0
    assert " 0 run," in capsys.readouterr().out  # everything came from the unit records
    assert (out / "report.md").stat().st_mtime_ns == drawn  # same tables: not redrawn
    assert key_values(read(out, "alignment")) == key_values(alignment)


def test_killed_run_resumes_to_the_same_results(tiny_experiment, monkeypatch):
    cfg_path, root = tiny_experiment
    config = load_config(cfg_path)
    whole = root / "whole"
    visited = []
    torch.manual_seed(1)  # each run starts from another global RNG state, as a new process
    run_experiment(config, whole, on_unit=lambda name, cached: visited.append(name))
    assert len(visited) == len(build_plan(config).units)  # the progress bar's total is exact

    real = training.phase2

    def dies_on_hard(ctx, unit):
        if unit.condition == "hard":
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C mid-run
        return real(ctx, unit)

    killed = root / "killed"
    monkeypatch.setattr(training, "phase2", dies_on_hard)
    torch.manual_seed(2)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, killed)
    assert not (killed / "results").exists()
    monkeypatch.setattr(training, "phase2", real)
    torch.manual_seed(3)
    torch.rand(1000)
    summary = run_experiment(config, killed)
    assert summary["units_reused"] > 0
    for table in ("alignment", "zeroshot", "cka_grid", "condition_cka", "task_difficulty"):
        assert key_values(read(killed, table)) == key_values(read(whole, table)), table


def test_report_numbers_equal_the_standalone_command(tiny_experiment):
    from probe.models import load_encoder
    from xalign.config import RetrievalConfig
    from xalign.probing import retrieve_rows

    cfg_path, root = tiny_experiment
    config = load_config(cfg_path)
    out = root / "run"
    run_experiment(config, out)
    phase2 = [r for r in read(out, "checkpoints") if r["condition"] == "easy"
              and r["phase"] == "2"]
    encoder = load_encoder(phase2[0]["path"], prefix="")
    alone = retrieve_rows(encoder, list(config.data.aligned) + list(config.data.mining),
                          config.probe, RetrievalConfig())
    ours = {(r["language"], r["layer"], r["metric"]): float(r["value"])
            for r in read(out, "alignment")
            if r["condition"] == "easy" and r["phase"] == "2" and r["metric"] != "cka_vs_phase0"}
    theirs = {(r["language"], str(r["layer"]), r["metric"]): r["value"] for r in alone}
    assert ours.keys() == theirs.keys()
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-12), key


def test_bad_config_exits_2_with_one_line(tiny_experiment, capsys):
    cfg_path, root = tiny_experiment
    code = main(["run", str(cfg_path), "--set", "probe.poling=cls", "--out", str(root / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "probe.poling" in err[0]
    assert not (root / "x").exists()


def test_targets_sharing_a_training_task_share_its_checkpoint(tiny_experiment, monkeypatch):
    import dataclasses

    import finetune.tasks

    cfg_path, root = tiny_experiment
    config = load_config(cfg_path, ["finetune.conditions=[none, easy]",
                                    "finetune.task_difficulty_steps=0"])
    second = dataclasses.replace(finetune.tasks.get_task("debian-section"), name="tiny-second",
                                 train_task="debian-section")
    # registered for this test only: the registry is process-wide
    monkeypatch.setitem(finetune.tasks._REGISTRY, "tiny-second",
                        second.with_path(config.finetune.task_dirs["debian-section"]))
    config = dataclasses.replace(config, finetune=dataclasses.replace(
        config.finetune, target_tasks=("debian-section", "tiny-second")))
    out = root / "two"
    run_experiment(config, out)
    zeroshot = read(out, "zeroshot")
    assert {r["target"] for r in zeroshot} == {"debian-section", "tiny-second"}
    assert {r["train_task"] for r in zeroshot} == {"debian-section"}
    # one phase-2 training per condition serves both targets: identical scores
    by = {(r["condition"], r["target"], r["language"]): r["value"] for r in zeroshot}
    for (cond, _target, lang), value in by.items():
        assert by[(cond, "debian-section", lang)] == value
    phase2 = [u for u in (out / "units").iterdir() if u.name.startswith("phase2-")]
    assert len(phase2) == 2
