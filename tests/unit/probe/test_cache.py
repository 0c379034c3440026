"""The embedding cache: hits never touch the model; the key tracks every input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probe.cache import embed_layers
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
    np.testing.assert_array_equal(embed_layers(blind, TEXTS, layers=[-1], cache_dir=tmp_path),
                                  first[-1:])
    assert len(entries(tmp_path)) == 1


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
    embed_layers(enc, TEXTS, cache_dir=tmp_path)
    args = {"texts": TEXTS, **change}
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
        (entry / "layer_01.npy").write_bytes(b"\x93NUMPY garbage")
    elif damage == "bad_json":
        (entry / "meta.json").write_text("{not json")
    else:
        meta = json.loads((entry / "meta.json").read_text())
        meta["key"] = "0" * 40
        (entry / "meta.json").write_text(json.dumps(meta))
    np.testing.assert_allclose(embed_layers(enc, TEXTS, cache_dir=tmp_path), ref, atol=1e-6)
    assert not list(tmp_path.rglob("*.tmp")) and len(entries(tmp_path)) == 1


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
