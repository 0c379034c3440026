"""Per-layer pooled sentence embeddings: every layer from one forward pass.

Layer index = index into Hugging Face ``hidden_states``: 0 is the embedding output, L the
last block. Sentences are tokenised once, sorted by length so that batches carry little
padding, and written back in their original order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from probe.pooling import get_pooler

log = logging.getLogger(__name__)

DTYPES = ("fp32", "bf16")


def encode_layers(
    model,
    tokenizer,
    texts: Sequence[str],
    *,
    pooling: str = "mean",
    layers: Sequence[int] | None = None,
    batch_size: int = 64,
    max_length: int = 256,
    prefix: str = "",
    dtype: str = "fp32",
    threads: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Embed ``texts`` at every requested layer in one forward pass per batch.

    Args:
        model: a Hugging Face encoder (``XLMRobertaModel`` or any ``AutoModel``).
        tokenizer: its tokenizer.
        texts: n non-empty sentences.
        pooling: a registered pooler (``mean``, ``cls``, ``mean_nospecial``).
        layers: hidden_states indices to return (negative counts from the end);
            ``None`` = all L + 1.
        batch_size: sentences per forward pass.
        max_length: truncation length in tokens, special tokens included.
        prefix: prepended to every text (e5 expects ``"query: "``).
        dtype: ``fp32``, or ``bf16`` autocast (fast on CPUs with AMX and on GPUs).
        threads: torch intra-op threads for this call (restored afterwards).
        progress: show a tqdm bar.

    Returns:
        (n_layers_returned, n, d) float32.

    Raises:
        ValueError: empty input, an empty string, an unknown pooler, dtype or layer.
    """
    texts = _validate_texts(texts)
    pool = get_pooler(pooling)
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {DTYPES}")
    n_states = model.config.num_hidden_layers + 1
    layer_ids = _resolve_layers(layers, n_states)
    encodings = tokenizer(
        [prefix + t for t in texts], truncation=True, max_length=max_length,
        return_special_tokens_mask=True,
    )
    ids = encodings["input_ids"]
    order = np.argsort([-len(x) for x in ids], kind="stable")
    out = np.empty((len(layer_ids), len(texts), model.config.hidden_size), dtype=np.float32)
    device = next(model.parameters()).device
    index = torch.tensor(layer_ids)
    with _torch_threads(threads), torch.inference_mode(), _autocast(dtype, device):
        for rows in _batches(order, batch_size, progress):
            batch = _pad(tokenizer, encodings, rows, device)
            special = batch.pop("special_tokens_mask")
            states = model(**batch, output_hidden_states=True).hidden_states
            stacked = torch.stack([states[i] for i in index.tolist()])  # (k, batch, seq, dim)
            pooled = pool(stacked, batch["attention_mask"], special)
            out[:, rows] = pooled.float().cpu().numpy()
    return out


def _validate_texts(texts: Sequence[str]) -> list[str]:
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


def _resolve_layers(layers: Sequence[int] | None, n_states: int) -> list[int]:
    if layers is None:
        return list(range(n_states))
    resolved = []
    for layer in layers:
        idx = layer + n_states if layer < 0 else layer
        if not 0 <= idx < n_states:
            raise ValueError(f"layer {layer} out of range: the model has layers 0..{n_states - 1}")
        resolved.append(int(idx))
    if not resolved:
        raise ValueError("layers is empty: pass None for all layers")
    return resolved


def _batches(order: np.ndarray, batch_size: int, progress: bool) -> Iterator[np.ndarray]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    starts = range(0, len(order), batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="encode", unit="batch")
    for start in starts:
        yield order[start : start + batch_size]


def _pad(tokenizer, encodings, rows: np.ndarray, device) -> dict[str, torch.Tensor]:
    features = [
        {k: encodings[k][i] for k in ("input_ids", "attention_mask", "special_tokens_mask")}
        for i in rows.tolist()
    ]
    batch = tokenizer.pad(features, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _autocast(dtype: str, device: torch.device):
    if dtype == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
