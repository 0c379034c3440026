"""`xalign run --plan` says how much disk the trained checkpoints will keep."""

from __future__ import annotations

from pathlib import Path

from xalign.cli import main
from xalign.config import load_config
from xalign.plan import build_plan


def test_plan_prints_the_disk_its_checkpoints_keep(tiny_experiment, capsys):
    cfg_path, _ = tiny_experiment
    assert main(["run", str(cfg_path), "--plan"]) == 0
    out = capsys.readouterr().out
    plan = build_plan(load_config(cfg_path))
    n = sum(u.kind in ("phase1", "phase2") for u in plan.units)
    size = sum(f.stat().st_size for f in Path(plan.config.model.names[0]).glob("*.safetensors"))
    assert n > 0 and size > 0
    assert (f"disk: trained checkpoints kept, each a full model: {n:,} x {size / 1e3:.1f} kB"
            f" = {n * size / 1e3:.1f} kB") in out


def test_weights_not_on_this_machine_are_named_not_guessed(tiny_experiment, capsys,
                                                           monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg_path, _ = tiny_experiment
    from xalign import plan_text

    monkeypatch.setattr(plan_text, "weights_bytes", lambda model: None)
    assert main(["run", str(cfg_path), "--plan"]) == 0
    assert "x the weights of" in capsys.readouterr().out
