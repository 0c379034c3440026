"""Run by test_train_distributed.py under ``torch.distributed.run`` (2 CPU processes, gloo).

Usage: python ddp_worker.py MODEL_DIR OUT_DIR SPEC_JSON

SPEC_JSON: ``{"config": {...TrainConfig...}, "multitask": bool, "dropout": float,
"kill_at": int | null}``; ``kill_at`` SIGKILLs rank 0 right after that optimizer step
(before its checkpoint is written), as a crashed node would die.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from ft_train_helpers import (  # noqa: E402
    make_collator,
    make_features,
    make_model,
    make_multitask,
)

from finetune.trainer import TrainConfig, train  # noqa: E402


def _kill_at(step: int | None):
    """An eval_fn (rank 0 only, after every step when eval_every=1) that dies at ``step``."""
    calls = {"n": 0}

    def eval_fn(model):
        calls["n"] += 1
        if calls["n"] == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return {}

    return eval_fn


def main() -> None:
    model_dir, out_dir, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    torch.set_num_threads(1)
    config = TrainConfig.from_dict(spec["config"])
    collator = make_collator(model_dir)
    dropout = spec.get("dropout", 0.0)
    if spec.get("multitask"):
        models, features = make_multitask(model_dir, dropout=dropout)
    else:
        models, features = make_model(model_dir, dropout=dropout), make_features(21)
    train(models, features, collator, config, out_dir, eval_fn=_kill_at(spec.get("kill_at")))


if __name__ == "__main__":
    main()
