"""Atomic writers for run artefacts (temp file in the same folder, then rename)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _atomic_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_npy(path: Path, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array)
    _atomic_bytes(path, buf.getvalue())


def json_safe(obj):
    """``obj`` with non-finite floats (NaN, inf) replaced by None: strict JSON has neither."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def write_json(path: Path, data) -> None:
    """Write strict JSON atomically (non-finite floats become null)."""
    _atomic_bytes(path, (json.dumps(json_safe(data), indent=2, allow_nan=False) + "\n").encode())


def write_text(path: Path, text: str) -> None:
    _atomic_bytes(path, text.encode("utf-8"))


def write_table(path_stem: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Write ``rows`` as ``<stem>.csv`` and ``<stem>.json`` with a fixed column order."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in columns})
    _atomic_bytes(path_stem.with_suffix(".csv"), buf.getvalue().encode())
    write_json(path_stem.with_suffix(".json"), [{c: row.get(c) for c in columns} for row in rows])
