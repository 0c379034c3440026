"""The embedding cache: hits never touch the model; the key tracks every input."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from probe.cache import embed_layers
from probe.device import resolve_dtype
from probe.models import Encoder, load_encoder, model_fingerprint

TEXTS = ["library for parsing files", "Bibliothek zum Parsen", "outil pour gérer les paquets"]


class ExplodingEncoder(Encoder):
    """An encoder whose model must not be loaded (a cache hit)."""

    @property
    def model(self):
        raise AssertionError("the model was touched on a cache hit")


def entries(root):
    return sorted(p.parent for p in root.rglob("meta.json"))


def test_second_call_is_served_without_the_model(tiny_model_dir, tmp_path):
    enc = load_encoder(str(tiny_model_dir))
    first = embed_layers(enc, TEXTS, cache_dir=tmp_path)
    blind = ExplodingEncoder(enc.name, enc.path, enc.fingerprint, enc.prefix)
    second = embed_layers(blind, TEXTS, cache_dir=tmp_path)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(embed_layers(blind, TEXTS, layers=[2], cache_dir=tmp_path),
                                  first[2:])
    np.testing.assert_array_equal(embed_layers(blind, TEXTS, layers=[2, 0], cache_dir=tmp_path),
                                  first[[2, 0]])
    assert len(entries(tmp_path)) == 1


def test_entries_are_served_as_read_only_memory_maps(tiny_model_dir, tmp_path):
    enc = load_encoder(str(tiny_model_dir))
    direct = encode_layers_fp32(enc, TEXTS)
    for _ in range(2):  # the miss and the hit both return the entry's memory map
        full = embed_layers(enc, TEXTS, dtype="fp32", cache_dir=tmp_path)
        assert isinstance(full, np.memmap) and not full.flags.writeable
        np.testing.assert_allclose(full, direct, atol=1e-6)
    for layers in ([1], [0, 1, 2], [0, 2]):
        view = embed_layers(enc, TEXTS, layers=layers, dtype="fp32", cache_dir=tmp_path)
        assert isinstance(view, np.memmap), layers
        np.testing.assert_array_equal(view, direct[layers])


def encode_layers_fp32(enc, texts):
    from probe.embed import encode_layers

    return encode_layers(enc.model, enc.tokenizer, texts, prefix=enc.prefix, dtype="fp32")


def test_bad_layers_fail_before_any_work(tiny_model_dir, tmp_path):
    enc = load_encoder(str(tiny_model_dir))
    blind = ExplodingEncoder(enc.name, enc.path, enc.fingerprint, enc.prefix)
    for layers, match in [([-1], r"layer -1 out of range: expected 0\.\.2"),
                          ([3], r"layer 3 out of range: expected 0\.\.2")]:
        with pytest.raises(ValueError, match=match):
            embed_layers(blind, TEXTS, layers=layers, cache_dir=tmp_path)
    assert not entries(tmp_path)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"texts": ["fine", None]}, r"texts\[1\] is NoneType"),
    ({"texts": []}, "empty"),
    ({"pooling": "meen"}, "did you mean 'mean'"),
    ({"store": "int8"}, "unknown store dtype"),
    ({"dtype": "fp16"}, "unknown dtype"),
])
def test_bad_input_fails_before_the_cache_or_the_model(tiny_model_dir, tmp_path, kwargs, match):
    enc = load_encoder(str(tiny_model_dir))
    blind = ExplodingEncoder(enc.name, enc.path, enc.fingerprint, enc.prefix)
    args = {"texts": TEXTS, **kwargs}
    with pytest.raises(ValueError, match=match):
        embed_layers(blind, args.pop("texts"), cache_dir=tmp_path / "emb", **args)
    assert not (tmp_path / "emb").exists()


def test_key_holds_the_resolved_dtype(tiny_model_dir, tmp_path):
    enc = load_encoder(str(tiny_model_dir))
    resolved = resolve_dtype("auto", enc.model.device, 32, 37)
    embed_layers(enc, TEXTS, dtype="auto", cache_dir=tmp_path)
    blind = ExplodingEncoder(enc.name, enc.path, enc.fingerprint, enc.prefix)
    embed_layers(blind, TEXTS, dtype=resolved, cache_dir=tmp_path)  # a hit
    (entry,) = entries(tmp_path)
    assert json.loads((entry / "meta.json").read_text())["dtype"] == resolved


def test_rewriting_an_entry_swaps_it_whole(tiny_model_dir, tmp_path):
    """A stale entry is moved aside, the new one renamed in, the old one deleted after."""
    enc = load_encoder(str(tiny_model_dir))
    first = np.array(embed_layers(enc, TEXTS, dtype="fp32", cache_dir=tmp_path))
    (entry,) = entries(tmp_path)
    (entry / "meta.json").unlink()  # unreadable: recomputed, written over the old folder
    held = np.load(entry / "layers.npy", mmap_mode="r")  # a reader still holding the old
    again = embed_layers(enc, TEXTS, dtype="fp32", cache_dir=tmp_path)
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(held, first)
    assert entries(tmp_path) == [entry]
    assert sorted(p.name for p in entry.parent.iterdir()) == [entry.name]  # nothing left over


def test_entry_files_follow_the_umask(tiny_model_dir, tmp_path):
    enc = load_encoder(str(tiny_model_dir))
    old = os.umask(0o027)
    try:
        embed_layers(enc, TEXTS, cache_dir=tmp_path)
    finally:
        os.umask(old)
    (entry,) = entries(tmp_path)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o750
    for name in ("layers.npy", "meta.json"):
        assert stat.S_IMODE((entry / name).stat().st_mode) == 0o640


@pytest.mark.parametrize(
    "change",
    [
        {"texts": TEXTS[::-1]},
        {"texts": TEXTS[:2]},
        {"pooling": "cls"},
        {"max_length": 8},
        {"dtype": "bf16"},
        {"store": "float16"},
    ],
)
def test_changing_an_input_changes_the_key(tiny_model_dir, tmp_path, change):
    enc = load_encoder(str(tiny_model_dir))
    embed_layers(enc, TEXTS, dtype="fp32", cache_dir=tmp_path)
    args = {"texts": TEXTS, "dtype": "fp32", **change}
    embed_layers(enc, args.pop("texts"), cache_dir=tmp_path, **args)
    assert len(entries(tmp_path)) == 2


def test_other_model_or_prefix_changes_the_key(tiny_model_dir, tiny_model_dir_b, tmp_path):
    a = load_encoder(str(tiny_model_dir))
    b = load_encoder(str(tiny_model_dir_b))
    assert a.fingerprint != b.fingerprint
    ea = embed_layers(a, TEXTS, cache_dir=tmp_path)
    eb = embed_layers(b, TEXTS, cache_dir=tmp_path)
    assert not np.allclose(ea, eb)
    embed_layers(load_encoder(str(tiny_model_dir), prefix="query: "), TEXTS, cache_dir=tmp_path)
    assert len(entries(tmp_path)) == 3


def test_float16_store_is_close(tiny_model_dir, tmp_path):
    enc = load_encoder(str(tiny_model_dir))
    full = embed_layers(enc, TEXTS, cache_dir=tmp_path)
    half = embed_layers(enc, TEXTS, cache_dir=tmp_path, store="float16")
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, full, atol=5e-3)


@pytest.mark.parametrize("damage", ["truncate_array", "bad_json", "wrong_key"])
def test_damaged_entry_is_recomputed(tiny_model_dir, tmp_path, damage):
    enc = load_encoder(str(tiny_model_dir))
    ref = np.array(embed_layers(enc, TEXTS, cache_dir=tmp_path))
    (entry,) = entries(tmp_path)
    if damage == "truncate_array":
        (entry / "layers.npy").write_bytes(b"\x93NUMPY garbage")
    elif damage == "bad_json":
        (entry / "meta.json").write_text("{not json")
    else:
        meta = json.loads((entry / "meta.json").read_text())
        meta["key"] = "0" * 40
        (entry / "meta.json").write_text(json.dumps(meta))
    np.testing.assert_allclose(embed_layers(enc, TEXTS, cache_dir=tmp_path), ref, atol=1e-6)
    assert len(entries(tmp_path)) == 1
    assert not [p for p in tmp_path.rglob(".*")]  # no temporary folder left behind


def test_fingerprint_tracks_weights(tiny_model_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    assert model_fingerprint(copy) == model_fingerprint(tiny_model_dir)
    cfg = json.loads((copy / "config.json").read_text())
    cfg["layer_norm_eps"] = 1e-6
    (copy / "config.json").write_text(json.dumps(cfg))
    assert model_fingerprint(copy) != model_fingerprint(tiny_model_dir)


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_encoder(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_encoder(str(tmp_path / "empty"))
