"""``xalign finetune CONFIG``: phase-1 and phase-2 training with zero-shot evaluation."""

from __future__ import annotations

import argparse

from xalign.commands.stage_args import add_config_args, load, unit_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "finetune", help="intermediate (easy/hard/none/...) then target training, zero-shot",
        description="Runs the training units of `xalign run`'s plan (same units, same "
        "directory layout) and writes results/zeroshot.csv and the difficulty tables.",
    )
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.pipeline.stages import FINETUNE_KINDS, run_finetune
    from xalign.plan import build_plan

    config, out = load(args)
    total = len(build_plan(config).subset(FINETUNE_KINDS).units)
    with unit_bar(total) as on_unit:
        summary = run_finetune(config, out, on_unit=on_unit)
    for table in summary["tables"]:
        print(f"wrote {table}")
    return 0
