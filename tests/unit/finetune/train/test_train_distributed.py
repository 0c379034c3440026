"""Data-parallel training: 2 gloo processes equal one process with the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from ft_train_helpers import make_collator, make_features, make_model
from safetensors.torch import load_file

from finetune.cartography import load_dynamics
from finetune.trainer import TrainConfig, train

WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(model_dir, out_dir, config: dict) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    for attempt in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
               str(WORKER), str(model_dir), str(out_dir), json.dumps(config)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        # Under heavy load a gloo worker has been seen to abort at start-up ("terminate
        # called without an active exception", SIGABRT) before any training: retry the
        # launch once in that case only. Any other failure, and any result mismatch below,
        # still fails the test.
        crashed = "Signal 6 (SIGABRT)" in proc.stderr and "Traceback (most recent" not in \
            proc.stderr.split("Root Cause")[0]
        if proc.returncode == 0 or not crashed or attempt == 1:
            break
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_processes_match_one(tiny_model_dir, tmp_path):
    # 21 features, global batch 6: the last batch (3) splits 2 + 1 over the ranks
    config = {"learning_rate": 5e-3, "epochs": 2, "batch_size": 6, "grad_accum": 2,
              "save_every": 3, "record_dynamics": True, "warmup_ratio": 0.0}
    _launch(tiny_model_dir, tmp_path / "ddp", config)

    single = make_model(tiny_model_dir, dropout=0.0)
    result = train(single, make_features(21), make_collator(tiny_model_dir),
                   TrainConfig.from_dict(config), tmp_path / "one")

    ddp_state = load_file(tmp_path / "ddp" / "final" / "model.safetensors")
    moved = 0
    for key, value in single.state_dict().items():
        if key in ddp_state:
            torch.testing.assert_close(ddp_state[key], value, rtol=0, atol=2e-5)
            moved += 1
    assert moved > 30
    last = tmp_path / "ddp" / "checkpoint-4"
    ddp_state_json = json.loads((last / "trainer_state.json").read_text())
    assert ddp_state_json["world_size"] == 2
    assert (last / "rng.json").is_file() and (last / "rng-1.json").is_file()
    ddp_history = ddp_state_json["history"]
    np.testing.assert_allclose([h["loss"] for h in ddp_history],
                               [h["loss"] for h in result.history], rtol=1e-5)
    # dynamics gathered from both ranks equal the single-process record
    p_ddp, c_ddp, _ = load_dynamics(tmp_path / "ddp")
    p_one, c_one, _ = load_dynamics(tmp_path / "one")
    assert p_ddp.shape == (21, 2)
    np.testing.assert_allclose(p_ddp, p_one, atol=2e-5)
    assert (c_ddp == c_one).all()
