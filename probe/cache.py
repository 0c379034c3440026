"""On-disk cache of per-layer embeddings.

One entry per (model fingerprint, ordered texts, pooling, max length, prefix, compute
dtype): a folder holding ``layer_XX.npy`` for every layer (float32, or float16 on request)
and ``meta.json`` describing what produced it. Entries are written into a temporary
folder and renamed into place, read back memory-mapped, and a damaged or mismatched entry
is recomputed rather than trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from probe.embed import encode_layers
from probe.models import Encoder
from probe.paths import cache_root

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
STORE_DTYPES = ("float32", "float16")


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 of the ordered texts (length-prefixed, so no two lists collide)."""
    h = hashlib.sha256()
    for t in texts:
        raw = t.encode("utf-8")
        h.update(len(raw).to_bytes(8, "little"))
        h.update(raw)
    return h.hexdigest()


def cache_key(fingerprint: str, texts: Sequence[str], **settings) -> str:
    """The entry key: everything that changes the content of the embeddings."""
    record = {"format": FORMAT_VERSION, "model": fingerprint, "texts": texts_digest(texts),
              **settings}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:40]


def embed_layers(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    pooling: str = "mean",
    layers: Sequence[int] | None = None,
    max_length: int = 256,
    dtype: str = "fp32",
    store: str = "float32",
    cache_dir: Path | None = None,
    **encode_kwargs,
) -> np.ndarray:
    """Cached :func:`probe.embed.encode_layers` for a resolved encoder.

    Args:
        encoder: from :func:`probe.models.load_encoder`; its model loads only on a miss.
        texts: n non-empty sentences (the order is part of the key).
        pooling, max_length, dtype: as in ``encode_layers``; all part of the key.
        layers: which hidden_states to return; the cache always holds all of them.
        store: ``float32`` or ``float16`` on disk (part of the key).
        cache_dir: defaults to ``<cache root>/embeddings``.
        encode_kwargs: batch_size, threads, progress (not part of the key: they do not
            change the result).

    Returns:
        (n_layers_returned, n, d) float32 (memory-mapped when served from float32 files).
    """
    if store not in STORE_DTYPES:
        raise ValueError(f"unknown store dtype {store!r}: expected one of {STORE_DTYPES}")
    texts = list(texts)
    key = cache_key(encoder.fingerprint, texts, pooling=pooling, max_length=max_length,
                    prefix=encoder.prefix, dtype=dtype, store=store)
    entry = (cache_dir or cache_root() / "embeddings") / key[:2] / key
    stack = _read_entry(entry, key)
    if stack is None:
        full = encode_layers(encoder.model, encoder.tokenizer, texts, pooling=pooling,
                             max_length=max_length, prefix=encoder.prefix, dtype=dtype,
                             **encode_kwargs)
        meta = {"key": key, "format": FORMAT_VERSION, "model": encoder.name,
                "fingerprint": encoder.fingerprint, "n": len(texts), "pooling": pooling,
                "max_length": max_length, "prefix": encoder.prefix, "dtype": dtype,
                "store": store, "texts_sha256": texts_digest(texts), "shape": list(full.shape)}
        _write_entry(entry, full.astype(store), meta)
        stack = _read_entry(entry, key)
        if stack is None:  # unwritable cache: still return the result
            stack = [full[i] for i in range(full.shape[0])]
    n_states = len(stack)
    ids = range(n_states) if layers is None else [(i + n_states if i < 0 else i) for i in layers]
    for i in ids:
        if not 0 <= i < n_states:
            raise ValueError(f"layer {i} out of range: the model has layers 0..{n_states - 1}")
    return np.stack([np.asarray(stack[i], dtype=np.float32) for i in ids])


def _read_entry(entry: Path, key: str) -> list[np.ndarray] | None:
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            raise ValueError("key mismatch")
        n_layers, n, d = meta["shape"]
        arrays = [np.load(entry / f"layer_{i:02d}.npy", mmap_mode="r") for i in range(n_layers)]
        if any(a.shape != (n, d) or not np.isfinite(a[: min(n, 64)]).all() for a in arrays):
            raise ValueError("bad array shape or values")
        return arrays
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        log.warning("embedding cache entry %s is damaged (%s): recomputing", entry.name, exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _write_entry(entry: Path, stack: np.ndarray, meta: dict) -> None:
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}-"))
    except OSError as exc:
        log.warning("embedding cache not writable (%s): continuing without it", exc)
        return
    try:
        for i, layer in enumerate(stack):
            np.save(tmp / f"layer_{i:02d}.npy", layer)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        if entry.exists():
            shutil.rmtree(entry)
        os.replace(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
