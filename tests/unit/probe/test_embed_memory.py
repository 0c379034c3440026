"""Streaming: embedding 4x more sentences through the cache does not raise peak memory.

Each size runs in a fresh subprocess that reports how far its peak resident set
(``ru_maxrss``) rose while embedding; the entry is written through a memory map and
returned as one, so that rise is set by the model, a tokenisation chunk and a batch, not
by n. The model is a 2-layer XLM-R 128 wide, so the (3, n, 128) float32 output would add
92 MB from 20k to 80k sentences if it were held in memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from probe.cache import embed_layers
    from probe.models import load_encoder

    model_dir, cache_dir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    enc = load_encoder(model_dir, device="cpu")
    words = ["library", "parsing", "Bibliothek", "outil", "paquets", "files", "tool"]
    warm = [f"{words[i % 7]} warm {i}" for i in range(10_000)]  # allocator high water
    embed_layers(enc, warm, dtype="fp32", cache_dir=cache_dir)
    texts = [f"{words[i % 7]} {i} {words[(i // 7) % 7]} {i % 13}" for i in range(n)]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stack = embed_layers(enc, texts, dtype="fp32", cache_dir=cache_dir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"base_kb": base, "peak_kb": peak, "memmap": isinstance(stack, np.memmap),
                      "shape": list(stack.shape), "checksum": float(stack[:, ::997].sum())}))
""")


def peak_rss(model_dir: Path, cache_dir: Path, n: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "XALIGN_CACHE": str(cache_dir / "xalign-cache")}
    done = subprocess.run([sys.executable, "-c", CHILD, str(model_dir), str(cache_dir), str(n)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def wide_model_dir(tmp_path_factory, tiny_model_dir):
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

    out = tmp_path_factory.mktemp("wide-xlmr")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=128, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=64,
                              max_position_embeddings=130, pad_token_id=1)
    XLMRobertaModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_number_of_sentences(wide_model_dir, tmp_path):
    small = peak_rss(wide_model_dir, tmp_path / "a", 20_000)
    large = peak_rss(wide_model_dir, tmp_path / "b", 80_000)
    assert small["memmap"] and large["memmap"]
    assert large["shape"] == [3, 80_000, 128]
    rise = [(r["peak_kb"] - r["base_kb"]) / 1024 for r in (small, large)]
    # allocator high-water jitter is ~10 MB; holding the output would add 92 MB, holding
    # the token ids as Python lists ~25 MB
    figures = (f"embedding rose peak RSS by {rise[0]:.0f} MB at 20k sentences, "
               f"{rise[1]:.0f} MB at 80k (peak {small['peak_kb'] / 1024:.0f} / "
               f"{large['peak_kb'] / 1024:.0f} MB)")
    print(figures)  # the figures quoted in the README (pytest -s)
    assert rise[1] - rise[0] < 25, figures
