"""``xalign finetune CONFIG``: phase-1 and phase-2 training with zero-shot evaluation."""

from __future__ import annotations

import argparse

from xalign.commands.stage_args import add_config_args, load, unit_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune", help="intermediate (easy/hard/none) then target training, zero-shot table",
        description="Runs the training half of `xalign run` (same units, same directory "
        "layout) and writes results/zeroshot.csv and results/checkpoints.csv.",
    )
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.pipeline.stages import run_finetune

    config, out = load(args)
    with unit_bar(None) as on_unit:
        summary = run_finetune(config, out, on_unit=on_unit)
    for row in summary["zeroshot"]:
        if row["language"] == "avg":
            print(f"{row['condition']:>10s}  zero-shot {row['metric']} (avg over non-English) "
                  f"{row['value']:.3f}")
    print(f"wrote {out / 'results' / 'zeroshot.csv'}")
    return 0
