"""``xalign evaluate``: zero-shot evaluation of a fine-tuned checkpoint, one row per language."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="per-language zero-shot accuracy/F1 of a task checkpoint",
        description="Loads a checkpoint trained on TASK (e.g. <run>/units/phase2-*/train/final) "
        "and scores it on the task's test split in every language.",
    )
    p.add_argument("--model", required=True, help="checkpoint directory with the task's head")
    p.add_argument("--task", required=True, help="registered task name (see `xalign tasks`)")
    p.add_argument("--languages", default=None, help="comma-separated ISO codes (default: all)")
    p.add_argument("--task-dir", type=Path, default=None, help="local data folder of the task")
    p.add_argument("--limit", type=int, default=None, help="examples per language")
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--out", type=Path, default=None, help="write zeroshot.csv/.json here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from xalign.io import write_table
    from xalign.pipeline.evaluation import evaluate_checkpoint

    langs = args.languages.split(",") if args.languages else None
    rows = evaluate_checkpoint(args.model, args.task, languages=langs, task_dir=args.task_dir,
                               limit=args.limit, max_length=args.max_length)
    for row in rows:
        print(f"{row['language']:>5s}  {row['metric']} {row['value']:.4f}  (n={row['n']})")
    if args.out:
        write_table(args.out / "zeroshot", rows, ["task", "language", "metric", "value", "n"])
    return 0
