"""``xalign run CONFIG``: the whole phase pipeline, resumable, ending with a report."""

from __future__ import annotations

import argparse
import json
import sys
import time

from xalign.commands.stage_args import add_config_args, load, unit_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run (or resume) an experiment from a YAML config",
        description="Phase 0 = pretrained, 1 = after English intermediate training, 2 = after "
        "target-task training. The whole config is validated into a plan before any work; "
        "finished units are skipped, so an interrupted run resumes.",
    )
    add_config_args(p)
    p.add_argument("--plan", action="store_true",
                   help="validate and print the plan (units, steps, cost), then exit; "
                   "loads no model, downloads nothing, writes nothing")
    p.add_argument("--json", action="store_true", help="with --plan: one JSON object per unit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.errors import UserError
    from xalign.plan import build_plan
    from xalign.plan_text import describe

    config, out = load(args)
    plan = build_plan(config)
    if args.json and not args.plan:
        raise UserError("--json prints the plan: use it with --plan")
    if args.plan:
        if args.json:
            json.dump([u.record() for u in plan.units], sys.stdout, indent=1)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(describe(plan))
        return 0
    from xalign.pipeline.run import run_experiment

    start = time.perf_counter()
    with unit_bar(len(plan.units)) as on_unit:
        summary = run_experiment(config, out, on_unit=on_unit, plan=plan)
    print(f"run directory: {summary['run_dir']}")
    print(f"units: {summary['units_run']} run, {summary['units_reused']} reused from earlier runs")
    if (out / "report.md").is_file():
        print(f"report: {out / 'report.md'}")
    print(f"wall time: {(time.perf_counter() - start) / 60:.1f} min")
    return 0
