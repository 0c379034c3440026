"""Units of work that are skipped when their inputs are unchanged.

Every step of a run (a subset selection, a training run, the probing of one checkpoint)
is a unit: a folder ``<run>/units/<name>/`` whose ``unit.json`` records the hash of the
unit's inputs and its JSON result. A unit whose record matches is not run again; a unit
that was interrupted has no record, so it runs again (training units resume from their
own checkpoints). Changing an input changes the hash, so stale results are never reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xalign import __version__
from xalign.io import json_safe, write_json

log = logging.getLogger(__name__)


def inputs_hash(inputs: Any) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


class Units:
    """The unit store of one run directory."""

    def __init__(self, run_dir: Path, *, on_done: Callable[[str, bool], None] | None = None):
        self.root = Path(run_dir) / "units"
        self.on_done = on_done or (lambda name, cached: None)
        self.ran: list[str] = []
        self.reused: list[str] = []

    def dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, name: str, inputs: dict, fn: Callable[[Path], Any]) -> Any:
        """Return the recorded result of ``name`` if ``inputs`` match, else ``fn(dir)``."""
        digest = inputs_hash(inputs)
        record = self.root / name / "unit.json"
        if record.is_file():
            try:
                saved = json.loads(record.read_text())
                if saved.get("inputs_sha256") == digest:
                    self.reused.append(name)
                    self.on_done(name, True)
                    return saved["result"]
                log.info("unit %s: inputs changed, running again", name)
            except (json.JSONDecodeError, KeyError):
                log.warning("unit %s: damaged record, running again", name)
        # what the record will hold, so a fresh run and a resumed one see the same values
        result = json_safe(fn(self.dir(name)))
        # Under torchrun every rank runs every unit (training units need all ranks for their
        # collectives); only rank 0 writes, as the trainer does.
        if os.environ.get("RANK", "0") == "0":
            write_json(record, {"name": name, "inputs_sha256": digest, "inputs": inputs,
                                "xalign": __version__, "result": result})
        self.ran.append(name)
        self.on_done(name, False)
        return result
