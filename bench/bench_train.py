"""Training throughput: fp32 vs bf16 autocast vs frozen word embeddings.

Runs ``finetune.trainer.train`` on random XLM-R classifiers (a tiny 2-layer/32-dim one and
a 12-layer/384-dim one with XLM-R's 250,002-token vocabulary, the shape of
multilingual-e5-small) with batches of 32 short sentences. Seconds per optimizer step are
(time of N + 2 steps - time of 2 steps) / N, so model set-up and the first, slower steps
are not counted.

Usage: python bench/bench_train.py [--steps 6] [--threads 2] [--only tiny|base]
       [--variants fp32 bf16 ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch
from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

from finetune.trainer import TrainConfig, train

SHAPES = {
    "tiny": dict(vocab_size=300, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37),
    "base": dict(vocab_size=250_002, hidden_size=384, num_hidden_layers=12,
                 num_attention_heads=12, intermediate_size=1536),
}
VARIANTS = {
    "fp32": {},
    "bf16": {"mixed_precision": "bf16"},
    "fp32+frozen-emb": {"freeze_embeddings": True},
    "bf16+frozen-emb": {"mixed_precision": "bf16", "freeze_embeddings": True},
}


def make_features(n: int, vocab: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    feats = []
    for i in range(n):
        ids = [0, *rng.integers(5, vocab, size=int(rng.integers(10, 20))).tolist(), 2]
        feats.append({"input_ids": ids, "attention_mask": [1] * len(ids),
                      "labels": int(rng.integers(3)), "example_index": i})
    return feats


def collate(features: list[dict]) -> dict:
    width = max(len(f["input_ids"]) for f in features)
    pads = [width - len(f["input_ids"]) for f in features]
    pairs = list(zip(features, pads, strict=True))
    return {
        "input_ids": torch.tensor([f["input_ids"] + [1] * p for f, p in pairs]),
        "attention_mask": torch.tensor([f["attention_mask"] + [0] * p for f, p in pairs]),
        "labels": torch.tensor([f["labels"] for f in features]),
        "example_index": torch.tensor([f["example_index"] for f in features]),
    }


def timed_run(shape: str, options: dict, steps: int) -> float:
    torch.manual_seed(0)
    config = XLMRobertaConfig(**SHAPES[shape], num_labels=3, max_position_embeddings=514,
                              pad_token_id=1)
    model = XLMRobertaForSequenceClassification(config)
    feats = make_features(32 * steps, SHAPES[shape]["vocab_size"])
    cfg = TrainConfig(max_steps=steps, batch_size=32, **options)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train(model, feats, collate, cfg, out)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", choices=sorted(SHAPES))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for shape in [args.only] if args.only else list(SHAPES):
        for name in args.variants:
            options = VARIANTS[name]
            short = timed_run(shape, options, 2)
            long = timed_run(shape, options, 2 + args.steps)
            per_step = (long - short) / args.steps
            rows.append({"model": shape, "variant": name, "s_per_step": round(per_step, 4),
                         "steps_per_s": round(1 / per_step, 2)})
            print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    main()
