"""``xalign run CONFIG``: the whole phase pipeline, resumable, ending with a report."""

from __future__ import annotations

import argparse
import time

from xalign.commands.stage_args import add_config_args, load, unit_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run (or resume) an experiment from a YAML config",
        description="Phase 0 = pretrained, 1 = after English intermediate training, 2 = after "
        "target-task training. Finished units are skipped, so an interrupted run resumes.",
    )
    add_config_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.pipeline.run import planned_units, run_experiment

    config, out = load(args)
    start = time.perf_counter()
    with unit_bar(planned_units(config)) as on_unit:
        summary = run_experiment(config, out, on_unit=on_unit)
    print(f"run directory: {summary['run_dir']}")
    print(f"units: {summary['units_run']} run, {summary['units_reused']} reused from earlier runs")
    if (out / "report.md").is_file():
        print(f"report: {out / 'report.md'}")
    print(f"wall time: {(time.perf_counter() - start) / 60:.1f} min")
    return 0
