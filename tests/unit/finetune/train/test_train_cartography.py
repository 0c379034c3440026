"""Dataset Cartography statistics, subsets and files; recording dynamics during training."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import torch
from ft_train_helpers import make_model

from finetune.cartography import (
    cartography_stats,
    cartography_table,
    load_dynamics,
    save_selection,
    select_subsets,
    write_cartography,
    write_table,
)
from finetune.dynamics import Dynamics, read_dynamics, save_dynamics
from finetune.trainer import TrainConfig, train


def test_stats_hand_computed():
    probs = [[0.2, 0.4, 0.9], [0.5, 0.5, 0.5]]
    correct = [[False, False, True], [True, False, True]]
    stats = cartography_stats(probs, correct)
    # example 0: mean 0.5; population variance ((.3)^2 + (.1)^2 + (.4)^2) / 3 = 0.26 / 3
    np.testing.assert_allclose(stats["confidence"], [0.5, 0.5])
    np.testing.assert_allclose(stats["variability"], [np.sqrt(0.26 / 3), 0.0])
    np.testing.assert_allclose(stats["correctness"], [1 / 3, 2 / 3])
    with pytest.raises(ValueError, match="one shape"):
        cartography_stats([[0.1, 0.2]], [[True]])


def _brute_force_subsets(conf, var, labels, k_per_label):
    out = {"easy": [], "hard": [], "ambiguous": []}
    for label, k in k_per_label.items():
        rows = [i for i in range(len(labels)) if labels[i] == label]
        by_conf = sorted(rows, key=lambda i: -conf[i])
        out["easy"] += by_conf[:k]
        out["hard"] += by_conf[len(by_conf) - k:]
        rest = [i for i in rows if i not in by_conf[:k] and i not in by_conf[len(by_conf) - k:]]
        out["ambiguous"] += sorted(rest, key=lambda i: -var[i])[:k]
    return {name: sorted(rows) for name, rows in out.items()}


def test_subsets_equal_size_stratified_and_match_brute_force():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    rng.shuffle(labels)
    stats = {"confidence": rng.random(100), "variability": rng.random(100) * 0.5}
    subsets = select_subsets(stats, labels, fraction=0.3)
    assert {name: len(rows) for name, rows in subsets.items()} == {
        "easy": 30, "hard": 30, "ambiguous": 30}
    for rows in subsets.values():  # label distribution 60/30/10 -> 18/9/3
        assert np.bincount(labels[rows], minlength=3).tolist() == [18, 9, 3]
    all_rows = np.concatenate(list(subsets.values()))
    assert len(set(all_rows.tolist())) == 90  # disjoint
    expected = _brute_force_subsets(stats["confidence"], stats["variability"], labels,
                                    {0: 18, 1: 9, 2: 3})
    assert {k: v.tolist() for k, v in subsets.items()} == expected
    with pytest.raises(ValueError, match="fraction"):
        select_subsets(stats, labels, fraction=0.5)


def test_subsets_without_labels_rank_all_examples_together():
    rng = np.random.default_rng(1)
    stats = {"confidence": rng.random(30), "variability": rng.random(30)}
    subsets = select_subsets(stats, None, fraction=0.2)
    assert {k: v.tolist() for k, v in subsets.items()} == _brute_force_subsets(
        stats["confidence"], stats["variability"], [0] * 30, {0: 6})
    stats["confidence"][4] = np.nan  # an example without dynamics cannot be ranked
    with pytest.raises(ValueError, match=r"confidence\[4\] is nan"):
        select_subsets(stats, None, fraction=0.2)


def test_quota_rounding_keeps_total():
    labels = np.array([0] * 5 + [1] * 5 + [2] * 5)
    stats = {"confidence": np.linspace(0, 1, 15), "variability": np.zeros(15)}
    subsets = select_subsets(stats, labels, fraction=0.2)  # 3 slots over 3 equal labels
    assert [len(v) for v in subsets.values()] == [3, 3, 3]


def test_correctness_may_be_a_fraction():
    # tagging: token accuracy per epoch; the statistic is its mean over epochs
    stats = cartography_stats([[0.5, 0.7]], [[0.25, 0.75]])
    assert stats["correctness"][0] == pytest.approx(0.5)


def test_write_cartography_for_a_format_without_labels(tmp_path):
    probs = np.array([[0.9, 0.8], [0.1, 0.2], [0.5, 0.6], [0.4, 0.9], [0.3, 0.3], [0.7, 0.7]])
    save_dynamics(tmp_path, Dynamics(probs=probs, correct=probs > 0.5, margins=probs), {})
    examples = [{"id": f"q{i}", "question": "?", "context": "", "answers": {}} for i in range(6)]
    subsets = write_cartography(tmp_path, examples, fraction=1 / 3)
    # confidence .85 .15 .55 .65 .3 .7: easy = the two highest, hard = the two lowest
    assert {k: v.tolist() for k, v in subsets.items()} == {
        "easy": [0, 5], "hard": [1, 4], "ambiguous": [2, 3]}
    with open(tmp_path / "cartography.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["label"] for r in rows] == [""] * 6 and rows[3]["subset"] == "ambiguous"


def test_table_and_selection_files(tmp_path):
    stats = cartography_stats([[0.9, 0.9], [0.1, 0.3], [0.5, 0.9]],
                              [[True, True], [False, False], [False, True]])
    subsets = {"easy": np.array([0]), "hard": np.array([1]), "ambiguous": np.array([2])}
    rows = cartography_table(["a", "b", "c"], [1, 0, 1], stats, subsets)
    write_table(rows, tmp_path / "map.csv")
    with open(tmp_path / "map.csv") as f:
        read = list(csv.DictReader(f))
    assert [r["subset"] for r in read] == ["easy", "hard", "ambiguous"]
    assert list(read[0]) == ["id", "label", "confidence", "variability", "correctness", "subset"]
    assert float(read[2]["variability"]) == pytest.approx(0.2)
    save_selection(tmp_path / "sel.json", ["a", "b", "c"], subsets, {"task": "t"},
                   stats=stats, labels=[1, 0, 1])
    saved = json.loads((tmp_path / "sel.json").read_text())
    assert saved["subsets"] == {"easy": ["a"], "hard": ["b"], "ambiguous": ["c"]}
    assert saved["task"] == "t"
    assert saved["statistics"]["ambiguous"] == {"size": 1, "confidence": pytest.approx(0.7),
                                                "variability": pytest.approx(0.2),
                                                "correctness": 0.5, "labels": {"1": 1}}


def test_recorded_dynamics_equal_model_probabilities(tiny_model_dir, features, collator,
                                                     tmp_path):
    # lr 0 and no dropout: every epoch's p_gold must equal one eval forward pass
    model = make_model(tiny_model_dir, dropout=0.0)
    config = TrainConfig(learning_rate=0.0, epochs=2, batch_size=5, record_dynamics=True)
    result = train(model, features, collator, config, tmp_path)
    probs, correct, meta = load_dynamics(tmp_path)
    assert result.dynamics_path == tmp_path / "dynamics.json"
    assert probs.shape == (24, 2) and probs.dtype == np.float32 and meta["n_epochs"] == 2
    model.eval()
    with torch.no_grad():
        batch = collator(features)
        batch.pop("example_index")
        labels = batch.pop("labels")
        p = torch.softmax(model(**batch).logits, -1)
    gold = p[torch.arange(24), labels].numpy()
    np.testing.assert_allclose(probs[:, 0], gold, atol=1e-5)
    np.testing.assert_allclose(probs[:, 1], gold, atol=1e-5)
    assert (correct[:, 0] == (p.argmax(-1) == labels).numpy()).all()
    logits = torch.log(p)  # margins are differences of logits, so log-probabilities do
    margin = logits[torch.arange(24), labels] - logits[torch.arange(24), 1 - labels]
    np.testing.assert_allclose(read_dynamics(tmp_path)[0].margins[:, 1], margin, atol=1e-5)


def test_dynamics_survive_resume_and_drop_partial_epochs(tiny_model_dir, features, collator,
                                                         tmp_path):
    # 24 / 8 = 3 batches per epoch; 7 steps = 2 full epochs + 1 batch of a third
    config = TrainConfig(learning_rate=1e-3, max_steps=7, batch_size=8, record_dynamics=True,
                         save_every=4)
    train(make_model(tiny_model_dir), features, collator, config, tmp_path / "a")
    train(make_model(tiny_model_dir), features, collator, config, tmp_path / "b")
    # make b look interrupted after step 4: only checkpoint-4 is left
    for name in ("checkpoint-7", "final"):
        shutil.rmtree(tmp_path / "b" / name)
    for name in ("dynamics.json", "dynamics_probs.npy", "dynamics_correct.npy"):
        (tmp_path / "b" / name).unlink()
    train(make_model(tiny_model_dir, seed=9), features, collator, config, tmp_path / "b")
    pa, ca, meta = load_dynamics(tmp_path / "a")
    pb, cb, _ = load_dynamics(tmp_path / "b")
    assert pa.shape == (24, 2) and meta["n_epochs"] == 2
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(ca, cb)
