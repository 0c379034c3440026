"""``xalign tasks``: every registered fine-tuning task as an aligned table or JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from finetune.tasks import Task, describe_source
from xalign.tasks import list_tasks

COLUMNS = ("name", "format", "role", "metric", "train_task", "source", "languages")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tasks", help="list the registered fine-tuning tasks",
        description="Intermediate (English) and target (zero-shot) tasks with their format, "
        "role, data source and evaluation languages.",
    )
    p.add_argument("--format", dest="output_format", choices=["table", "json"],
                   default="table", help="aligned text table (default) or JSON")
    p.add_argument("--role", choices=["intermediate", "target"], default=None,
                   help="only tasks of this role")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    tasks = [t for t in list_tasks() if args.role in (None, t.role)]
    if args.output_format == "json":
        json.dump([task_record(t) for t in tasks], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table([table_row(t) for t in tasks]))
    return 0


def table_row(task: Task) -> dict[str, str]:
    return {"name": task.name, "format": task.format, "role": task.role,
            "metric": task.metric, "train_task": task.train_task or "",
            "source": describe_source(task.source),
            "languages": " ".join(task.languages)}


def task_record(task: Task) -> dict:
    """A JSON-ready description of one task (sources as nested dicts)."""
    record = dataclasses.asdict(task)
    record["source"] = {"kind": type(task.source).__name__, **record["source"]}
    record["source_text"] = describe_source(task.source)
    return record


def format_table(rows: list[dict[str, str]]) -> str:
    """Left-aligned columns separated by two spaces, with a header line."""
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines) + "\n"
