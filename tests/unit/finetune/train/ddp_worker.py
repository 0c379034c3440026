"""Run by test_train_distributed.py under ``torch.distributed.run`` (2 CPU processes, gloo).

Usage: python ddp_worker.py MODEL_DIR OUT_DIR CONFIG_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from ft_train_helpers import make_collator, make_features, make_model  # noqa: E402

from finetune.trainer import TrainConfig, train  # noqa: E402


def main() -> None:
    model_dir, out_dir, config_json = sys.argv[1:4]
    torch.set_num_threads(1)
    config = TrainConfig.from_dict(json.loads(config_json))
    model = make_model(model_dir, dropout=0.0)
    train(model, make_features(21), make_collator(model_dir), config, out_dir)


if __name__ == "__main__":
    main()
