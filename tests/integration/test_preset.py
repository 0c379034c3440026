"""configs/phang2020.yaml end to end on CPU: every task, target, condition and seed.

The preset itself is loaded and only sized down (tiny random XLM-R, a training step or
two, a few sentences); its nine intermediate tasks and seven targets read hub-layout
copies through ``data.hub_mirrors``, i.e. through the same loaders as the hub path, and
CCG a local folder. ``xalign run`` then has to produce a row for every task, target,
condition and seed in every table.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest
import yaml
from hub_copies import write_ccg, write_hub_copies

from xalign.cli import main
from xalign.config import dump_config, load_config

PRESET = Path(__file__).resolve().parents[2] / "configs" / "phang2020.yaml"
CONDITIONS = ("none", "easy", "hard", "full", "multi")
SEEDS = ("0", "1")
LANGUAGES = ["en"]  # the only language all seven targets evaluate on (TyDiQA has no de)


def preset_overrides(tiny_model: str, corpora: dict, mirrors: dict, ccg: str,
                     target_per_task: dict) -> list[str]:
    """``--set`` items that size the preset for a CPU test and point it at local data."""
    def item(key: str, value) -> str:
        return f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"

    # keep each per-task override (and its max_length mechanism) at a tiny model's size
    per_task = {task: {**values, "epochs": 1, "grad_accum": 1,
                       **({"max_length": 64} if "max_length" in values else {})}
                for task, values in target_per_task.items()}
    small_train = {"epochs": 1, "batch_size": 4, "max_steps": 1, "save_every": None}
    return [
        item("model.names", [tiny_model]),
        item("data.aligned", corpora["aligned"]), item("data.mining", corpora["mining"]),
        item("data.grid_sentences", 16), item("data.hub_mirrors", mirrors),
        item("probe.max_length", 32), item("probe.batch_size", 8),
        item("probe.dtype", "fp32"), item("probe.device", "cpu"), item("probe.threads", 1),
        item("probe.measures", ["cka"]),
        item("finetune.conditions", list(CONDITIONS)), item("finetune.seeds", [0, 1]),
        item("finetune.languages", LANGUAGES), item("finetune.task_dirs", {"ccg": ccg}),
        # 64: a QA window must hold the question and more context than the stride (1/4)
        item("finetune.max_length", 64), item("finetune.eval_limit", 4),
        item("finetune.task_difficulty_steps", 1), item("finetune.cartography_epochs", 2),
        *(item(f"finetune.{stage}.{k}", v) for stage in ("intermediate", "target")
          for k, v in small_train.items()),
        item("finetune.target_per_task", per_task),
        item("analysis.primary_layer", 2),  # hidden_states[2]: the tiny model's last block
    ]


@pytest.fixture(autouse=True)
def _one_thread_and_own_caches(tmp_path, monkeypatch):
    """One torch thread, and the run's caches (xalign, datasets) inside the test folder.

    A tiny model's ops are too small to split: on a loaded 2-core machine two contending
    threads made each training step ~30x slower than one.
    """
    import datasets
    import torch

    monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "xalign-cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def read(run_dir: Path, name: str) -> list[dict]:
    with open(run_dir / "results" / f"{name}.csv") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def preset_config(tmp_path, tiny_model_dir, tiny_experiment):
    """The preset, sized down, as a YAML file (the tiny experiment lends its corpora)."""
    tiny = yaml.safe_load(tiny_experiment[0].read_text())
    rng = random.Random(0)
    mirrors = write_hub_copies(tmp_path / "hub", rng)
    ccg = write_ccg(tmp_path / "ccg", rng)
    preset = yaml.safe_load(PRESET.read_text())
    overrides = preset_overrides(str(tiny_model_dir), tiny["data"], mirrors, ccg,
                                 preset["finetune"]["target_per_task"])
    path = tmp_path / "phang2020-tiny.yaml"
    path.write_text(dump_config(load_config(PRESET, overrides)))
    return path


def lineages(tasks) -> set[tuple[str, str, str]]:
    """(condition, inter_task, seed) of every checkpoint lineage of the run."""
    per_seed = {("none", ""), ("multi", "+".join(tasks))}
    per_seed |= {(c, t) for c in ("easy", "hard", "full") for t in tasks}
    return {(c, t, s) for c, t in per_seed for s in SEEDS}


# every difficulty, training and zero-shot unit of the preset, phase 1 probed: about 1.7 min
# on 2 quiet AMD EPYC (Zen 4) cores
@pytest.mark.slow
def test_phang2020_preset_runs_end_to_end_on_hub_layout_copies(preset_config, tmp_path):
    ft = load_config(preset_config).finetune
    assert len(ft.intermediate_tasks) == 9 and len(ft.target_tasks) == 7
    out = tmp_path / "run"
    assert main(["run", str(preset_config), "--out", str(out)]) == 0

    runs = lineages(ft.intermediate_tasks)
    zeroshot = read(out, "zeroshot")
    assert {(r["condition"], r["inter_task"], r["seed"], r["target"]) for r in zeroshot} == {
        (*run, target) for run in runs for target in ft.target_tasks}
    assert {r["language"] for r in zeroshot} == set(LANGUAGES)
    assert {r["n"] for r in zeroshot} == {"4"}  # finetune.eval_limit examples, every target

    # phase 1 and one phase 2 per target training task, for every lineage; the preset
    # probes phase 1 only (X-STILTs' question), so the probing tables hold phase 1 alone
    assert load_config(preset_config).probe.phases == (1,)
    trained = {("1", "")} | {("2", t) for t in ("mnli", "pawsx", "udpos", "wikiann",
                                                  "squad-v1", "tydiqa")}
    expected = {(*run, *phase) for run in runs for phase in trained}
    probed = {(*run, "1", "") for run in runs}
    # none's phase 1 is its phase 0: no phase-0-vs-phase-1 CKA grid of its own
    no_grid = {("none", "", s, "1", "") for s in SEEDS}
    for table, phase, want in (("alignment", "phase", probed),
                               ("checkpoints", "phase", expected),
                               ("cka_grid", "phase_b", probed - no_grid)):
        rows = [r for r in read(out, table) if r[phase] != "0"]
        assert {(r["condition"], r["inter_task"], r["seed"], r[phase], r["train_task"])
                for r in rows} == want, table
    metrics = {r["metric"] for r in read(out, "alignment")}
    assert {"tatoeba_en2xx", "bucc_f1", "cka_en_xx"} <= metrics
    pairs = {(r["condition_a"], r["condition_b"], r["inter_task_a"], r["seed"], r["phase"],
              r["train_task"]) for r in read(out, "condition_cka")}
    assert pairs == {("hard", "easy", t, s, "1", "") for t in ft.intermediate_tasks
                     for s in SEEDS}

    for task in ft.intermediate_tasks:
        carto = read(out, f"cartography_{task}")
        assert {r["task"] for r in carto} == {task}
        assert {(r["seed"], r["subset"]) for r in carto} >= {
            (s, subset) for s in SEEDS for subset in ("easy", "hard")}, task
    difficulty = read(out, "task_difficulty")
    assert {(r["task"], r["seed"]) for r in difficulty} == {
        (t, s) for t in ft.intermediate_tasks for s in SEEDS}
