"""``xalign embed``: per-layer sentence embeddings of a text file, one .npy per layer."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from probe.cache import embed_layers
from probe.models import load_encoder
from xalign.commands.common import add_model_options, read_lines
from xalign.io import save_npy, write_json

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed", help="per-layer pooled embeddings of a text file (one sentence per line)",
        description="Writes OUT/layer_XX.npy, (N, d) float32 per layer (XX = hidden_states "
        "index: 00 is the embedding output), and OUT/meta.json.",
    )
    p.add_argument("--input", type=Path, required=True, help="UTF-8 text, one sentence per line")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    add_model_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    texts = read_lines(args.input)
    enc = load_encoder(args.model)
    stack = embed_layers(enc, texts, pooling=args.pooling, layers=args.layers,
                         max_length=args.max_length, dtype=args.dtype,
                         batch_size=args.batch_size, threads=args.threads, progress=True)
    layer_ids = args.layers if args.layers is not None else range(stack.shape[0])
    layer_ids = [i % (enc.num_layers + 1) for i in layer_ids]
    for i, layer in zip(layer_ids, stack, strict=True):
        save_npy(args.out / f"layer_{i:02d}.npy", np.asarray(layer))
    write_json(args.out / "meta.json", {
        "model": args.model, "fingerprint": enc.fingerprint, "input": str(args.input),
        "n": len(texts), "dim": int(stack.shape[2]), "layers": layer_ids,
        "pooling": args.pooling, "max_length": args.max_length, "prefix": enc.prefix,
        "dtype": args.dtype,
    })
    print(f"wrote {len(layer_ids)} arrays of shape ({len(texts)}, {stack.shape[2]}) to {args.out}")
    return 0
