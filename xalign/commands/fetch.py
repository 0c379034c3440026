"""``xalign fetch [all|debian|catalogs]``: fetch the offline data sources into the cache."""

from __future__ import annotations

import argparse

SOURCES = ("all", "debian", "catalogs")


def register(subparsers) -> None:
    """Add the ``fetch`` subcommand."""
    parser = subparsers.add_parser(
        "fetch", help="fetch Debian descriptions and gettext catalogs into the cache",
        description="Fetch and parse the offline parallel-text sources and build the Debian "
        "fine-tuning tasks under <cache>/debian-tasks (idempotent).",
    )
    parser.add_argument("source", nargs="?", default="all", choices=SOURCES)
    parser.add_argument("--force", action="store_true", help="fetch and parse again")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetch the chosen sources and print pair counts per language."""
    from xalign.corpora.catalogs import fetch_catalogs
    from xalign.corpora.debian import fetch_debian
    from xalign.corpora.debian_tasks import build_default_tasks

    fetchers = {"debian": fetch_debian, "catalogs": fetch_catalogs}
    for name in fetchers if args.source == "all" else (args.source,):
        meta = fetchers[name](force=args.force)
        # Debian: short-description pairs per language; catalogs: pairs per language.
        table = meta["counts"]
        if "pairs" in meta:
            table = {lang: units["short"] for lang, units in meta["pairs"].items()}
        counts = " ".join(f"{lang}={n}" for lang, n in sorted(table.items()))
        seconds = meta.get("seconds", meta.get("fetch_seconds", 0) + meta.get("parse_seconds", 0))
        print(f"{name}: {len(table)} languages, built in {seconds:.1f} s; pairs: {counts}")
        if name == "debian":  # the fine-tuning stage reads these task folders
            for task, path in build_default_tasks().items():
                print(f"debian task {task}: {path}")
    return 0
