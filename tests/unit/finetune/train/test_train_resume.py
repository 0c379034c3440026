"""A checkpoint is resumed only by the run that wrote it: same examples, start and config."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from ft_train_helpers import Crash, crash_at, flat_params, make_features, make_model

from finetune.resume import check_resumable, features_digest
from finetune.trainer import TrainConfig, train

CONFIG = TrainConfig(learning_rate=1e-3, max_steps=4, batch_size=8, save_every=2, eval_every=1)


def _two_steps(tiny_model_dir, collator, out, features, fingerprint):
    """Train 2 of 4 steps into ``out`` and die before step 3 is saved."""
    with pytest.raises(Crash):
        train(make_model(tiny_model_dir), features, collator, CONFIG, out,
              eval_fn=crash_at(3), start_fingerprint=fingerprint)
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-2"]


@pytest.mark.parametrize("change", ["examples", "start"])
def test_stale_checkpoint_is_refused_and_left_alone(tiny_model_dir, collator, tmp_path, change):
    examples_a, examples_b = make_features(20), make_features(20, seed=1)
    _two_steps(tiny_model_dir, collator, tmp_path, examples_a, "encoder-a")
    state_before = (tmp_path / "checkpoint-2" / "trainer_state.json").read_text()

    fresh = make_model(tiny_model_dir, seed=7)
    before = flat_params(fresh)
    features, fingerprint, message = {
        "examples": (examples_b, "encoder-a", r"trained on other examples \(digest "),
        "start": (examples_a, "encoder-b", r"trained from another starting model \(fingerprint "
                                           r"encoder-a != encoder-b\)"),
    }[change]
    folder = re.escape(str(tmp_path))
    with pytest.raises(ValueError, match=rf"^checkpoint-2 in {folder} was {message}.*: "
                                         rf"remove {folder} or use another out_dir$"):
        train(fresh, features, collator, CONFIG, tmp_path, start_fingerprint=fingerprint)
    # nothing was resumed into the model, nothing written into the folder
    for key, value in flat_params(fresh).items():
        assert (value == before[key]).all(), key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-2"]
    assert (tmp_path / "checkpoint-2" / "trainer_state.json").read_text() == state_before


def test_same_examples_and_start_resume(tiny_model_dir, collator, tmp_path):
    features = make_features(20)
    _two_steps(tiny_model_dir, collator, tmp_path / "b", features, "encoder-a")
    saved = json.loads((tmp_path / "b" / "checkpoint-2" / "trainer_state.json").read_text())
    assert saved["data_digest"] == features_digest({"": features})
    assert saved["start_fingerprint"] == "encoder-a"
    # a freshly built list with equal content (numpy ints included) is the same data
    rebuilt = [{**f, "labels": np.int64(f["labels"])} for f in make_features(20)]
    result = train(make_model(tiny_model_dir), rebuilt, collator, CONFIG, tmp_path / "b",
                   start_fingerprint="encoder-a")
    straight = train(make_model(tiny_model_dir), features, collator, CONFIG, tmp_path / "a",
                     start_fingerprint="encoder-a")
    assert result.global_step == 4
    assert [h["loss"] for h in result.history] == [h["loss"] for h in straight.history]


def test_digest_sees_every_change_of_the_features():
    base = make_features(6)
    digest = features_digest({"": base})
    assert digest == features_digest({"": make_features(6)})
    relabelled = [dict(f) for f in base]
    relabelled[3]["labels"] = 1 - relabelled[3]["labels"]
    retokenised = [dict(f) for f in base]
    retokenised[0]["input_ids"] = [*retokenised[0]["input_ids"][:-1], 5, 2]
    reindexed = [dict(f) for f in base]
    reindexed[5]["example_index"] = 9
    qa = [{**f, "start_positions": 1} for f in base]
    variants = [base[::-1], base[:5], relabelled, retokenised, reindexed, qa]
    digests = {features_digest({"": v}) for v in variants} | {features_digest({"t": base})}
    assert digest not in digests and len(digests) == len(variants) + 1


def test_check_lists_every_difference_in_one_line(tmp_path):
    saved = {"config": {"batch_size": 8, "save_every": 2}, "data_digest": "a" * 32,
             "start_fingerprint": None}
    current = {"config": {"batch_size": 4, "save_every": 5}, "data_digest": "b" * 32,
               "start_fingerprint": None}
    with pytest.raises(ValueError) as err:
        check_resumable(saved, current, tmp_path / "checkpoint-4")
    message = str(err.value)
    assert "\n" not in message and "save_every" not in message  # may change on resume
    assert f"checkpoint-4 in {tmp_path} was trained with batch_size=8 but the config says 4; "\
           f"on other examples (digest {'a' * 16}.. != {'b' * 16}..)" in message
    check_resumable(saved, {**saved, "config": {"batch_size": 8, "save_every": 9}},
                    tmp_path / "checkpoint-4")
