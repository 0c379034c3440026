"""The ``xalign`` command line: one subcommand per module in ``xalign.commands``."""

from __future__ import annotations

import argparse
import logging
import sys

from xalign import __version__
from xalign.commands import COMMANDS
from xalign.errors import UserError

log = logging.getLogger("xalign")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xalign",
        description="Probe how fine-tuning changes a multilingual encoder's "
        "cross-lingual alignment, layer by layer.",
    )
    parser.add_argument("--version", action="version", version=f"xalign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks for input errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    _quiet_third_party(args.verbose)
    # Bad input (UserError) is one line and exit code 2; anything else is a bug and keeps
    # its traceback.
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"xalign {args.command}: error: {exc}\n")
        return 2


def _quiet_third_party(verbose: bool) -> None:
    """Keep third-party chatter (load reports, backend probing) out of a normal run."""
    if verbose:
        return
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # weight loading/saving bars, one per checkpoint
    except ImportError:  # transformers is a dependency; this only guards odd installs
        pass


if __name__ == "__main__":
    sys.exit(main())
