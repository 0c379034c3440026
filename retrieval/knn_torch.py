"""Exact inner-product top-k with torch matmul + topk in chunks, on a GPU or the CPU.

The same code runs with device="cuda" (chosen automatically by :func:`retrieval.knn.knn`
when a CUDA GPU is present) and device="cpu" (how the tests exercise it). Scores are
float32 with TF32 switched off, so the ids equal FAISS's exact search except for ties.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from retrieval._common import f32, merge_topk

QUERY_BLOCK = 4096  # query rows per matmul
INDEX_BLOCK = 32_768  # index rows per device copy; a score block is at most 512 MB float32


def torch_knn(
    queries: np.ndarray,
    index: np.ndarray,
    k: int,
    *,
    device: str | torch.device = "cuda",
    chunk_size: int = INDEX_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product with chunked torch matmul on ``device``.

    Index blocks are the outer loop (each copied to the device once); a running (nq, k)
    top-k per query stays on the device and is merged with each block's top-k.

    Args:
        queries: (nq, d) float rows (a memory map is read block by block).
        index: (n, d) float rows, n >= k.
        k: neighbours per query, 1 <= k <= n (validated by the caller).
        device: torch device for the matmuls.
        chunk_size: cap on both block sizes (memory: QUERY_BLOCK x INDEX_BLOCK scores).

    Returns:
        (scores, ids): (nq, k) float32 and int64, sorted by score descending then row
        ascending.
    """
    q_block, i_block = min(QUERY_BLOCK, chunk_size), min(INDEX_BLOCK, chunk_size)
    nq = queries.shape[0]
    best_v = torch.full((nq, 0), -torch.inf, device=device)
    best_i = torch.full((nq, 0), -1, dtype=torch.int64, device=device)
    with _no_tf32():
        for i0 in range(0, index.shape[0], i_block):
            block = torch.from_numpy(f32(index[i0 : i0 + i_block])).to(device)
            best_v, best_i = _merge_block(queries, block, i0, (best_v, best_i), k, q_block)
    # Final order on the host: score descending, then row ascending within exact ties.
    return merge_topk(best_v.cpu().numpy(), best_i.cpu().numpy(), k)


def _merge_block(
    queries: np.ndarray,
    block: torch.Tensor,
    offset: int,
    best: tuple[torch.Tensor, torch.Tensor],
    k: int,
    q_block: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge one index block (m, d) into the running top-k, query block by query block."""
    width = min(k, best[0].shape[1] + block.shape[0])
    kb = min(k, block.shape[0])
    out_v = torch.empty((queries.shape[0], width), device=block.device)
    out_i = torch.empty((queries.shape[0], width), dtype=torch.int64, device=block.device)
    for q0 in range(0, queries.shape[0], q_block):
        rows = slice(q0, q0 + q_block)
        x = torch.from_numpy(f32(queries[rows])).to(block.device)
        v, i = (x @ block.T).topk(kb, dim=1)  # (qb, kb)
        cand_v = torch.cat([best[0][rows], v], 1)
        cand_i = torch.cat([best[1][rows], i + offset], 1)
        top_v, pos = cand_v.topk(width, dim=1)
        out_v[rows], out_i[rows] = top_v, cand_i.gather(1, pos)
    return out_v, out_i


@contextlib.contextmanager
def _no_tf32() -> Iterator[None]:
    """Full float32 matmuls on CUDA: TF32 would round inputs to 10-bit mantissas."""
    matmul = torch.backends.cuda.matmul
    previous = matmul.allow_tf32
    matmul.allow_tf32 = False
    try:
        yield
    finally:
        matmul.allow_tf32 = previous
