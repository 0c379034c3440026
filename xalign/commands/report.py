"""``xalign report RUN_DIR``: draw every figure of a run and write RUN_DIR/report.md."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from xalign.report import write_report

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="figures (PNG + PDF) and report.md from a run's result tables",
        description="Reads RUN_DIR/results/*.csv, writes RUN_DIR/figures/ and RUN_DIR/report.md.",
    )
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory (runs/<name>)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.errors import user_input, writing

    # a run folder the user names, with tables they may have edited: user input
    with user_input(str(args.run_dir)), writing(args.run_dir):
        out = write_report(args.run_dir)
    log.info("report written to %s", out)
    return 0
