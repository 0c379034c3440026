"""Argument helpers shared by several subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path


def parse_layers(value: str) -> list[int] | None:
    """``all`` -> None; ``0,6,12`` or ``-1`` -> a list of hidden_states indices."""
    if value.strip().lower() == "all":
        return None
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layers {value!r}: expected 'all' or comma-separated integers like 0,6,12"
        ) from None


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default="e5-small",
        help="e5-small (offline default), a local checkpoint directory, or a hub id",
    )
    parser.add_argument("--pooling", default="mean", help="mean | cls | mean_nospecial")
    parser.add_argument("--layers", type=parse_layers, default=None,
                        help="'all' (default) or indices into hidden_states, e.g. 0,6,12")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per sentence")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"],
                        help="bf16 autocast is faster on CPUs with AMX and on GPUs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")


def read_lines(path: Path) -> list[str]:
    """One sentence per line; blank lines and invalid UTF-8 are errors naming the line."""
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}:{i}: empty line (expected one sentence per line)")
    if not lines:
        raise ValueError(f"{path}: no sentences")
    return lines


def probe_config(args: argparse.Namespace):
    """The ProbeConfig a command's model options describe."""
    from xalign.config import ProbeConfig

    return ProbeConfig(pooling=args.pooling, max_length=args.max_length,
                       batch_size=args.batch_size, dtype=args.dtype, threads=args.threads)
