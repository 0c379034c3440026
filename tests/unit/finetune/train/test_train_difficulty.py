"""Example scorers (registry), loss-based scores, task-level learning-curve difficulty."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ft_train_helpers import make_model

from finetune import difficulty as dif


def test_builtin_scorers_known_values():
    probs = np.array([[0.9, 0.8, 0.7], [0.2, 0.6, 0.1]])
    correct = np.array([[True, False, True], [False, True, False]])
    np.testing.assert_allclose(dif.score_examples("hard_to_learn", probs, correct), [0.2, 0.7])
    np.testing.assert_allclose(dif.score_examples("ambiguous", probs, correct),
                               [np.std([0.9, 0.8, 0.7]), np.std([0.2, 0.6, 0.1])])
    np.testing.assert_allclose(dif.score_examples("loss", probs, correct),
                               [-np.log([0.9, 0.8, 0.7]).mean(), -np.log([0.2, 0.6, 0.1]).mean()])
    # forgetting: correct -> wrong transitions
    np.testing.assert_allclose(dif.score_examples("forgetting", probs, correct), [1, 1])


def test_registry_extends_and_rejects_unknown_names(monkeypatch):
    monkeypatch.setattr(dif, "_SCORERS", dict(dif._SCORERS))  # keep the global registry clean
    dif.register_scorer("last_epoch_error", lambda p, c: 1.0 - p[:, -1], overwrite=True)
    np.testing.assert_allclose(
        dif.score_examples("last_epoch_error", [[0.5, 0.75]], [[True, True]]), [0.25])
    assert "last_epoch_error" in dif.list_scorers()
    with pytest.raises(ValueError, match="already registered"):
        dif.register_scorer("loss", lambda p, c: p[:, 0])
    with pytest.raises(ValueError, match=r"did you mean \['ambiguous'\]"):
        dif.get_scorer("ambigous")
    dif.register_scorer("bad", lambda p, c: p, overwrite=True)
    with pytest.raises(ValueError, match="returned shape"):
        dif.score_examples("bad", [[0.5, 0.75]], [[True, True]])


def test_select_by_score_is_stratified():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    scores = np.array([4, 3, 2, 1, 10, 20, 30, 40, 50, 60], dtype=float)
    picked = dif.select_by_score(scores, labels, fraction=0.5)
    assert picked["easy"].tolist() == [2, 3, 4, 5, 6]
    assert picked["hard"].tolist() == [0, 1, 7, 8, 9]


def test_example_losses_match_cross_entropy(tiny_model_dir, features, collator):
    model = make_model(tiny_model_dir)
    model.train()
    losses = dif.example_losses(model, features, collator, batch_size=7)
    assert model.training  # mode restored
    model.eval()
    batch = collator(features)
    batch.pop("example_index")
    labels = batch.pop("labels")
    with torch.no_grad():
        ref = torch.nn.functional.cross_entropy(model(**batch).logits, labels, reduction="none")
    np.testing.assert_allclose(losses, ref.numpy(), rtol=1e-5)


def test_task_difficulty_from_learning_curves():
    assert dif.majority_error([0, 0, 0, 1]) == pytest.approx(0.25)
    errors = {0: 0.5, 10: 0.3, 30: 0.1}
    curve = dif.learning_curve(lambda budget: errors[budget], [30, 0, 10])
    assert [r["budget"] for r in curve] == [0, 10, 30]
    assert dif.task_difficulty(curve, 0.5) == pytest.approx(0.2)
    # trapezoid over [0, 30] of 1.0, 0.6, 0.2: (10 * 0.8 + 20 * 0.4) / 30
    assert dif.task_difficulty(curve, 0.5, summary="auc") == pytest.approx(16 / 30)
    hard = [{"budget": 0, "error": 0.5}, {"budget": 30, "error": 0.45}]
    ranking = dif.rank_tasks({"hard": dif.task_difficulty(hard, 0.5),
                              "easy": dif.task_difficulty(curve, 0.5)})
    assert ranking == ["easy", "hard"]
    with pytest.raises(ValueError, match="summary"):
        dif.task_difficulty(curve, 0.5, summary="median")


def test_curve_from_training_history():
    history = [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.9, "dev_accuracy": 0.6},
               {"step": 4, "loss": 0.5, "dev_accuracy": 0.8}]
    curve = dif.curve_from_history(history, "dev_accuracy")
    assert curve == [{"budget": 2, "error": pytest.approx(0.4)},
                     {"budget": 4, "error": pytest.approx(0.2)}]
    with pytest.raises(ValueError, match="no history entry"):
        dif.curve_from_history(history, "f1")
