"""load_tokenizer: one parsed tokenizer for every folder holding the same tokenizer files."""

from __future__ import annotations

import json
import shutil

from probe.models import load_tokenizer


def test_checkpoints_of_one_tokenizer_share_it(tiny_model_dir_b, tmp_path):
    """A checkpoint's copy records the last call's truncation and where it was loaded
    from; neither makes it another tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir_b)
    expected = tokenizer("hello world, and more words")["input_ids"]
    tokenizer(["hello world"], truncation=True, max_length=3)
    tokenizer.save_pretrained(tmp_path / "checkpoint")
    assert (tmp_path / "checkpoint" / "tokenizer.json").read_bytes() != (
        tiny_model_dir_b / "tokenizer.json").read_bytes()

    a, b = load_tokenizer(tiny_model_dir_b), load_tokenizer(tmp_path / "checkpoint")
    assert a is b
    assert a("hello world, and more words")["input_ids"] == expected


def test_other_tokenizer_files_get_their_own_tokenizer(tiny_model_dir, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    config = json.loads((other / "tokenizer_config.json").read_text())
    config["model_max_length"] = 7
    (other / "tokenizer_config.json").write_text(json.dumps(config))
    mine, theirs = load_tokenizer(tiny_model_dir), load_tokenizer(other)
    assert mine is not theirs
    assert theirs.model_max_length == 7 != mine.model_max_length
