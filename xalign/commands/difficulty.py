"""``xalign difficulty CONFIG``: measured example and task difficulty of intermediate tasks."""

from __future__ import annotations

import argparse

from xalign.commands.stage_args import add_config_args, load, unit_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "difficulty", help="Dataset Cartography subsets and task learning-curve difficulty",
        description="Trains each intermediate task with training dynamics recorded "
        "(finetune.cartography_epochs), writes results/cartography_<task>.csv (confidence, "
        "variability, correctness, easy/hard/ambiguous subset) and its map figure; with "
        "finetune.task_difficulty_steps > 0 also results/task_difficulty.csv.",
    )
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from figures.cartography import plot_cartography_map
    from figures.save import save_figure
    from xalign.pipeline.stages import run_difficulty

    config, out = load(args)
    with unit_bar(None) as on_unit:
        summary = run_difficulty(config, out, on_unit=on_unit)
    for table in summary["tables"]:
        stem = out / "figures" / table.rsplit("/", 1)[-1].removesuffix(".csv")
        save_figure(plot_cartography_map(table), stem, sources=[table])
        print(f"wrote {table} and {stem}.png")
    for row in summary["task_difficulty"]:
        print(f"{row['task']}: normalised dev error {row['normalised_error']:.3f} "
              f"after {row['budget_steps']} steps (rank {row['rank']})")
    return 0
