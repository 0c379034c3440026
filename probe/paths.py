"""Where xalign keeps heavy artefacts: converted models, embedding caches, fetched text."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "XALIGN_CACHE"


def cache_root(*, create: bool = True) -> Path:
    """Return the cache root: ``$XALIGN_CACHE`` if set, else ``~/.cache/xalign``.

    The folder is created on first use (``create=False``: only looking, e.g. ``--plan``).
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        root = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base) / "xalign"
    if create:
        root.mkdir(parents=True, exist_ok=True)
    return root
