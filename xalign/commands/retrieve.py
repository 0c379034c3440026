"""``xalign retrieve``: per-layer Tatoeba accuracy, en-xx CKA and BUCC F1 for one model."""

from __future__ import annotations

import argparse
from pathlib import Path

from xalign.commands.common import add_model_options, probe_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retrieve", help="per-layer retrieval accuracy / mining F1 on parallel corpora",
        description="Tatoeba-style accuracy both ways (XTREME's number: tatoeba_en2xx, English "
        "queries), duplicate-aware en->xx, linear CKA en-xx, and for mining corpora BUCC F1 "
        "with the threshold fitted on the fit split and applied to the eval split.",
    )
    add_model_options(p)
    p.add_argument("--corpus", action="append", required=True, metavar="SPEC",
                   help="e.g. debian:de-en, catalogs:ar-en, debian-bucc:fr-en, tatoeba:deu, "
                   "xtreme-dir:PATH:tatoeba:deu (repeatable)")
    p.add_argument("--limit", type=int, default=None,
                   help="pairs per aligned corpus / gold pairs per mining split")
    p.add_argument("--seed", type=int, default=0, help="sampling seed for --limit")
    p.add_argument("--out", type=Path, default=None, help="write alignment.csv/.json here")
    p.add_argument("--figures", action="store_true", help="also draw layer curves into OUT")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.standalone import print_layer_table, retrieve_rows, write_standalone

    rows = retrieve_rows(args.model, args.corpus, probe_config(args), limit=args.limit,
                         seed=args.seed, layers=args.layers)
    print_layer_table(rows)
    if args.out:
        write_standalone(args.out, rows, vars(args), figures=args.figures)
        print(f"wrote {args.out / 'alignment.csv'}")
    return 0
