"""The stage commands: difficulty, finetune, evaluate (tiny model, tiny local tasks)."""

from __future__ import annotations

import csv

import pytest

from xalign.cli import main


def read(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_difficulty_finetune_evaluate_agree(tiny_experiment, capsys):
    cfg_path, root = tiny_experiment
    out = root / "stages"
    assert main(["difficulty", str(cfg_path), "--out", str(out)]) == 0
    carto = read(out / "results" / "cartography_debian-match-section.csv")
    assert len(carto) == 30
    for row in carto:
        assert 0.0 <= float(row["confidence"]) <= 1.0 and 0.0 <= float(row["variability"]) <= 0.5
    for label in {r["label"] for r in carto}:  # easy = most confident per label, hard = least
        rows = [r for r in carto if r["label"] == label]
        easy = [float(r["confidence"]) for r in rows if r["subset"] == "easy"]
        hard = [float(r["confidence"]) for r in rows if r["subset"] == "hard"]
        assert easy and hard and min(easy) >= max(hard)
    assert (out / "figures" / "cartography_debian-match-section.png").stat().st_size > 0
    assert "normalised dev error" in capsys.readouterr().out

    assert main(["finetune", str(cfg_path), "--out", str(out)]) == 0
    zeroshot = read(out / "results" / "zeroshot.csv")
    assert {r["condition"] for r in zeroshot} == {"none", "easy", "hard", "random"}
    ckpt = [r for r in read(out / "results" / "checkpoints.csv")
            if r["condition"] == "hard" and r["phase"] == "2"][0]["path"]
    capsys.readouterr()

    target_dir = str(root / "target")
    assert main(["evaluate", "--model", ckpt, "--task", "debian-section", "--task-dir",
                 target_dir, "--languages", "en,de,fr,ja", "--max-length", "32",
                 "--out", str(root / "eval")]) == 0
    ours = {r["language"]: float(r["value"]) for r in read(root / "eval" / "zeroshot.csv")}
    run = {r["language"]: float(r["value"]) for r in zeroshot if r["condition"] == "hard"}
    assert ours.keys() == run.keys()
    for lang, value in run.items():
        assert ours[lang] == pytest.approx(value, abs=1e-12), lang


def test_evaluate_rejects_a_checkpoint_without_the_task_head(tiny_experiment, tiny_model_dir,
                                                             capsys):
    _, root = tiny_experiment
    code = main(["evaluate", "--model", str(tiny_model_dir), "--task", "debian-section",
                 "--task-dir", str(root / "target")])
    err = capsys.readouterr().err
    assert code == 2 and "not a single model" in err


def test_new_weights_in_the_same_folder_rerun_the_units(tiny_experiment, tiny_model_dir,
                                                        tiny_model_dir_b):
    import shutil

    from xalign.config import load_config
    from xalign.pipeline.stages import run_difficulty

    cfg_path, root = tiny_experiment
    model = root / "model"
    shutil.copytree(tiny_model_dir, model)
    config = load_config(cfg_path, [f"model.names=[{model}]"])
    seen = []
    run_difficulty(config, root / "d", on_unit=lambda name, cached: seen.append(cached))
    run_difficulty(config, root / "d", on_unit=lambda name, cached: seen.append(cached))
    assert seen == [False, False, True, True]  # selection + task difficulty, then reused
    shutil.copy(tiny_model_dir_b / "model.safetensors", model / "model.safetensors")
    seen.clear()
    run_difficulty(config, root / "d", on_unit=lambda name, cached: seen.append(cached))
    assert seen == [False, False]  # same path, other weights: nothing reused
