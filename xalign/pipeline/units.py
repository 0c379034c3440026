"""Units of work that are skipped when their inputs are unchanged.

Every step of a run (a subset selection, a training run, the probing of one checkpoint)
is a unit that owns a folder ``<run>/units/<name>/``:

- ``inputs.json`` is written before the work starts: the hash and the inputs themselves;
- ``unit.json`` is written when the work is done: the same hash and the JSON result.

A unit whose ``unit.json`` matches its inputs is not run again. A unit that was
interrupted with the same inputs resumes inside its folder (training units continue from
their own checkpoints). A unit whose inputs differ starts from an EMPTY folder: nothing
of the earlier work (checkpoints, dynamics) can leak into the new result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xalign import __version__
from xalign.io import json_safe, write_json

log = logging.getLogger(__name__)

RECORD, INPUTS = "unit.json", "inputs.json"


def inputs_hash(inputs: Any) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def is_writer() -> bool:
    """Under torchrun only rank 0 writes records, as the trainer does."""
    return os.environ.get("RANK", "0") == "0"


class Units:
    """The unit store of one run directory."""

    def __init__(self, run_dir: Path, *, on_done: Callable[[str, bool], None] | None = None):
        self.root = Path(run_dir) / "units"
        self.on_done = on_done or (lambda name, cached: None)
        self.ran: list[str] = []
        self.reused: list[str] = []

    def record(self, name: str) -> dict | None:
        """The finished record of ``name`` (None if it has none or it is damaged)."""
        path = self.root / name / RECORD
        try:
            return json.loads(path.read_text()) if path.is_file() else None
        except (OSError, json.JSONDecodeError):
            log.warning("unit %s: damaged record, running again", name)
            return None

    def run(self, name: str, inputs: dict, fn: Callable[[Path], Any], *,
            shared: bool = True) -> Any:
        """Return the recorded result of ``name`` if ``inputs`` match, else ``fn(folder)``.

        ``shared``: under torchrun every rank runs the unit together (training: the
        collectives need all ranks) and rank 0 writes; ``shared=False`` means this rank
        alone runs it (a probing unit sharded to it) and writes its record.
        """
        digest = inputs_hash(inputs)
        saved = self.record(name)
        if saved is not None and saved.get("inputs_sha256") == digest and "result" in saved:
            self.reused.append(name)
            self.on_done(name, True)
            return saved["result"]
        writer = is_writer() or not shared
        folder = self._claim(name, digest, inputs, writer=writer, shared=shared)
        # what the record will hold, so a fresh run and a resumed one see the same values
        result = json_safe(fn(folder))
        if writer:
            write_json(folder / RECORD, {"name": name, "inputs_sha256": digest,
                                         "inputs": inputs, "xalign": __version__,
                                         "rank": int(os.environ.get("RANK", "0")),
                                         "result": result})
        self.ran.append(name)
        self.on_done(name, False)
        return result

    def _claim(self, name: str, digest: str, inputs: dict, *, writer: bool,
               shared: bool) -> Path:
        """The unit's folder, emptied unless it holds interrupted work on these inputs."""
        folder = self.root / name
        stamp = folder / INPUTS
        same = False
        if stamp.is_file():
            try:
                same = json.loads(stamp.read_text()).get("inputs_sha256") == digest
            except (OSError, json.JSONDecodeError):
                same = False
        if shared:  # every rank has read the folder's state before rank 0 changes it
            barrier()
        if same:
            log.info("unit %s: resuming interrupted work", name)
            if writer:
                (folder / RECORD).unlink(missing_ok=True)
        else:
            if folder.exists() and writer:
                log.info("unit %s: inputs changed, starting from an empty folder", name)
                shutil.rmtree(folder)
            if writer:
                folder.mkdir(parents=True, exist_ok=True)
                write_json(stamp, {"name": name, "inputs_sha256": digest, "inputs": inputs})
        if shared:  # and no rank starts before the folder is ready
            barrier()
        return folder


def barrier() -> None:
    """Ranks wait until rank 0 has prepared the folder (no-op in a single process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
