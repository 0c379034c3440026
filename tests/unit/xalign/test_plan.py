"""The experiment as a validated plan: units, dependencies, --plan output, early errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xalign.cli import main
from xalign.config import load_config
from xalign.errors import UserError
from xalign.plan import build_plan

CONFIGS = sorted((Path(__file__).parents[3] / "configs").glob("*.yaml"))


def plan_of(*overrides: str, path=None):
    return build_plan(load_config(path, list(overrides)))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_plans_offline_and_writes_nothing(config, tmp_path, monkeypatch,
                                                               capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["run", str(config), "--plan"]) == 0
    out = capsys.readouterr().out
    assert "units per kind:" in out and "rough cost:" in out
    assert list(tmp_path.iterdir()) == []  # no run folder, no cache entry, nothing
    assert main(["run", str(config), "--plan", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    for record in records:
        assert {"kind", "model", "task", "condition", "seed"} <= set(record)
        if record["kind"] in ("phase2", "zeroshot"):
            assert record["train_task"]
        if record["kind"] == "zeroshot":
            assert record["eval_task"]


@pytest.mark.parametrize("override, field", [
    ("probe.pooling=maxx", "probe.pooling"),
    ("finetune.conditions=[easy, hrad]", "finetune.conditions[1]"),
    ("retrieval.margin=ratoi", "retrieval.margin"),
    ("probe.cka_kind=cosine", "probe.cka_kind"),
    ("finetune.intermediate={learning_rate: fast}", "finetune.intermediate.learning_rate"),
    ("finetune.target={epochs: 0}", "finetune.target"),
    ("finetune.scorer=hardest", "finetune.scorer"),
    ("finetune.subset_fraction=0.5", "finetune.subset_fraction"),
    ("finetune.target_tasks=[xnlii]", "finetune.target_tasks[0]"),
    ("finetune.target_tasks=[mnli]", "finetune.target_tasks[0]"),
    ("data.aligned=[debian:xx-en]", "data.aligned[0]"),
    ("data.aligned=[debian-bucc:de-en]", "data.aligned[0]"),
    ("analysis.contrasts=[hard-eazy]", "analysis.contrasts[0]"),
    ("analysis.primary_layer=13", "analysis.primary_layer"),
    ("finetune.languages=[de, tlh]", "finetune.languages[1]"),
])
def test_a_typo_exits_2_naming_the_field_before_any_work(override, field, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(CONFIGS[0].parent / "demo.yaml"), "--set", override,
                 "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and field in err, err
    assert not out.exists()


def test_a_malformed_set_value_is_a_user_error(tmp_path, capsys):
    assert main(["run", str(CONFIGS[0]), "--set", "finetune.seeds=[0,", "--plan"]) == 2
    assert "finetune.seeds=[0," in capsys.readouterr().err


def test_targets_train_on_their_english_task_and_share_its_training():
    plan = plan_of("finetune.target_tasks=[xquad, mlqa, xnli]", "finetune.conditions=[none]",
                   "finetune.intermediate_tasks=[]", "data.aligned=[]")
    phase2 = [u for u in plan.units if u.kind == "phase2"]
    assert sorted(u.train_task for u in phase2) == ["mnli", "squad-v1"]
    zeroshot = {u.eval_task: u for u in plan.units if u.kind == "zeroshot"}
    assert zeroshot["xquad"].deps == zeroshot["mlqa"].deps  # one SQuAD training, two targets
    assert zeroshot["xnli"].train_task == "mnli"


def test_units_depend_on_what_they_read():
    plan = plan_of("finetune.conditions=[none, easy, random, multi]",
                   "finetune.intermediate_tasks=[debian-match-section, debian-choice]",
                   "finetune.seeds=[0, 1]")
    names = [u.name for u in plan.units]
    for unit in plan.units:
        for dep in unit.deps:
            assert names.index(dep) < names.index(unit.name)  # plan order respects deps
    easy = [u for u in plan.units if u.kind == "phase1" and u.condition == "easy"]
    assert all(plan_unit_kind(plan, u.deps[0]) == "selection" for u in easy)
    random = [u for u in plan.units if u.kind == "phase1" and u.condition == "random"]
    assert random and all(u.deps == () for u in random)  # no dynamics run for the control
    multi = [u for u in plan.units if u.condition == "multi" and u.kind == "phase1"]
    assert [u.inter_task for u in multi] == ["debian-match-section+debian-choice"] * 2
    # easy vs random (both trained) is compared checkpoint to checkpoint; none is not
    pairs = {(u.condition, u.other[0]) for u in plan.units if u.kind == "condition_cka"}
    assert pairs == {("easy", "random")}


def plan_unit_kind(plan, name: str) -> str:
    return next(u.kind for u in plan.units if u.name == name)


def test_task_level_conditions_depend_on_every_measured_task():
    plan = plan_of("finetune.conditions=[task_easiest, task_hardest]",
                   "finetune.intermediate_tasks=[debian-match-section, debian-choice]",
                   "finetune.task_difficulty_steps=5", "finetune.seeds=[0, 1]",
                   "data.debian_sizes={inter_train: 1000}")
    level = [u for u in plan.units if u.kind == "phase1"]
    assert len(level) == 4
    ranking = {u.name for u in plan.units if u.kind == "task_difficulty"}
    assert len(ranking) == 4 and all(set(u.deps) == ranking for u in level)
    assert all(u.examples == 330 for u in level)  # floor(0.33 * 1000), the common size


def test_impossible_combinations_are_refused():
    with pytest.raises(UserError, match="'multi'"):
        plan_of("finetune.conditions=[multi]")
    with pytest.raises(UserError, match="task_difficulty_steps"):
        plan_of("finetune.conditions=[task_hardest]",
                "finetune.intermediate_tasks=[debian-match-section, debian-choice]")
    with pytest.raises(UserError, match="listed twice"):
        plan_of("finetune.seeds=[0, 0]")


def test_missing_local_data_is_listed_by_plan_and_refused_by_run(tmp_path, capsys):
    spec = f"xtreme-dir:{tmp_path / 'nowhere'}:bucc:de-en"
    args = ["run", str(CONFIGS[0].parent / "demo.yaml"), "--set", f"data.mining=[{spec}]"]
    assert main([*args, "--plan"]) == 0
    assert "to provide before running" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main([*args, "--out", str(out)]) == 2
    assert "missing" in capsys.readouterr().err and not out.exists()


def test_bucc_release_layout_is_found(tmp_path):
    from xalign.corpora.xtreme_dir import find_files

    pair = tmp_path / "bucc2018" / "de-en"
    pair.mkdir(parents=True)
    for split in ("sample", "training"):
        for ext in ("de", "en", "gold"):
            (pair / f"de-en.{split}.{ext}").write_text("")
    assert len(find_files(tmp_path, "bucc", "de")) == 6


def test_plan_counts_steps_from_sizes():
    plan = plan_of("finetune.conditions=[none, easy]", "finetune.seeds=[3]",
                   "finetune.intermediate={epochs: 2, batch_size: 10}",
                   "data.debian_sizes={inter_train: 100, train: 50}",
                   "finetune.target={epochs: 1, batch_size: 8}")
    by_kind = {u.kind: u for u in plan.units if u.seed == 3}
    assert by_kind["phase1"].examples == 33 and by_kind["phase1"].steps == 8  # 2 x ceil(3.3)
    assert by_kind["selection"].steps == 3 * 10  # cartography_epochs x ceil(100 / 10)
    assert by_kind["phase2"].steps == 7  # ceil(50 / 8)
