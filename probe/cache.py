"""On-disk cache of per-layer embeddings.

One entry per (model fingerprint, ordered texts, pooling, max length, prefix, resolved
compute dtype, store dtype): a folder holding ``layers.npy``, every layer as one
(L + 1, n, d) array (float32, or float16 on request), and ``meta.json`` describing what
produced it. The array is filled batch by batch through a memory map inside a temporary
folder, renamed into place when complete, and read back memory-mapped: neither writing
nor reading holds the n rows in memory. A damaged or mismatched entry is recomputed
rather than trusted.
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
import torch

from probe.device import resolve_dtype
from probe.embed import encode_layers, resolve_layers, validate_texts
from probe.models import Encoder
from probe.paths import cache_root
from probe.pooling import get_pooler

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: one layers.npy per entry, written while encoding
STORE_DTYPES = ("float32", "float16")
ARRAY = "layers.npy"


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
    dtype: str = "auto",
    store: str = "float32",
    cache_dir: Path | str | None = None,
    **encode_kwargs,
) -> np.ndarray:
    """Cached :func:`probe.embed.encode_layers` for a resolved encoder.

    Args:
        encoder: from :func:`probe.models.load_encoder`; its model loads only on a miss.
        texts: n non-empty sentences (the order is part of the key).
        pooling, max_length: as in ``encode_layers``; part of the key.
        layers: hidden_states indices (0..L) to return; the cache always holds all of them.
        dtype: ``auto``, ``fp32`` or ``bf16``; the key holds the resolved one, never
            ``auto`` (see :func:`probe.device.resolve_dtype`).
        store: ``float32`` or ``float16`` on disk (part of the key).
        cache_dir: defaults to ``<cache root>/embeddings``.
        encode_kwargs: batch_tokens, batch_size, threads, progress (not part of the key:
            they do not change the result).

    Returns:
        (n_layers_returned, n, d) float32: a read-only memory map of the entry when
        ``store`` is float32 and ``layers`` is None or evenly spaced (e.g. ``[12]``,
        ``[0, 6, 12]``); an in-memory copy otherwise.

    Raises:
        ValueError: bad texts, pooling, store, dtype or layer (before any work), or bad
            encode arguments.
    """
    if store not in STORE_DTYPES:
        raise ValueError(f"unknown store dtype {store!r}: expected one of {STORE_DTYPES}")
    layer_ids = resolve_layers(layers, encoder.num_layers + 1)
    texts = validate_texts(texts)
    get_pooler(pooling)  # an unknown name fails here, not after the cache lookup
    config = encoder.config
    dtype = resolve_dtype(dtype, torch.device(encoder.device), config.hidden_size,
                          getattr(config, "intermediate_size", 4 * config.hidden_size))
    settings = {"pooling": pooling, "max_length": max_length, "prefix": encoder.prefix,
                "dtype": dtype, "store": store}
    key = cache_key(encoder.fingerprint, texts, **settings)
    entry = Path(cache_dir or cache_root() / "embeddings") / key[:2] / key
    stack = _read_entry(entry, key)
    if stack is None:
        meta = {"key": key, "format": FORMAT_VERSION, "model": encoder.name,
                "fingerprint": encoder.fingerprint, "n": len(texts), **settings,
                "texts_sha256": texts_digest(texts),
                "shape": [encoder.num_layers + 1, len(texts), config.hidden_size]}
        stack = _compute_entry(encoder, texts, entry, meta, encode_kwargs)
    return _select(stack, layer_ids)


def _compute_entry(encoder: Encoder, texts: list[str], entry: Path, meta: dict,
                   encode_kwargs: dict) -> np.ndarray:
    """Encode straight into the entry's memory map; the entry appears only when complete."""
    def encode(out):
        return encode_layers(encoder.model, encoder.tokenizer, texts, pooling=meta["pooling"],
                             max_length=meta["max_length"], prefix=encoder.prefix,
                             dtype=meta["dtype"], out=out, **encode_kwargs)

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}-"))
    except OSError as exc:
        log.warning("embedding cache not writable (%s): continuing without it", exc)
        return encode(None)
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; the entry follows the umask
        array = np.lib.format.open_memmap(tmp / ARRAY, mode="w+", dtype=meta["store"],
                                          shape=tuple(meta["shape"]))
        try:
            _reserve(tmp / ARRAY)
        except OSError as exc:  # a full cache disk: compute in memory, as when unwritable
            log.warning("embedding cache has no room (%s): continuing without it", exc)
            del array
            return encode(None)
        encode(array)
        array.flush()
        del array
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        _swap_in(tmp, entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stack = _read_entry(entry, meta["key"])
    if stack is None:
        raise OSError(f"embedding cache entry {entry} vanished or broke right after writing")
    return stack


def _reserve(path: Path) -> None:
    """Allocate the whole file now. open_memmap makes a sparse file; writing its pages
    through the map on a disk that fills up mid-way kills the process with SIGBUS, while
    a reservation that does not fit raises ENOSPC here, before any work."""
    with open(path, "r+b") as fh:
        os.posix_fallocate(fh.fileno(), 0, os.fstat(fh.fileno()).st_size)


def _swap_in(tmp: Path, entry: Path) -> None:
    """Rename ``tmp`` to ``entry``; an existing entry is moved aside first, deleted after.

    At no point is there neither an old nor a new entry, and a reader holding the old
    one's memory map keeps valid data (unlinked files live on while mapped).
    """
    old = None
    if entry.exists():
        old = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}-old-")) / "entry"
        try:
            os.replace(entry, old)
        except FileNotFoundError:  # another process moved it first
            old = None
    try:
        os.replace(tmp, entry)
    except OSError as exc:  # another process put its (equal) entry in place meanwhile
        log.info("embedding cache entry %s written concurrently (%s): keeping the other",
                 entry.name, exc)
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


def _read_entry(entry: Path, key: str) -> np.ndarray | None:
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            raise ValueError("key mismatch")
        stack = np.load(entry / ARRAY, mmap_mode="r")
        if list(stack.shape) != meta["shape"] or stack.dtype != np.dtype(meta["store"]):
            raise ValueError(f"array is {stack.dtype} {stack.shape}, meta says "
                             f"{meta['store']} {meta['shape']}")
        if not np.isfinite(stack[:, :64]).all():
            raise ValueError("non-finite values")
        return stack
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        log.warning("embedding cache entry %s is damaged (%s): recomputing", entry.name, exc)
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _select(stack: np.ndarray, layer_ids: list[int]) -> np.ndarray:
    """The requested layers as float32: a view when evenly spaced, else a copy."""
    if stack.dtype != np.float32:
        return np.asarray(stack[layer_ids], dtype=np.float32)
    steps = set(np.diff(layer_ids).tolist())
    if len(layer_ids) == 1 or (len(steps) == 1 and steps.pop() > 0):
        step = layer_ids[1] - layer_ids[0] if len(layer_ids) > 1 else 1
        return stack[layer_ids[0]:layer_ids[-1] + 1:step]
    return stack[layer_ids]


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
