"""Atomic writes for everything xalign puts on disk: one helper per need.

- :func:`atomic_file`: a file is written to a temporary sibling and renamed into place;
- :func:`atomic_dir`: a multi-file output (per-layer arrays, a figure set, result tables)
  is written into a temporary sibling folder and renamed into place as a whole; an old
  folder is first renamed aside and deleted only after the new one is in place, so a
  crash at any moment leaves either the old or the new folder, never neither.

Temporaries are named ``.<name>.tmp-<random>`` so :func:`clean_stale_temporaries` can
remove what a killed run left behind. Files get the mode the user's umask gives
(``mkstemp`` alone would make them 0600).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

TMP_MARK = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}{TMP_MARK}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; swap it in if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}{TMP_MARK}"))
    try:
        yield tmp
        os.chmod(tmp, DIR_MODE)
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old{TMP_MARK}"))
            os.replace(path, old / path.name)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_stale_temporaries(root: Path) -> int:
    """Delete the temporaries a killed run left anywhere under ``root``; returns the count."""
    removed = 0
    for path in sorted(Path(root).rglob(f".*{TMP_MARK}*"), reverse=True):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    return removed


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, array)


def write_npy_rows(path: Path, rows, *, dtype=np.float32, chunk: int = 65536) -> None:
    """Write an (n, d) array-like (e.g. a memory map) as ``.npy`` in row chunks.

    Plain ``write`` calls, not a writable memory map: on a full disk a write through a
    memory map kills the process with SIGBUS, a plain write raises ENOSPC. Memory stays
    bounded by one chunk. Not atomic by itself: use inside :func:`atomic_dir`.
    """
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": tuple(int(s) for s in rows.shape)}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for start in range(0, rows.shape[0], chunk):
            fh.write(np.ascontiguousarray(rows[start:start + chunk], dtype=dtype).tobytes())


def json_safe(obj):
    """``obj`` with non-finite floats (NaN, inf) replaced by None: strict JSON has neither."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def json_text(data) -> str:
    """Strict, indented JSON (non-finite floats become null)."""
    return json.dumps(json_safe(data), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(path: Path, data) -> None:
    """Write strict JSON atomically (non-finite floats become null)."""
    write_text(path, json_text(data))


def table_files(folder: Path, name: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Write ``rows`` as ``<name>.csv`` and ``<name>.json`` into ``folder`` (not atomic: for
    use inside :func:`atomic_dir`, or through :func:`write_table`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="raise",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c, "")) for c in columns})
    (folder / f"{name}.csv").write_text(buf.getvalue(), encoding="utf-8")
    (folder / f"{name}.json").write_text(
        json_text([{c: row.get(c) for c in columns} for row in rows]), encoding="utf-8")


def write_table(path_stem: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Write one table's CSV and JSON, each atomically."""
    path_stem = Path(path_stem)
    with atomic_dir(path_stem.parent / f".{path_stem.name}.table") as tmp:
        table_files(tmp, path_stem.name, rows, columns)
        for suffix in (".csv", ".json"):
            os.replace(tmp / f"{path_stem.name}{suffix}", path_stem.with_suffix(suffix))


def _cell(value):
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value
