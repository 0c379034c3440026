"""Write ``report.md`` for a run directory: the answer first, then exploratory material.

Reads whatever exists of ``RUN_DIR/results/*.csv`` (a missing table skips its section with
a line saying so), draws every figure into ``RUN_DIR/figures/`` (PNG + PDF + JSON sidecar)
and writes ``RUN_DIR/report.md`` atomically. The same tables give the same report.

Order: Answer (the primary contrasts in plain words), smallest resolvable difference,
robustness under other indices and difficulty measures, run summary, then the exploratory sections.
"""

from __future__ import annotations

import logging
from pathlib import Path

from figures.save import atomic_write
from xalign.report.alignment import (
    condition_cka_section,
    contrasts_section,
    curves_section,
    grids_section,
    headline_layer_section,
)
from xalign.report.answer import answer_section, resolution_section
from xalign.report.base import Report, experiment_name
from xalign.report.outcomes import change_section, zeroshot_section
from xalign.report.robustness import flips_section, robustness_section
from xalign.report.tasks import cartography_section, difficulty_section, summary_section

log = logging.getLogger(__name__)


def write_report(run_dir: Path) -> Path:
    """Draw all figures of a run and write its Markdown report.

    Args:
        run_dir: a run directory holding ``results/*.csv`` and optionally ``config.yaml``.

    Returns:
        The path of the written ``report.md``.

    Raises:
        FileNotFoundError: ``run_dir`` does not exist.
        ValueError: a table is malformed (the message names the table and column).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    report = Report(run_dir)
    sections = [
        f"# xalign report: {experiment_name(run_dir)}",
        answer_section(report),
        resolution_section(report),
        robustness_section(report),
        summary_section(report.tables),
        contrasts_section(report),
        zeroshot_section(report),
        change_section(report),
        flips_section(report),
        headline_layer_section(report),
        curves_section(report),
        condition_cka_section(report),
        grids_section(report),
        cartography_section(report),
        difficulty_section(report),
    ]
    out = run_dir / "report.md"
    text = "\n\n".join(s for s in sections if s) + "\n"
    atomic_write(out, lambda handle: handle.write(text.encode("utf-8")))
    log.info("wrote %s", out)
    return out
