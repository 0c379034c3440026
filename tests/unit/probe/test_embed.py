"""encode_layers against a manual masked mean of hidden_states, and its invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from probe.embed import encode_layers

TEXTS = [
    "library for parsing configuration files",
    "Bibliothek zum Parsen von Konfigurationsdateien und noch viel mehr Text hier",
    "ok",
    "outil en ligne de commande pour gérer les paquets",
    "敏捷的棕色狐狸跳过了懒狗。",
]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return AutoModel.from_pretrained(tiny_model_dir).eval(), AutoTokenizer.from_pretrained(
        tiny_model_dir
    )


def manual(model, tokenizer, texts, pooling):
    """Brute force: one sentence at a time, no padding at all."""
    rows = []
    for text in texts:
        enc = tokenizer(text, return_tensors="pt", return_special_tokens_mask=True)
        special = enc.pop("special_tokens_mask")[0].bool()
        with torch.no_grad():
            states = model(**enc, output_hidden_states=True).hidden_states
        if pooling == "mean":
            rows.append([h[0].mean(0).numpy() for h in states])
        elif pooling == "mean_nospecial":
            rows.append([h[0][~special].mean(0).numpy() for h in states])
        else:
            rows.append([h[0][0].numpy() for h in states])
    return np.stack(rows, axis=1)  # (L + 1, n, d)


@pytest.mark.parametrize("pooling", ["mean", "mean_nospecial", "cls"])
def test_pooled_layers_equal_manual_masked_mean(tiny, pooling):
    model, tok = tiny
    got = encode_layers(model, tok, TEXTS, pooling=pooling, batch_size=2)
    want = manual(model, tok, TEXTS, pooling)
    assert got.shape == (model.config.num_hidden_layers + 1, len(TEXTS), 32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_mean_and_nospecial_differ(tiny):
    model, tok = tiny
    a = encode_layers(model, tok, TEXTS, pooling="mean")
    b = encode_layers(model, tok, TEXTS, pooling="mean_nospecial")
    assert np.abs(a - b).max() > 1e-3


def test_batch_size_and_order_do_not_change_results(tiny):
    model, tok = tiny
    ref = encode_layers(model, tok, TEXTS, batch_size=len(TEXTS))
    for bs in (1, 2, 3):
        np.testing.assert_allclose(encode_layers(model, tok, TEXTS, batch_size=bs), ref, atol=2e-5)
    perm = [3, 0, 4, 2, 1]
    shuffled = encode_layers(model, tok, [TEXTS[i] for i in perm], batch_size=2)
    np.testing.assert_allclose(shuffled, ref[:, perm], atol=2e-5)


def test_layer_selection_and_prefix(tiny):
    model, tok = tiny
    full = encode_layers(model, tok, TEXTS)
    np.testing.assert_allclose(encode_layers(model, tok, TEXTS, layers=[0, -1]), full[[0, 2]])
    prefixed = encode_layers(model, tok, TEXTS, prefix="query: ")
    np.testing.assert_allclose(prefixed, manual(model, tok, ["query: " + t for t in TEXTS], "mean"),
                               atol=2e-5)


def test_truncation_respects_max_length(tiny):
    model, tok = tiny
    long = ["word " * 200]
    got = encode_layers(model, tok, long, max_length=16)
    enc = tok(long[0], truncation=True, max_length=16, return_tensors="pt")
    with torch.no_grad():
        last = model(**enc).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(got[-1, 0], last, atol=2e-5)


def test_bf16_close_to_fp32(tiny):
    model, tok = tiny
    a = encode_layers(model, tok, TEXTS)[-1]
    b = encode_layers(model, tok, TEXTS, dtype="bf16")[-1]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"texts": []}, "empty"),
        ({"texts": ["fine", "  "]}, r"texts\[1\] is an empty string"),
        ({"texts": "one string"}, "not one string"),
        ({"pooling": "max"}, "unknown pooling 'max'"),
        ({"pooling": "meen"}, "did you mean 'mean'"),
        ({"layers": [5]}, "layer 5 out of range"),
        ({"dtype": "fp8"}, "unknown dtype"),
    ],
)
def test_bad_input_raises_clear_errors(tiny, kwargs, match):
    model, tok = tiny
    args = {"texts": TEXTS, **kwargs}
    texts = args.pop("texts")
    with pytest.raises(ValueError, match=match):
        encode_layers(model, tok, texts, **args)
