"""Checkpoint files: optimizer and RNG round trips, incomplete checkpoints ignored."""

from __future__ import annotations

import random

import numpy as np
import torch

from finetune import checkpoint as ckpt


def test_optimizer_round_trip_is_exact(tmp_path):
    params = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(5))]
    opt = torch.optim.AdamW(params, lr=1e-2)
    for _ in range(3):
        for p in params:
            p.grad = torch.randn_like(p)
        opt.step()
    ckpt.save_optimizer(opt, tmp_path / "optimizer.safetensors")
    fresh = torch.optim.AdamW(params, lr=5.0)
    ckpt.load_optimizer(fresh, tmp_path / "optimizer.safetensors")
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for idx in a["state"]:
        for key, value in a["state"][idx].items():
            assert torch.equal(b["state"][idx][key], value), (idx, key)
    assert (tmp_path / "optimizer.safetensors").read_bytes()[:8] != b"\x80\x04\x95"  # no pickle


def test_rng_round_trip_reproduces_draws(tmp_path):
    torch.manual_seed(1)
    random.seed(2)
    np.random.seed(3)
    ckpt.write_json(tmp_path / "rng.json", ckpt.rng_state())
    first = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(99)
    ckpt.set_rng_state(ckpt.read_json(tmp_path / "rng.json"))
    again = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(first[0], again[0]) and first[1:] == again[1:]


def test_incomplete_checkpoints_are_ignored(tmp_path):
    (tmp_path / "checkpoint-2").mkdir()
    ckpt.write_json(tmp_path / "checkpoint-2" / ckpt.STATE_FILE, {"global_step": 2})
    (tmp_path / "checkpoint-10").mkdir()  # crashed before trainer_state.json
    (tmp_path / ".tmp-checkpoint-12").mkdir()  # staging folder of a crash
    (tmp_path / "checkpoint-x").mkdir()
    assert ckpt.latest_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    assert ckpt.latest_checkpoint(tmp_path / "missing") is None
