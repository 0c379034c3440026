"""Per-feature signals of every format against brute-force loops; recorder and files."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from finetune.dynamics import (
    Dynamics,
    DynamicsRecorder,
    batch_signals,
    label_signals,
    load_dynamics,
    mean_per_example,
    read_dynamics,
    save_dynamics,
    span_signals,
)


def _softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_classification_signals_hand_computed():
    logits = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 3.0]])
    labels = torch.tensor([0, 1])
    out = label_signals(logits, labels)
    np.testing.assert_allclose(out["probs"], [_softmax(np.array([2.0, 0, 1]))[0],
                                              _softmax(np.array([0.0, 0, 3]))[1]], rtol=1e-6)
    np.testing.assert_array_equal(out["correct"], [1.0, 0.0])
    np.testing.assert_array_equal(out["margins"], [2.0 - 1.0, 0.0 - 3.0])


def test_tagging_signals_equal_a_loop_over_labelled_tokens():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 6, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=(3, 6))
    labels[rng.random((3, 6)) < 0.4] = -100
    labels[2] = -100  # a feature without any labelled token
    labels[0, 0] = np.argmax(logits[0, 0])  # at least one right, one labelled
    out = label_signals(torch.from_numpy(logits), torch.from_numpy(labels))
    for b in range(2):
        tokens = [t for t in range(6) if labels[b, t] != -100]
        p = [_softmax(logits[b, t].astype(np.float64))[labels[b, t]] for t in tokens]
        right = [np.argmax(logits[b, t]) == labels[b, t] for t in tokens]
        margin = [logits[b, t, labels[b, t]] - np.delete(logits[b, t], labels[b, t]).max()
                  for t in tokens]
        assert out["probs"][b] == pytest.approx(np.mean(p), rel=1e-6)
        assert out["correct"][b] == pytest.approx(np.mean(right))
        assert out["margins"][b] == pytest.approx(np.mean(margin), rel=1e-6)
    assert np.isnan([out[k][2] for k in out]).all()
    with pytest.raises(ValueError, match="do not fit labels"):
        label_signals(torch.zeros(3, 6), torch.zeros(3, 6, dtype=torch.long))


def test_span_signals_equal_a_loop_over_each_window():
    rng = np.random.default_rng(1)
    start, end = rng.normal(size=(2, 4, 9))
    lengths = [9, 6, 7, 5]  # batch padding after each feature's own tokens
    window = np.arange(9)[None, :] < np.array(lengths)[:, None]
    start[~window] = 50.0  # padding must neither win nor take probability mass
    gold_s, gold_e = np.array([3, 0, 2, 4]), np.array([5, 0, 2, 4])
    start[2, 2], end[2, 2] = 20.0, 20.0  # feature 2: both argmaxes right
    out = span_signals(*(torch.from_numpy(x) for x in (start, end, gold_s, gold_e, window)))
    for b, n in enumerate(lengths):
        ps, pe = _softmax(start[b, :n]), _softmax(end[b, :n])
        assert out["probs"][b] == pytest.approx(ps[gold_s[b]] * pe[gold_e[b]])
        right = np.argmax(start[b, :n]) == gold_s[b] and np.argmax(end[b, :n]) == gold_e[b]
        assert out["correct"][b] == float(right)
        ms = start[b, gold_s[b]] - np.delete(start[b, :n], gold_s[b]).max()
        me = end[b, gold_e[b]] - np.delete(end[b, :n], gold_e[b]).max()
        assert out["margins"][b] == pytest.approx((ms + me) / 2)
    assert out["correct"][2] == 1.0


def test_batch_signals_dispatch_on_the_batch():
    qa = SimpleNamespace(start_logits=torch.zeros(1, 4), end_logits=torch.zeros(1, 4))
    batch = {"start_positions": torch.tensor([1]), "end_positions": torch.tensor([2]),
             "attention_mask": torch.tensor([[1, 1, 1, 1]])}
    assert batch_signals(qa, batch)["probs"][0] == pytest.approx(1 / 16)
    with pytest.raises(ValueError, match="need 'labels'"):
        batch_signals(SimpleNamespace(logits=torch.zeros(1, 2)), {"input_ids": None})


def test_recorder_means_features_and_drops_incomplete_epochs():
    rec = DynamicsRecorder([0, 0, 2], n_epochs=3)  # example 0 has two windows, 1 is absent
    sig = lambda p, c, m: {"probs": np.array(p), "correct": np.array(c),  # noqa: E731
                           "margins": np.array(m)}
    rec.record(0, np.array([0, 2]), sig([0.2, 0.9], [1.0, 1.0], [1.0, 2.0]))
    rec.record(0, np.array([0]), sig([0.6], [0.0], [-3.0]))
    rec.record(1, np.array([2, 0, 0]), sig([0.5, 0.1, 0.3], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0]))
    rec.record(2, np.array([0]), sig([0.7], [1.0], [1.0]))  # epoch 2 misses example 2
    # two ranks' records add up: simulate a second rank holding nothing
    arrays = tuple(a + b for a, b in zip(rec.arrays(), [np.zeros_like(a) for a in rec.arrays()],
                                         strict=True))
    dynamics, n_epochs = rec.finalize(arrays)
    assert n_epochs == 2
    np.testing.assert_allclose(dynamics.probs[[0, 2]], [[0.4, 0.2], [0.9, 0.5]])
    np.testing.assert_allclose(dynamics.correct[[0, 2]], [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(dynamics.margins[[0, 2]], [[-1.0, 1.0], [2.0, 0.0]])
    assert np.isnan(dynamics.probs[1]).all() and np.isnan(dynamics.correct[1]).all()


def test_files_round_trip_and_the_older_record(tmp_path):
    d = Dynamics(probs=[[0.5, np.nan]], correct=[[1.0, 0.5]], margins=[[1.0, -2.0]])
    save_dynamics(tmp_path, d, {"n_epochs": 2})
    back, meta = read_dynamics(tmp_path)
    assert meta == {"n_epochs": 2, "shape": [1, 2]}
    np.testing.assert_array_equal(back.margins, d.margins)
    probs, correct, _ = load_dynamics(tmp_path)
    assert probs.dtype == np.float32 and correct.dtype == np.float32
    np.testing.assert_array_equal(correct, [[1.0, 0.5]])
    (tmp_path / "dynamics_margins.npy").unlink()  # a record from before margins were saved
    assert read_dynamics(tmp_path)[0].margins is None
    assert json.loads((tmp_path / "dynamics.json").read_text())["shape"] == [1, 2]
    with pytest.raises(FileNotFoundError, match="record_dynamics"):
        read_dynamics(tmp_path / "none")


def test_dynamics_record_validates_and_names_what_is_missing():
    with pytest.raises(ValueError, match="disagree"):
        Dynamics(probs=np.zeros((3, 2)), p_null=np.zeros(4))
    with pytest.raises(ValueError, match="disagree"):
        Dynamics(probs=np.zeros((3, 2)), margins=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"p_null must be \(n,\)"):
        Dynamics(p_null=np.zeros((3, 1)))
    with pytest.raises(ValueError, match="at least one"):
        Dynamics()
    d = Dynamics(p_input=[0.5, 0.25])
    assert d.n == 2
    with pytest.raises(ValueError, match="aum needs Dynamics.margins"):
        d.need("margins", by="aum")


def test_mean_per_example():
    np.testing.assert_allclose(mean_per_example([1.0, 3.0, 5.0], [1, 1, 0], 3),
                               [5.0, 2.0, np.nan])
