"""``xalign difficulty CONFIG``: measured example and task difficulty of intermediate tasks."""

from __future__ import annotations

import argparse

from xalign.commands.stage_args import add_config_args, load, unit_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "difficulty", help="difficulty subsets (Dataset Cartography etc.) and task difficulty",
        description="Trains each intermediate task with training dynamics recorded "
        "(finetune.cartography_epochs) when the conditions ask for subsets, writes "
        "results/cartography_<task>.csv (every model and seed) and its map figure; with "
        "finetune.task_difficulty_steps > 0 also results/task_difficulty.csv.",
    )
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from figures.cartography import plot_cartography_map
    from figures.save import save_figure
    from xalign.errors import writing
    from xalign.pipeline.stages import DIFFICULTY_KINDS, run_difficulty
    from xalign.plan import build_plan

    config, out = load(args)
    total = len(build_plan(config).subset(DIFFICULTY_KINDS).units)
    with unit_bar(total) as on_unit:
        summary = run_difficulty(config, out, on_unit=on_unit)
    for table in summary["tables"]:
        name = table.rsplit("/", 1)[-1].removesuffix(".csv")
        if name.startswith("cartography_"):
            with writing(out / "figures"):
                save_figure(plot_cartography_map(table), out / "figures" / name, sources=[table])
        print(f"wrote {table}")
    for unit in summary["plan"].units:
        row = summary["results"].get(unit.name) if unit.kind == "task_difficulty" else None
        if row:
            print(f"{row['task']} (seed {row['seed']}): normalised dev error "
                  f"{row['normalised_error']:.3f} after {row['budget_steps']} steps")
    return 0
