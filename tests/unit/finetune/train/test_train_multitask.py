"""Multi-task training with a shared encoder."""

from __future__ import annotations

import torch
from ft_train_helpers import flat_params, make_features, make_model

from finetune.sampling import share_encoder
from finetune.trainer import TrainConfig, train


def test_multitask_shares_encoder_trains_both_heads_and_resumes(tiny_model_dir, collator,
                                                                tmp_path):
    def build(seed=0):
        models = share_encoder({"two": make_model(tiny_model_dir, seed=seed),
                                "three": make_model(tiny_model_dir, num_labels=3, seed=seed)})
        assert models["two"].roberta is models["three"].roberta
        return models

    features = {"two": make_features(16, seed=1), "three": make_features(40, n_labels=3)}
    config = TrainConfig(learning_rate=1e-3, max_steps=6, batch_size=8, save_every=3,
                         multitask_sampling="temperature", temperature=2.0)
    models = build()
    before = {t: flat_params(m) for t, m in models.items()}
    result = train(models, features, collator, config, tmp_path / "a")
    for task, model in models.items():
        after = flat_params(model)
        assert not torch.equal(after["classifier.out_proj.weight"],
                               before[task]["classifier.out_proj.weight"])
    assert (tmp_path / "a" / "final" / "three" / "model.safetensors").is_file()
    assert (tmp_path / "a" / "checkpoint-3" / "two" / "config.json").is_file()

    # resume from checkpoint-3 reproduces the straight run
    import shutil
    shutil.copytree(tmp_path / "a" / "checkpoint-3", tmp_path / "b" / "checkpoint-3")
    resumed = build(seed=4)
    again = train(resumed, features, collator, config, tmp_path / "b")
    assert [h["loss"] for h in again.history] == [h["loss"] for h in result.history]
    for task in models:
        for key, value in flat_params(models[task]).items():
            torch.testing.assert_close(resumed[task].state_dict()[key], value, rtol=0, atol=1e-6)


def test_a_multiple_choice_head_shares_an_encoder_with_a_pooler(tiny_model_dir):
    from transformers import AutoModelForMultipleChoice

    classifier = make_model(tiny_model_dir)  # built without a pooler
    choice = AutoModelForMultipleChoice.from_pretrained(tiny_model_dir)
    assert classifier.roberta.pooler is None and choice.roberta.pooler is not None
    models = share_encoder({"nli": classifier, "choice": choice})
    assert models["nli"].roberta is models["choice"].roberta is choice.roberta
    ids = torch.tensor([[[0, 5, 6, 2], [0, 7, 8, 2]]])  # (batch 1, 2 choices, 4 tokens)
    out = models["choice"](input_ids=ids, attention_mask=torch.ones_like(ids))
    assert out.logits.shape == (1, 2)  # the pooled output the head reads exists
    assert models["nli"](input_ids=ids[0]).logits.shape == (2, 2)
