"""``xalign embed``: per-layer sentence embeddings of a text file, one .npy per layer."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from xalign.commands.common import add_model_options, load_model, probe_config, read_lines

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed", help="per-layer pooled embeddings of a text file (one sentence per line)",
        description="Writes OUT/layer_XX.npy, (N, d) float32 per layer (XX = hidden_states "
        "index: 00 is the embedding output), and OUT/meta.json. OUT is written as a whole "
        "(replaced if it exists) or not at all.",
    )
    p.add_argument("--input", type=Path, required=True, help="UTF-8 text, one sentence per line")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    add_model_options(p)
    p.set_defaults(func=run)


def resolved_dtype(encoder, dtype: str) -> str:
    """The precision the embeddings were computed in (``auto`` resolved, as the cache does)."""
    import torch

    from probe.device import resolve_dtype

    config = encoder.config
    return resolve_dtype(dtype, torch.device(encoder.device), config.hidden_size,
                         getattr(config, "intermediate_size", 4 * config.hidden_size))


def run(args: argparse.Namespace) -> int:
    from probe.cache import embed_layers
    from probe.embed import resolve_layers
    from xalign.errors import writing
    from xalign.io import atomic_dir, json_text, write_npy_rows

    probe = probe_config(args)
    texts = read_lines(args.input)
    enc = load_model(args)
    layer_ids = resolve_layers(args.layers, enc.num_layers + 1) if args.layers is not None \
        else list(range(enc.num_layers + 1))
    stack = embed_layers(enc, texts, pooling=probe.pooling, max_length=probe.max_length,
                         dtype=probe.dtype, batch_size=probe.batch_size,
                         batch_tokens=probe.batch_tokens, threads=probe.threads,
                         progress=True)  # all layers, memory-mapped from the cache
    dtype = resolved_dtype(enc, probe.dtype)
    with writing(args.out), atomic_dir(args.out) as tmp:
        for i in layer_ids:  # copied in row chunks: memory stays bounded for any n
            write_npy_rows(tmp / f"layer_{i:02d}.npy", stack[i])
        (tmp / "meta.json").write_text(json_text({
            "model": args.model, "fingerprint": enc.fingerprint, "input": str(args.input),
            "n": len(texts), "dim": int(stack.shape[2]), "layers": layer_ids,
            "pooling": probe.pooling, "max_length": probe.max_length, "prefix": enc.prefix,
            "dtype": dtype}))
    print(f"wrote {len(layer_ids)} arrays of shape ({len(texts)}, {stack.shape[2]}) to {args.out}")
    return 0
