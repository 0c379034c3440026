"""``xalign run`` under torchrun (2 gloo processes on CPU): training units run on every rank
through DDP, each probing unit on exactly one rank, and the tables equal one process's."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xalign.cli import main
from xalign.config import load_config
from xalign.plan import build_plan

TABLES = ("alignment", "zeroshot", "cka_grid", "condition_cka", "task_difficulty",
          "cartography_debian-match-section")


def read(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def keyed(rows: list[dict]) -> dict[tuple, float]:
    """Rows by every column but the value (paths and fingerprints dropped)."""
    out = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("path", "fingerprint")}
        number = next(k for k in ("value", "normalised_error", "confidence") if k in values)
        key = tuple(sorted((k, v) for k, v in values.items()
                           if k not in (number, "dev_score", "variability", "correctness",
                                        "ci_low", "ci_high")))
        out[key] = float(values[number]) if values[number] else float("nan")
    return out


def no_dropout(model_dir: Path, tmp_path: Path) -> Path:
    """The tiny model without dropout: each rank draws its own dropout masks, so only a
    dropout-free run can equal a single process up to the order of float sums."""
    import shutil

    out = tmp_path / "model"
    shutil.copytree(model_dir, out)
    config = json.loads((out / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (out / "config.json").write_text(json.dumps(config))
    return out


def torchrun(args: list[str], env: dict) -> subprocess.CompletedProcess:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "xalign.cli", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_two_ranks_probe_each_unit_once_and_equal_one_process(tiny_experiment, tmp_path):
    cfg_path, root = tiny_experiment
    config = yaml.safe_load(cfg_path.read_text())
    config["model"]["names"] = [str(no_dropout(Path(config["model"]["names"][0]), tmp_path))]
    config["finetune"].update(conditions=["none", "easy", "hard"], seeds=[0])
    config["probe"]["threads"] = 1
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(config))
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", str(path), "--out", str(one)]) == 0
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[2]))
    proc = torchrun(["run", str(path), "--out", str(two)], env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    plan = build_plan(load_config(path))
    probing = [u for u in plan.units if u.kind in ("probe", "phase_cka", "condition_cka")]
    for i, unit in enumerate(probing):  # sharded round-robin, each run by one rank only
        record = json.loads((two / "units" / unit.name / "unit.json").read_text())
        assert record["rank"] == i % 2, unit.name
    assert {json.loads((two / "units" / u.name / "unit.json").read_text())["rank"]
            for u in plan.units if u.kind == "phase1"} == {0}  # training: rank 0 writes

    for table in TABLES:
        ours, theirs = keyed(read(two / "results" / f"{table}.csv")), \
            keyed(read(one / "results" / f"{table}.csv"))
        assert ours.keys() == theirs.keys(), table
        for key, value in theirs.items():  # DDP sums gradients in another order: ~1e-6
            assert ours[key] == pytest.approx(value, abs=1e-4, nan_ok=True), (table, key)
