"""``xalign cka``: layer x layer CKA grids, across languages or across checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from xalign.commands.common import add_model_options, probe_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cka", help="layer x layer CKA: English vs xx of one model, or model A vs model B",
        description="Without --model-b: CKA between the English and the xx side of SPEC "
        "(rows are translations). With --model-b: CKA between the two models on the English "
        "side. Linear CKA (Kornblith et al. 2019), a similarity in [0, 1].",
    )
    add_model_options(p)
    p.add_argument("--model-b", default=None, help="second model (e.g. a fine-tuned one)")
    p.add_argument("--corpus", required=True, metavar="SPEC", help="an aligned corpus spec")
    p.add_argument("--limit", type=int, default=1000, help="sentence pairs used (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kind", default="linear", choices=["linear", "rbf"])
    p.add_argument("--out", type=Path, required=True, help="writes cka_grid.csv/.json + figure")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.standalone import cka_grid_rows, write_grid

    rows = cka_grid_rows(args.model, args.model_b, args.corpus, probe_config(args),
                         limit=args.limit, seed=args.seed, kind=args.kind)
    write_grid(args.out, rows, vars(args))
    diag = [r["value"] for r in rows if r["layer_a"] == r["layer_b"]]
    print("layer  " + "  ".join(f"{i:>5d}" for i in range(len(diag))))
    print("CKA    " + "  ".join(f"{v:5.3f}" for v in diag))
    print(f"wrote {args.out / 'cka_grid.csv'}")
    return 0
