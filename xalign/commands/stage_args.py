"""Arguments and progress shared by the config-driven commands (run, difficulty, finetune)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path


def add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, help="experiment YAML (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set finetune.seeds=[0,1] (repeatable)")
    p.add_argument("--out", type=Path, default=None,
                   help="run directory (default: <output.root>/<name>)")


def load(args: argparse.Namespace):
    from xalign.config import load_config

    config = load_config(args.config, args.overrides)
    return config, args.out or Path(config.output.root) / config.name


@contextlib.contextmanager
def unit_bar(total: int | None):
    """A tqdm bar over units of work; yields the ``on_unit`` callback."""
    from tqdm.auto import tqdm

    with tqdm(total=total, desc="units", unit="unit") as bar:
        def on_unit(name: str, cached: bool) -> None:
            bar.set_postfix_str(("cached " if cached else "") + name[:40])
            bar.update(1)

        yield on_unit
