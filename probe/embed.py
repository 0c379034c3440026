"""Per-layer pooled sentence embeddings: every layer from one forward pass.

Layer index = index into Hugging Face ``hidden_states``: 0 is the embedding output, L the
last block (never "last k" indexing: :func:`resolve_layers` is the one place that checks
an index). Texts are tokenised in chunks; within a chunk they are sorted by length and cut
into batches by a token budget, so batches carry almost no padding and memory is bounded
by the chunk and the batch, not by the number of texts. Results are written back in the
original order, optionally straight into a caller's (memory-mapped) array.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import mmap
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from probe.device import resolve_dtype, torch_threads
from probe.pooling import get_pooler

# Padded tokens per forward pass, by device type. On a CPU matmuls reach full speed from
# ~256 rows, while much larger batches push activations (tokens x FFN width) past glibc's
# 32 MB mmap threshold, so every pass page-faults them in afresh (measured: ~15% slower);
# each CPU worker runs its own batch. A GPU needs larger batches to hide kernel-launch
# overhead (not measured here).
DEFAULT_BATCH_TOKENS = {"cpu": 2048, "cuda": 32768}
DEFAULT_BATCH_SIZE = 512  # sentences per forward pass at most (short sentences)
# A batch only takes sentences at least this close to its longest (in tokens), so padding
# stays under ~5% even on 600 sentences; a long outlier gets a small batch of its own.
PAD_TOLERANCE = 0.1
# Texts tokenised (and sorted) at a time: large enough that length sorting leaves little
# padding, small enough that token ids of a million texts are never all held at once.
TOKENIZE_CHUNK = 8192


def resolve_layers(layers: Sequence[int] | None, n_states: int) -> list[int]:
    """Check layer indices against a model with ``n_states`` hidden states (L + 1).

    Args:
        layers: hidden_states indices in 0..L; ``None`` = all of them.
        n_states: L + 1.

    Returns:
        The indices as a list of ints, in the order given.

    Raises:
        ValueError: a negative or too-large index, or an empty list.
    """
    if layers is None:
        return list(range(n_states))
    layers = list(layers)
    if not layers:
        raise ValueError("layers is empty: pass None for all layers")
    for layer in layers:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise ValueError(f"layer {layer!r} is not an integer index into hidden_states")
        if not 0 <= layer < n_states:
            raise ValueError(f"layer {layer} out of range: expected 0..{n_states - 1} "
                             "(hidden_states index: 0 = embeddings, "
                             f"{n_states - 1} = last block)")
    return [int(layer) for layer in layers]


def encode_layers(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    pooling: str = "mean",
    layers: Sequence[int] | None = None,
    batch_tokens: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_length: int = 256,
    prefix: str = "",
    dtype: str = "auto",
    threads: int | None = None,
    progress: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Embed ``texts`` at every requested layer in one forward pass per batch.

    Args:
        model: a Hugging Face encoder (``XLMRobertaModel`` or any ``AutoModel``), on the
            device it should run on.
        tokenizer: its tokenizer.
        texts: n non-empty sentences.
        pooling: a registered pooler (``mean``, ``cls``, ``mean_nospecial``).
        layers: hidden_states indices (0..L) to return; ``None`` = all L + 1.
        batch_tokens: padded tokens (sentences x longest) per forward pass; ``None`` =
            ``DEFAULT_BATCH_TOKENS`` of the model's device type.
        batch_size: sentences per forward pass at most.
        max_length: truncation length in tokens, special tokens included.
        prefix: prepended to every text (e5 expects ``"query: "``).
        dtype: ``fp32``, ``bf16`` (autocast) or ``auto`` (bf16 on a GPU, or on a CPU where
            a measured matmul says it is clearly faster: :func:`probe.device.resolve_dtype`).
        threads: CPU threads for this call: on a CPU, one single-threaded worker per
            thread, each running its own batch (so memory holds ``threads`` batches);
            ``None`` = ``torch.get_num_threads()``. Torch's setting is restored afterwards.
        progress: show a tqdm bar.
        out: optional writable (n_layers_returned, n, d) array (e.g. from
            ``np.lib.format.open_memmap``) filled batch by batch; a writable memory map's
            finished pages are released after every chunk.

    Returns:
        (n_layers_returned, n, d) float32, or ``out`` itself when given.

    Raises:
        ValueError: empty input, an empty string, an unknown pooler or dtype, a bad layer,
            batch limit or ``out`` shape.
    """
    texts = validate_texts(texts)
    pool = get_pooler(pooling)
    device = next(model.parameters()).device
    if batch_tokens is None:
        batch_tokens = DEFAULT_BATCH_TOKENS.get(device.type, DEFAULT_BATCH_TOKENS["cpu"])
    for name, value in (("batch_tokens", batch_tokens), ("batch_size", batch_size),
                        ("max_length", max_length),
                        ("threads", 1 if threads is None else threads)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    config = model.config
    layer_ids = resolve_layers(layers, config.num_hidden_layers + 1)
    out = _output_array(out, (len(layer_ids), len(texts), config.hidden_size))
    workers = (threads or torch.get_num_threads()) if device.type == "cpu" else 1
    with torch_threads(1 if workers > 1 else threads), _progress(len(texts), progress) as bar:
        dtype = resolve_dtype(dtype, device, config.hidden_size,
                              getattr(config, "intermediate_size", 4 * config.hidden_size))
        forward = functools.partial(_pool_batch, model, pool, layer_ids=layer_ids, dtype=dtype,
                                    pad_id=tokenizer.pad_token_id or 0)
        with _executor(workers) as executor:
            for start in range(0, len(texts), TOKENIZE_CHUNK):
                chunk = _tokenize(tokenizer, texts[start:start + TOKENIZE_CHUNK], prefix,
                                  max_length)
                batches = list(chunk.batches(batch_tokens, batch_size))
                for rows, pooled in zip(batches, executor.map(functools.partial(forward, chunk),
                                                              batches), strict=True):
                    out[:, start + rows] = pooled
                    bar.update(len(rows))
                _release_pages(out)
    return out


def _pool_batch(model, pool, chunk: _Tokens, rows: np.ndarray, *, layer_ids: list[int],
                dtype: str, pad_id: int) -> np.ndarray:
    """One forward pass over ``rows`` of ``chunk``: (k, len(rows), d) float32 pooled states.

    Grad mode and autocast are per thread, so they are set here, in the worker.
    """
    device = next(model.parameters()).device
    with torch.inference_mode(), _autocast(dtype, device):
        ids, attention, special = chunk.padded(rows, pad_id, device)
        states = model(input_ids=ids, attention_mask=attention, output_hidden_states=True)
        pooled = [pool(states.hidden_states[i][None], attention, special)[0] for i in layer_ids]
        return torch.stack(pooled).float().cpu().numpy()


@contextlib.contextmanager
def _executor(workers: int):
    """``workers`` single-threaded CPU workers, each running whole batches, or inline.

    On a CPU, one batch per core beats one batch split over all cores: the encoder's
    small matmuls and element-wise ops scale poorly across threads (measured on 2 cores:
    1.1x in fp32, 1.25x in bf16).
    """
    if workers == 1:
        yield _Inline()
        return
    executor = ThreadPoolExecutor(workers, thread_name_prefix="encode",
                                  initializer=torch.set_num_threads, initargs=(1,))
    try:
        yield executor
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


class _Inline:
    @staticmethod
    def map(fn, items):
        return map(fn, items)


@dataclass
class _Tokens:
    """One chunk's token ids, flat: sentence i is ``ids[starts[i]:starts[i] + lengths[i]]``."""

    ids: np.ndarray  # (total,) int64
    special: np.ndarray  # (total,) bool: the tokenizer's special-tokens mask
    starts: np.ndarray  # (m,) int64
    lengths: np.ndarray  # (m,) int64

    def batches(self, batch_tokens: int, batch_size: int) -> Iterator[np.ndarray]:
        """Row indices, longest first: rows x longest <= batch_tokens, rows <= batch_size,
        and every row within PAD_TOLERANCE of the batch's longest."""
        order = np.argsort(-self.lengths, kind="stable")
        ordered = self.lengths[order]
        i = 0
        while i < len(order):
            width = int(ordered[i])
            take = max(1, min(batch_size, batch_tokens // width))
            # sorted descending: rows close enough to the longest form a prefix
            close = int(np.searchsorted(-ordered[i:i + take], -width * (1 - PAD_TOLERANCE),
                                        side="right"))
            yield order[i:i + max(1, close)]
            i += max(1, close)

    def padded(self, rows: np.ndarray, pad_id: int, device) -> tuple[torch.Tensor, ...]:
        """(batch, longest) input ids, attention mask and special mask, right-padded."""
        lengths = self.lengths[rows]
        width = int(lengths.max())
        attention = np.arange(width) < lengths[:, None]  # (batch, width) bool
        # the p-th real token of the batch (row-major), in row r, is flat token
        # starts[r] + p - (real tokens of the rows before r)
        offsets = self.starts[rows] - (np.cumsum(lengths) - lengths)
        src = np.repeat(offsets, lengths) + np.arange(int(lengths.sum()))
        ids = np.full((len(rows), width), pad_id, dtype=np.int64)
        ids[attention] = self.ids[src]
        special = np.zeros((len(rows), width), dtype=np.int64)
        special[attention] = self.special[src]
        return tuple(torch.from_numpy(a).to(device) for a in (ids, attention.astype(np.int64),
                                                                  special))


def _tokenize(tokenizer, texts: list[str], prefix: str, max_length: int) -> _Tokens:
    enc = tokenizer([prefix + t for t in texts], truncation=True, max_length=max_length,
                    return_special_tokens_mask=True, return_attention_mask=False,
                    return_token_type_ids=False)
    lengths = np.fromiter(map(len, enc["input_ids"]), dtype=np.int64, count=len(texts))
    if not lengths.all():
        raise ValueError(f"a text tokenises to no tokens at all: {texts[int(lengths.argmin())]!r}")
    total = int(lengths.sum())
    ids = np.fromiter(itertools.chain.from_iterable(enc["input_ids"]), np.int64, count=total)
    special = np.fromiter(itertools.chain.from_iterable(enc["special_tokens_mask"]), bool,
                          count=total)
    return _Tokens(ids, special, np.cumsum(lengths) - lengths, lengths)


def validate_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or ValueError naming the first text that is not a non-empty str."""
    if isinstance(texts, str):
        raise ValueError("texts must be a sequence of strings, not one string")
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty: nothing to embed")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"texts[{i}] is {type(t).__name__}, expected str")
        if not t.strip():
            raise ValueError(f"texts[{i}] is an empty string")
    return texts


def _output_array(out: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if tuple(out.shape) != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {shape} "
                         "(layers returned, texts, hidden size)")
    if not out.flags.writeable:
        raise ValueError("out is read-only: pass a writable array")
    return out


def _release_pages(array: np.ndarray) -> None:
    """Drop a shared file mapping's written pages from this process's resident set.

    Written pages of a memory map count as resident until the kernel reclaims them, so
    a million-row map would look (and be accounted) as a million rows of memory. For a
    shared mapping the data stays in the page cache and the file; a private
    (copy-on-write, mode ``c``) mapping would lose it, so only ``r+``/``w+`` qualify.
    """
    if getattr(array, "mode", None) not in ("r+", "w+") or not hasattr(mmap, "MADV_DONTNEED"):
        return
    base = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    if base is not None:
        base.madvise(mmap.MADV_DONTNEED)


def _progress(total: int, enabled: bool):
    if not enabled:
        return contextlib.nullcontext(_NoBar())
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="encode", unit="sent")


class _NoBar:
    def update(self, n: int) -> None:
        pass


def _autocast(dtype: str, device: torch.device):
    if dtype == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
