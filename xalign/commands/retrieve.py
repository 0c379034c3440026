"""``xalign retrieve``: per-layer Tatoeba accuracy, en-xx CKA and BUCC F1 for one model."""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from xalign.commands.common import add_model_options, load_model, probe_config

SHOWN = ("tatoeba_en2xx", "tatoeba_xx2en", "cka_en_xx", "bucc_f1")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retrieve", help="per-layer retrieval accuracy / mining F1 on parallel corpora",
        description="Tatoeba-style accuracy both ways (XTREME's number: tatoeba_en2xx, English "
        "queries), duplicate-aware en->xx, CKA en-xx, and for mining corpora BUCC F1 with the "
        "threshold fitted on the fit split and applied to the eval split. With --out, the "
        "folder OUT is written as a whole (replaced if it exists) or not at all.",
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
    from xalign.commands.outputs import write_retrieve_outputs
    from xalign.config import RetrievalConfig
    from xalign.errors import UserError
    from xalign.probing import load_probe_corpora, retrieve_rows

    probe = probe_config(args)
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit: {args.limit}; expected a positive count")
    load_probe_corpora(args.corpus, limit=args.limit, seed=args.seed)  # fail before the model
    encoder = load_model(args)
    rows = retrieve_rows(encoder, args.corpus, probe, RetrievalConfig(), limit=args.limit,
                         seed=args.seed, layers=args.layers)
    rows = [{"model": args.model, "condition": "none", "inter_task": "", "seed": args.seed,
             "phase": 0, "train_task": "", **r} for r in rows]
    print_layer_table(rows)
    if args.out:
        write_retrieve_outputs(args.out, rows, vars(args), figures=args.figures)
        print(f"wrote {args.out / 'alignment.csv'}")
    return 0


def print_layer_table(rows: list[dict], out=None) -> None:
    """One block per metric: layers down, languages across."""
    out = out or sys.stdout
    table = defaultdict(dict)
    for r in rows:
        table[r["metric"]][(r["layer"], r["language"])] = r["value"]
    for metric in [m for m in SHOWN if m in table]:
        cells = table[metric]
        langs = sorted({lang for _, lang in cells})
        layers = sorted({layer for layer, _ in cells})
        out.write(f"\n{metric}\nlayer " + "".join(f"{lang:>8s}" for lang in langs) + "\n")
        for layer in layers:
            values = "".join(f"{cells.get((layer, lang), float('nan')):8.3f}" for lang in langs)
            out.write(f"{layer:>5d} {values}\n")
        best = {lang: max(layers, key=lambda la: cells.get((la, lang), -1)) for lang in langs}
        out.write("best  " + "".join(f"{best[lang]:>8d}" for lang in langs) + "\n")
