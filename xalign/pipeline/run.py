"""``xalign run`` (and its subsets ``difficulty`` and ``finetune``): plan, execute, tables.

Phase 0 is the pretrained model, phase 1 the model after English intermediate training
(condition ``none`` skips it, so its phase 1 is its phase 0), phase 2 after target-task
training. The plan (:mod:`xalign.plan`) is validated before anything runs; every unit is
resumable (:mod:`xalign.pipeline.units`); the result tables are rebuilt from the units'
records at the end of every run.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from xalign.config import ExperimentConfig, dump_config
from xalign.errors import UserError, writing
from xalign.io import clean_stale_temporaries, write_text
from xalign.pipeline.analysis import analyse, zeroshot_intervals
from xalign.pipeline.units import is_writer
from xalign.plan import Plan, build_plan
from xalign.tables import write_tables

log = logging.getLogger(__name__)


def run_experiment(config: ExperimentConfig, run_dir: Path, *, on_unit=None, plan: Plan | None
                   = None, kinds=None) -> dict:
    """Run (or resume) the experiment, or the units of ``kinds`` and what they need.

    Returns:
        A summary: run_dir, units run / reused, the tables written.
    """
    from xalign.pipeline.assemble import assemble
    from xalign.pipeline.execute import execute

    plan = plan or build_plan(config)
    if plan.missing:
        raise UserError(f"{len(plan.missing)} input(s) missing, nothing was run: "
                        + "; ".join(plan.missing))
    if kinds is not None:
        plan = plan.subset(kinds)
    run_dir = Path(run_dir)
    writer = is_writer()
    if writer:
        with writing(run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
            clean_stale_temporaries(run_dir)
            write_text(run_dir / "config.yaml", dump_config(config))
    ctx = execute(plan, run_dir, on_unit=on_unit)
    summary = {"run_dir": str(run_dir), "units_run": len(ctx.units.ran),
               "units_reused": len(ctx.units.reused), "tables": [], "results": ctx.results,
               "plan": plan}
    if not writer:  # under torchrun rank 0 alone assembles and writes the tables
        return summary
    tables = assemble(plan, ctx.results)
    if tables.get("zeroshot"):  # the test-set interval of each per-language score
        tables["zeroshot"] = zeroshot_intervals(tables["zeroshot"])
    if kinds is None:
        tables.update(analyse(tables, config))
        tables.update(_flips(plan, ctx, tables))
    with writing(run_dir / "results"):
        written = write_tables(run_dir / "results", tables, keep_others=kinds is not None)
    if kinds is None and config.output.figures:
        _report_if_changed(run_dir)
    return {**summary, "tables": [str(p) for p in written]}


def _flips(plan: Plan, ctx, tables: dict) -> dict:
    """Which Tatoeba pairs flip between checkpoints (counts per layer, pairs at the
    headline layer)."""
    from xalign.analysis.primary import headline
    from xalign.pipeline.flip_tables import flip_tables

    if not tables.get("alignment") or not ctx.config.data.aligned:
        return {}
    texts = {c.lang: (c.src_texts, c.tgt_texts) for c in ctx.corpora.aligned}
    layers = headline(ctx.config.analysis, tables["alignment"]).layers
    return flip_tables(plan, ctx.results, texts, layers)


def _report_if_changed(run_dir: Path) -> None:
    """Draw figures and report.md unless they were drawn from these exact tables."""
    from xalign.report import write_report

    digest = hashlib.sha256()
    for path in sorted((run_dir / "results").glob("*.csv")):
        digest.update(path.name.encode() + path.read_bytes())
    stamp = run_dir / "figures" / ".tables.sha256"
    if (run_dir / "report.md").is_file() and stamp.is_file() \
            and stamp.read_text() == digest.hexdigest():
        log.info("report is up to date with the result tables")
        return
    with writing(run_dir / "figures"):
        write_report(run_dir)
        write_text(stamp, digest.hexdigest())
