"""Write a figure as PNG (300 dpi) and PDF, atomically, with a JSON sidecar of its origin."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import matplotlib
from matplotlib.figure import Figure

DPI = 300


def save_figure(
    fig: Figure,
    stem: str | Path,
    *,
    sources: Sequence[str | Path] = (),
    params: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Save ``fig`` as ``stem.png`` and ``stem.pdf`` plus the sidecar ``stem.json``.

    Each file is written to a temporary file in the target folder and moved into place
    with ``os.replace``, so a reader never sees a half-written figure. The PDF carries
    no creation date, so the same figure gives the same bytes.

    Args:
        fig: the figure; its label (set by every ``plot_*`` function) names the producer.
        stem: output path without suffix, e.g. ``runs/demo/figures/layers_tatoeba``.
        sources: result tables the figure was drawn from; recorded with their SHA-256.
        params: the plotting arguments (JSON-serialisable), to regenerate the figure.

    Returns:
        The written paths: PNG, PDF, JSON.

    Raises:
        FileNotFoundError: a listed source table does not exist.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png = stem.with_name(stem.name + ".png")
    pdf = stem.with_name(stem.name + ".pdf")
    atomic_write(png, lambda f: fig.savefig(f, format="png", dpi=DPI))
    atomic_write(pdf, lambda f: fig.savefig(f, format="pdf", metadata={"CreationDate": None}))
    sidecar = {
        "figure_function": fig.get_label() or None,
        "sources": [_describe(Path(s)) for s in sources],
        "params": dict(params or {}),
        "files": [png.name, pdf.name],
        "matplotlib": matplotlib.__version__,
    }
    meta = stem.with_name(stem.name + ".json")
    text = json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write(meta, lambda f: f.write(text.encode("utf-8")))
    return [png, pdf, meta]


def _describe(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: source table of the figure not found")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"path": str(path), "sha256": digest}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


def atomic_write(target: Path, write: Callable[[BinaryIO], Any]) -> None:
    """Write through ``write(handle)`` into a temp file beside ``target``, then rename.

    On any error the temp file is removed and ``target`` is left as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600: follow the user's umask instead
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
