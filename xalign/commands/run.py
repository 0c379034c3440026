"""``xalign run CONFIG``: the whole phase pipeline, resumable, ending with a report."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from xalign.config import load_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", help="run (or resume) an experiment from a YAML config",
        description="Phase 0 = pretrained, 1 = after English intermediate training, 2 = after "
        "target-task training. Finished units are skipped, so an interrupted run resumes.",
    )
    p.add_argument("config", type=Path, help="experiment YAML (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set finetune.seeds=[0,1] (repeatable)")
    p.add_argument("--out", type=Path, default=None,
                   help="run directory (default: <output.root>/<name>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from xalign.pipeline.run import planned_units, run_experiment

    config = load_config(args.config, args.overrides)
    out = args.out or Path(config.output.root) / config.name
    start = time.perf_counter()
    with tqdm(total=planned_units(config), desc="units", unit="unit") as bar:
        def on_unit(name: str, cached: bool) -> None:
            bar.set_postfix_str(("cached " if cached else "") + name[:40])
            bar.update(1)

        summary = run_experiment(config, out, on_unit=on_unit)
    minutes = (time.perf_counter() - start) / 60
    print(f"run directory: {summary['run_dir']}")
    print(f"units: {summary['units_run']} run, {summary['units_reused']} reused from earlier runs")
    if (out / "report.md").is_file():
        print(f"report: {out / 'report.md'}")
    print(f"wall time: {minutes:.1f} min")
    return 0
