"""Per-layer extraction speed: encode_layers vs peers measured in the same run.

Peers, on the same model and sentences:
- ``last-layer only``: one forward pass, mean-pool the last layer (the floor: what a
  sentence encoder library does when it needs a single layer);
- ``one pass per layer``: a naive probe that runs the model again for every layer.
encode_layers returns all L + 1 layers from one pass; the ratio to the floor is the cost of
returning every layer, the ratio to the naive loop is what one pass saves.

Usage: python bench/bench_encode.py [--model e5-small] [--n 1024] [--dtype fp32]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from probe.embed import encode_layers
from probe.models import load_encoder


def sentences(n: int) -> list[str]:
    from xalign.corpora.spec import load_corpus

    corpus = load_corpus("debian:de-en", limit=n // 2)
    return (corpus.tgt_texts + corpus.src_texts)[:n]


def last_layer_only(model, tokenizer, texts, batch_size: int) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                              max_length=64, return_tensors="pt")
            h = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out.append(((h * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(out)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--naive-layers", type=int, default=3,
                        help="layers timed for the naive peer (extrapolated to all)")
    args = parser.parse_args()
    enc = load_encoder(args.model)
    model, tok, texts = enc.model, enc.tokenizer, sentences(args.n)
    n_states = model.config.num_hidden_layers + 1

    def ours():
        return encode_layers(model, tok, texts, batch_size=args.batch_size, max_length=64,
                             dtype=args.dtype)

    def naive():
        for layer in range(args.naive_layers):
            encode_layers(model, tok, texts, layers=[layer], batch_size=args.batch_size,
                          max_length=64, dtype=args.dtype)

    t_ours = timed(ours, args.repeats)
    t_floor = timed(lambda: last_layer_only(model, tok, texts, args.batch_size), args.repeats)
    t_naive = timed(naive, 1) * n_states / args.naive_layers
    report = {
        "model": args.model, "n": len(texts), "layers": n_states, "dtype": args.dtype,
        "encode_layers_s": round(t_ours, 3), "sent_per_s": round(len(texts) / t_ours, 1),
        "last_layer_only_s": round(t_floor, 3), "one_pass_per_layer_s": round(t_naive, 3),
        "ratio_vs_last_layer_only": round(t_ours / t_floor, 2),
        "speedup_vs_one_pass_per_layer": round(t_naive / t_ours, 2),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
