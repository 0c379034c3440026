"""Training loop: learning, checkpoint layout, exact resume, options."""

from __future__ import annotations

import json

import pytest
import torch
from ft_train_helpers import Crash, crash_at, flat_params, make_features, make_model
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

from finetune.trainer import TrainConfig, train


def test_training_lowers_loss_and_writes_layout(tiny_model_dir, features, collator, tmp_path):
    model = make_model(tiny_model_dir, dropout=0.0)
    config = TrainConfig(learning_rate=1e-2, max_steps=30, batch_size=8, warmup_ratio=0.0,
                         save_every=15)
    result = train(model, features, collator, config, tmp_path)
    losses = [h["loss"] for h in result.history]
    assert result.global_step == 30 and [h["step"] for h in result.history] == list(range(1, 31))
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    for step in (15, 30):
        folder = tmp_path / f"checkpoint-{step}"
        names = {p.name for p in folder.iterdir()}
        assert {"model.safetensors", "config.json", "optimizer.safetensors", "scheduler.json",
                "rng.json", "trainer_state.json"} <= names
    assert not list(tmp_path.glob(".tmp*"))
    # final/ shares the last checkpoint's model files (hard links) and holds nothing of
    # the resume state
    final = {p.name for p in result.checkpoint_dir.iterdir()}
    assert {"model.safetensors", "config.json", "train_config.json"} <= final
    assert not final & {"optimizer.safetensors", "scheduler.json", "rng.json",
                        "trainer_state.json"}
    assert (result.checkpoint_dir / "model.safetensors").stat().st_ino == (
        tmp_path / "checkpoint-30" / "model.safetensors").stat().st_ino
    reloaded = AutoModelForSequenceClassification.from_pretrained(result.checkpoint_dir)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[key], value, rtol=0, atol=0)
    saved = json.loads((result.checkpoint_dir / "train_config.json").read_text())
    assert saved["learning_rate"] == 1e-2 and saved["max_steps"] == 30


def test_final_is_written_when_the_last_step_has_no_checkpoint(tiny_model_dir, features,
                                                                collator, tmp_path):
    model = make_model(tiny_model_dir, dropout=0.0)
    config = TrainConfig(learning_rate=1e-2, max_steps=5, batch_size=8, save_every=None)
    result = train(model, features, collator, config, tmp_path)
    assert not list(tmp_path.glob("checkpoint-*"))
    assert (result.checkpoint_dir / "model.safetensors").stat().st_nlink == 1
    reloaded = AutoModelForSequenceClassification.from_pretrained(result.checkpoint_dir)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(reloaded.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_two_steps_resume_two_steps_equals_four(tiny_model_dir, collator, tmp_path, grad_accum):
    features = make_features(20)  # 20 / 8 -> a short last batch inside the 4 steps
    config = TrainConfig(learning_rate=1e-3, max_steps=4, batch_size=8, grad_accum=grad_accum,
                         save_every=2, eval_every=1, warmup_ratio=0.25)
    straight = make_model(tiny_model_dir)  # dropout on: resume must restore the RNG too
    full = train(straight, features, collator, config, tmp_path / "a", eval_fn=crash_at(99))

    interrupted = make_model(tiny_model_dir)
    with pytest.raises(Crash):
        train(interrupted, features, collator, config, tmp_path / "b", eval_fn=crash_at(3))
    assert (tmp_path / "b" / "checkpoint-2").is_dir()
    assert not (tmp_path / "b" / "checkpoint-4").exists()
    resumed_model = make_model(tiny_model_dir, seed=123)  # other head init: must be overwritten
    resumed = train(resumed_model, features, collator, config, tmp_path / "b",
                    eval_fn=crash_at(99))

    assert resumed.global_step == 4
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
    assert [h["lr"] for h in resumed.history] == [h["lr"] for h in full.history]
    a, b = flat_params(straight), flat_params(resumed_model)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6)
    state = load_file(tmp_path / "b" / "final" / "model.safetensors")
    torch.testing.assert_close(state["classifier.out_proj.weight"],
                               a["classifier.out_proj.weight"], rtol=0, atol=1e-6)


def test_a_finished_run_is_not_trained_again(tiny_model_dir, features, collator, tmp_path):
    config = TrainConfig(learning_rate=1e-3, max_steps=2, batch_size=8, save_every=2)
    first = make_model(tiny_model_dir)
    train(first, features, collator, config, tmp_path)
    again = make_model(tiny_model_dir, seed=5)
    result = train(again, features, collator, config, tmp_path)
    assert result.global_step == 2 and len(result.history) == 2
    for key, value in flat_params(first).items():
        torch.testing.assert_close(again.state_dict()[key], value, rtol=0, atol=0)


def test_freeze_embeddings_freezes_word_embeddings_only(tiny_model_dir, features, collator,
                                                        tmp_path):
    model = make_model(tiny_model_dir)
    before = flat_params(model)
    config = TrainConfig(learning_rate=1e-2, max_steps=3, batch_size=8, freeze_embeddings=True,
                         warmup_ratio=0.0, weight_decay=0.0)
    train(model, features, collator, config, tmp_path)
    after = flat_params(model)
    word = "roberta.embeddings.word_embeddings.weight"
    assert torch.equal(before[word], after[word])
    assert not torch.equal(before["roberta.embeddings.position_embeddings.weight"],
                           after["roberta.embeddings.position_embeddings.weight"])
    assert not torch.equal(before["roberta.encoder.layer.0.attention.self.query.weight"],
                           after["roberta.encoder.layer.0.attention.self.query.weight"])


def test_bf16_autocast_trains_close_to_fp32(tiny_model_dir, features, collator, tmp_path):
    runs = {}
    for precision in ("no", "bf16"):
        model = make_model(tiny_model_dir, dropout=0.0)
        config = TrainConfig(learning_rate=1e-3, max_steps=3, batch_size=8,
                             mixed_precision=precision, gradient_checkpointing=True)
        runs[precision] = (train(model, features, collator, config, tmp_path / precision), model)
    fp32, bf16 = runs["no"][0].history, runs["bf16"][0].history
    assert all(p.dtype == torch.float32 for p in runs["bf16"][1].parameters())
    assert runs["bf16"][1].is_activation_checkpointing
    for a, b in zip(fp32, bf16, strict=True):
        assert b["loss"] == pytest.approx(a["loss"], rel=0.05)
        assert b["loss"] != a["loss"]  # autocast really ran in bf16


def test_eval_fn_metrics_join_history(tiny_model_dir, features, collator, tmp_path):
    modes = []

    def eval_fn(model):
        modes.append(model.training)
        return {"dev_accuracy": 0.5}

    config = TrainConfig(max_steps=5, batch_size=8, eval_every=2)
    result = train(make_model(tiny_model_dir), features, collator, config, tmp_path,
                   eval_fn=eval_fn)
    assert [h["step"] for h in result.history if "dev_accuracy" in h] == [2, 4, 5]
    assert modes == [False, False, False]


def test_fp16_without_gpu_is_refused(tiny_model_dir, features, collator, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="fp16.*bf16"):
        train(make_model(tiny_model_dir), features, collator,
              TrainConfig(mixed_precision="fp16", max_steps=1), tmp_path)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="mixed_precision"):
        TrainConfig(mixed_precision="fp8")
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        TrainConfig.from_dict({"learning_rate": 1e-3, "lr": 1})
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)


def test_resume_refuses_a_changed_config(tiny_model_dir, features, collator, tmp_path):
    config = TrainConfig(max_steps=2, batch_size=8, save_every=1)
    train(make_model(tiny_model_dir), features, collator, config, tmp_path)
    changed = TrainConfig(max_steps=2, batch_size=4, save_every=1)
    with pytest.raises(ValueError, match="batch_size=8 but the config says 4"):
        train(make_model(tiny_model_dir), features, collator, changed, tmp_path)
    # eval/save frequency may change
    again = TrainConfig(max_steps=2, batch_size=8, save_every=2)
    assert train(make_model(tiny_model_dir), features, collator, again, tmp_path).global_step == 2
