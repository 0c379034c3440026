"""``xalign cka``: layer x layer CKA grids, across languages or across checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from xalign.commands.common import add_model_options, load_model, probe_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "cka", help="layer x layer CKA: English vs xx of one model, or model A vs model B",
        description="Without --model-b: CKA between the English and the xx side of SPEC "
        "(rows are translations). With --model-b: CKA between the two models on the English "
        "side. Linear CKA (Kornblith et al. 2019; debiased when n <= d by default), a "
        "similarity in [0, 1]. OUT is written as a whole or not at all.",
    )
    add_model_options(p)
    p.add_argument("--model-b", default=None, help="second model (e.g. a fine-tuned one)")
    p.add_argument("--corpus", required=True, metavar="SPEC", help="an aligned corpus spec")
    p.add_argument("--limit", type=int, default=1000, help="sentence pairs used (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True, help="writes cka_grid.csv/.json + figure")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.commands.outputs import write_grid_outputs
    from xalign.errors import UserError, user_input
    from xalign.probing import load_probe_corpora, pair_cka_rows

    probe = probe_config(args)
    aligned, mining = load_probe_corpora([args.corpus], limit=args.limit, seed=args.seed)
    if mining:
        raise UserError(f"--corpus {args.corpus!r} is a mining corpus; CKA needs aligned pairs")
    encoder = load_model(args)
    other = None
    if args.model_b is not None:
        from probe.models import load_encoder

        with user_input(f"--model-b {args.model_b}"):
            other = load_encoder(args.model_b, prefix=encoder.prefix, device=args.device)
    rows = pair_cka_rows(encoder, other, aligned[0], probe)
    name = args.model if other is None else f"{args.model} vs {args.model_b}"
    rows = [{"model": name, "condition": "none", "inter_task": "", "seed": args.seed,
             "phase_a": 0, "phase_b": 0, "train_task": "", **r} for r in rows]
    write_grid_outputs(args.out, rows, vars(args))
    diag = [r["value"] for r in rows if r["layer_a"] == r["layer_b"]]
    print("layer  " + "  ".join(f"{i:>5d}" for i in range(len(diag))))
    print("CKA    " + "  ".join(f"{v:5.3f}" for v in diag))
    print(f"wrote {args.out / 'cka_grid.csv'}")
    return 0
