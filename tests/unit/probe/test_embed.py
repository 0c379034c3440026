"""encode_layers against a manual masked mean of hidden_states, and its invariances.

Exact comparisons run in fp32: the default dtype ``auto`` may pick bf16 on this CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from probe.embed import encode_layers, resolve_layers

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
    got = encode_layers(model, tok, TEXTS, pooling=pooling, batch_size=2, dtype="fp32")
    want = manual(model, tok, TEXTS, pooling)
    assert got.shape == (model.config.num_hidden_layers + 1, len(TEXTS), 32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_mean_and_nospecial_differ(tiny):
    model, tok = tiny
    a = encode_layers(model, tok, TEXTS, pooling="mean", dtype="fp32")
    b = encode_layers(model, tok, TEXTS, pooling="mean_nospecial", dtype="fp32")
    assert np.abs(a - b).max() > 1e-3


def test_batch_size_and_order_do_not_change_results(tiny):
    model, tok = tiny
    ref = encode_layers(model, tok, TEXTS, batch_size=len(TEXTS), dtype="fp32")
    for bs in (1, 2, 3):
        got = encode_layers(model, tok, TEXTS, batch_size=bs, dtype="fp32")
        np.testing.assert_allclose(got, ref, atol=2e-5)
    perm = [3, 0, 4, 2, 1]
    shuffled = encode_layers(model, tok, [TEXTS[i] for i in perm], batch_size=2, dtype="fp32")
    np.testing.assert_allclose(shuffled, ref[:, perm], atol=2e-5)


@pytest.mark.parametrize("batch_tokens", [1, 20, 40, 64, 10_000])
def test_token_budget_batches_equal_one_sentence_at_a_time(tiny, batch_tokens):
    model, tok = tiny
    texts = TEXTS * 7 + ["ok ok", "la la la la la la la la la la la la la la la la la"]
    one = encode_layers(model, tok, texts, batch_size=1, dtype="fp32")
    got = encode_layers(model, tok, texts, batch_tokens=batch_tokens, dtype="fp32")
    np.testing.assert_allclose(got, one, atol=2e-5)


def test_token_budget_is_respected(tiny, monkeypatch):
    """No forward pass exceeds batch_tokens padded tokens (or batch_size sentences)."""
    model, tok = tiny
    shapes = []
    forward = model.forward

    def spy(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    texts = TEXTS * 9
    encode_layers(model, tok, texts, batch_tokens=60, batch_size=4, dtype="fp32")
    assert sum(rows for rows, _ in shapes) == len(texts)
    assert all(rows * width <= 60 and rows <= 4 for rows, width in shapes)
    longest = max(len(tok(t)["input_ids"]) for t in texts)
    assert max(width for _, width in shapes) == longest
    assert len(shapes) < len(texts)  # short sentences do share passes


def test_cpu_workers_give_what_one_thread_gives(tiny):
    model, tok = tiny
    texts = TEXTS * 6
    before = torch.get_num_threads()
    one = encode_layers(model, tok, texts, threads=1, batch_tokens=20, dtype="fp32")
    three = encode_layers(model, tok, texts, threads=3, batch_tokens=20, dtype="fp32")
    np.testing.assert_allclose(three, one, atol=2e-5)
    bf16 = [encode_layers(model, tok, texts, threads=t, batch_tokens=20, dtype="bf16")
            for t in (1, 3)]
    np.testing.assert_allclose(bf16[1], bf16[0], atol=2e-5)  # autocast reached the workers
    assert np.abs(bf16[0] - one).max() > 1e-6
    assert torch.get_num_threads() == before


def test_chunked_tokenisation_keeps_order(tiny, monkeypatch):
    import probe.embed as embed

    model, tok = tiny
    texts = [TEXTS[i % len(TEXTS)] + " x" * (i % 4) for i in range(23)]
    ref = encode_layers(model, tok, texts, dtype="fp32")
    monkeypatch.setattr(embed, "TOKENIZE_CHUNK", 4)
    np.testing.assert_allclose(encode_layers(model, tok, texts, dtype="fp32"), ref, atol=2e-5)


def test_output_into_a_memory_map_equals_in_memory(tiny, tmp_path):
    model, tok = tiny
    ref = encode_layers(model, tok, TEXTS, layers=[0, 2], dtype="fp32")
    out = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                    shape=ref.shape)
    got = encode_layers(model, tok, TEXTS, layers=[0, 2], dtype="fp32", out=out)
    assert got is out
    del got, out
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), ref)


def test_output_array_is_checked(tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match=r"out has shape \(3, 5, 32\), expected \(2, 5, 32\)"):
        encode_layers(model, tok, TEXTS, layers=[0, 1], out=np.zeros((3, 5, 32), np.float32))
    frozen = np.zeros((3, 5, 32), np.float32)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        encode_layers(model, tok, TEXTS, out=frozen)


def test_layer_selection_and_prefix(tiny):
    model, tok = tiny
    full = encode_layers(model, tok, TEXTS, dtype="fp32")
    np.testing.assert_allclose(encode_layers(model, tok, TEXTS, layers=[2, 0], dtype="fp32"),
                               full[[2, 0]])
    prefixed = encode_layers(model, tok, TEXTS, prefix="query: ", dtype="fp32")
    np.testing.assert_allclose(prefixed, manual(model, tok, ["query: " + t for t in TEXTS], "mean"),
                               atol=2e-5)


def test_resolve_layers_is_strict():
    assert resolve_layers(None, 3) == [0, 1, 2]
    assert resolve_layers([2, 0, np.int64(1)], 3) == [2, 0, 1]
    for bad, match in [([3], r"layer 3 out of range: expected 0\.\.2"),
                       ([-1], r"layer -1 out of range: expected 0\.\.2"),
                       ([13], r"layer 13 out of range: expected 0\.\.12"),
                       ([], "empty"), ([1.0], "not an integer"), ([True], "not an integer")]:
        with pytest.raises(ValueError, match=match):
            resolve_layers(bad, 13 if bad == [13] else 3)


def test_text_without_tokens_is_a_clear_error(tiny):
    model, tok = tiny

    class NoSpecials:  # a tokenizer that adds no <s> </s> and drops the text entirely
        pad_token_id = tok.pad_token_id

        def __call__(self, texts, **kwargs):
            ids = [[] if t == "\u200b" else tok(t, add_special_tokens=False)["input_ids"]
                   for t in texts]
            return {"input_ids": ids, "special_tokens_mask": [[0] * len(x) for x in ids]}

    with pytest.raises(ValueError, match=r"tokenises to no tokens at all: '\\u200b'"):
        encode_layers(model, NoSpecials(), ["fine text", "\u200b"], dtype="fp32")


def test_truncation_respects_max_length(tiny):
    model, tok = tiny
    long = ["word " * 200]
    got = encode_layers(model, tok, long, max_length=16, dtype="fp32")
    enc = tok(long[0], truncation=True, max_length=16, return_tensors="pt")
    with torch.no_grad():
        last = model(**enc).last_hidden_state[0].mean(0).numpy()
    np.testing.assert_allclose(got[-1, 0], last, atol=2e-5)


def test_bf16_close_to_fp32(tiny):
    model, tok = tiny
    a = encode_layers(model, tok, TEXTS, dtype="fp32")[-1]
    b = encode_layers(model, tok, TEXTS, dtype="bf16")[-1]
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99
    assert np.abs(a - b).max() > 1e-6  # bf16 did run: it is not bit-equal to fp32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"texts": []}, "empty"),
        ({"texts": ["fine", "  "]}, r"texts\[1\] is an empty string"),
        ({"texts": "one string"}, "not one string"),
        ({"pooling": "max"}, "unknown pooling 'max'"),
        ({"pooling": "meen"}, "did you mean 'mean'"),
        ({"layers": [5]}, r"layer 5 out of range: expected 0\.\.2"),
        ({"layers": [-1]}, r"layer -1 out of range: expected 0\.\.2"),
        ({"dtype": "fp8"}, "unknown dtype"),
        ({"batch_tokens": 0}, "batch_tokens must be >= 1"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"threads": 0}, "threads must be >= 1"),
    ],
)
def test_bad_input_raises_clear_errors(tiny, kwargs, match):
    model, tok = tiny
    args = {"texts": TEXTS, **kwargs}
    texts = args.pop("texts")
    with pytest.raises(ValueError, match=match):
        encode_layers(model, tok, texts, **args)
