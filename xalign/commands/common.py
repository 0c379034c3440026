"""Argument helpers shared by several subcommands; defaults come from the config classes."""

from __future__ import annotations

import argparse
from pathlib import Path

from xalign.config import ProbeConfig, RetrievalConfig

PROBE = ProbeConfig()  # the one place the defaults live


def parse_layers(value: str) -> list[int] | None:
    """``all`` -> None; ``0,6,12`` -> a list of hidden_states indices (checked later)."""
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
    parser.add_argument("--pooling", default=PROBE.pooling, help="mean | cls | mean_nospecial")
    parser.add_argument("--layers", type=parse_layers, default=None,
                        help="'all' (default) or hidden_states indices 0..L, e.g. 0,6,12")
    parser.add_argument("--max-length", type=int, default=PROBE.max_length,
                        help=f"tokens per sentence (default {PROBE.max_length})")
    parser.add_argument("--batch-size", type=int, default=PROBE.batch_size,
                        help="sentences per forward pass at most")
    parser.add_argument("--batch-tokens", type=int, default=PROBE.batch_tokens,
                        help="padded tokens per forward pass (default: 2048 CPU, 32768 GPU)")
    parser.add_argument("--dtype", default=PROBE.dtype, choices=["auto", "fp32", "bf16"],
                        help="auto = bf16 where measured faster (and on GPUs), else fp32")
    parser.add_argument("--device", default=PROBE.device, choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--cka-kind", default=PROBE.cka_kind,
                        choices=["auto", "linear", "debiased", "rbf"],
                        help="auto = debiased when n <= d, else linear")


def read_lines(path: Path) -> list[str]:
    """One sentence per line; blank lines and invalid UTF-8 are errors naming the line."""
    from xalign.errors import UserError

    if not path.is_file():
        raise UserError(f"input file {path} does not exist")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            raise UserError(f"{path}:{i}: empty line (expected one sentence per line)")
    if not lines:
        raise UserError(f"{path}: no sentences")
    return lines


def probe_config(args: argparse.Namespace) -> ProbeConfig:
    """The ProbeConfig a command's model options describe, checked against the registries."""
    from xalign.config import ExperimentConfig
    from xalign.validate import check_probe

    probe = ProbeConfig(pooling=args.pooling, max_length=args.max_length,
                        batch_size=args.batch_size, batch_tokens=args.batch_tokens,
                        dtype=args.dtype, device=args.device,
                        threads=args.threads, cka_kind=args.cka_kind)
    check_probe(ExperimentConfig(probe=probe), prefix="--")
    return probe


def load_model(args: argparse.Namespace):
    """Resolve ``--model`` (no weights loaded) and check ``--layers`` against its depth."""
    from probe.embed import resolve_layers
    from probe.models import load_encoder
    from xalign.errors import UserError, user_input

    with user_input(f"--model {args.model}"):
        encoder = load_encoder(args.model, device=args.device)
    if args.layers is not None:
        try:
            resolve_layers(args.layers, encoder.num_layers + 1)
        except ValueError as exc:
            raise UserError(f"--layers: {exc}") from None
    return encoder


def retrieval_config() -> RetrievalConfig:
    return RetrievalConfig()
