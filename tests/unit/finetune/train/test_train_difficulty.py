"""Example scorers (registry), subsets, scorer agreement, PVI and task-level difficulty."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr

from finetune import difficulty as dif
from finetune.cartography import cartography_stats, select_subsets
from finetune.dynamics import Dynamics
from finetune.pvi import NULL_WORD, null_examples, pvi
from finetune.tasks import LocalSource, Task


def test_builtin_scorers_known_values():
    probs = np.array([[0.9, 0.8, 0.7], [0.2, 0.6, 0.1]])
    correct = np.array([[True, False, True], [False, True, False]])
    d = Dynamics(probs=probs, correct=correct, margins=[[2.0, -1.0, 5.0], [-4.0, 0.5, -0.5]])
    np.testing.assert_allclose(dif.score_examples("hard_to_learn", d), [0.2, 0.7])
    np.testing.assert_allclose(dif.score_examples("ambiguous", d),
                               [np.std([0.9, 0.8, 0.7]), np.std([0.2, 0.6, 0.1])])
    np.testing.assert_allclose(dif.score_examples("loss", d),
                               [-np.log([0.9, 0.8, 0.7]).mean(), -np.log([0.2, 0.6, 0.1]).mean()])
    # forgetting: correct -> wrong transitions
    np.testing.assert_allclose(dif.score_examples("forgetting", d), [1, 1])
    # AUM = mean margin (2, -4/3); difficulty = -AUM
    np.testing.assert_allclose(dif.score_examples("aum", d), [-2.0, 4 / 3])
    # the (probs, correct) form of the cartography path still works
    np.testing.assert_allclose(dif.score_examples("hard_to_learn", probs, correct), [0.2, 0.7])
    with pytest.raises(ValueError, match="scorer 'aum' needs Dynamics.margins"):
        dif.score_examples("aum", probs, correct)


def test_forgetting_with_fractional_correctness_and_never_learnt_examples():
    correct = np.array([[1.0, 0.5, 1.0, 0.75],   # drops at epochs 1 and 3
                        [0.0, 0.5, 0.75, 0.5],   # never fully correct: E = 4 events
                        [0.0, 0.0, 0.0, 0.0],    # never correct (binary): also E
                        [0.0, 1.0, 1.0, 1.0]])   # learnt, never forgotten
    np.testing.assert_array_equal(dif.score_examples("forgetting", Dynamics(correct=correct)),
                                  [2, 4, 4, 0])


def test_pvi_hand_computed_and_its_scorer():
    np.testing.assert_allclose(pvi([0.5, 0.25], [0.5, 0.5]), [0.0, -1.0])
    # log2(0.8) - log2(0.2) = 2 bits; a zero probability is clipped, not -inf
    assert pvi([0.8], [0.2])[0] == pytest.approx(2.0)
    assert np.isfinite(pvi([0.0], [0.5])).all()
    d = Dynamics(p_input=[0.5, 0.25, 0.8], p_null=[0.5, 0.5, 0.2])
    np.testing.assert_allclose(dif.score_examples("pvi", d), [0.0, 1.0, -2.0])
    with pytest.raises(ValueError, match="probabilities"):
        pvi([1.5], [0.5])
    with pytest.raises(ValueError, match="p_null"):
        dif.score_examples("pvi", Dynamics(p_input=[0.5]))


def _task(fmt, metric="accuracy"):
    return Task(f"t-{fmt}", fmt, LocalSource("/nowhere"), None, {}, ("en",), metric, "target")


def _null(examples, fmt):
    return null_examples(_task(fmt), examples)


def test_null_examples_blank_the_input_and_keep_the_gold():
    single = [{"id": "a", "text": "some text", "label": 2}]
    assert _null(single, "single") == [{"id": "a", "text": "", "label": 2}]
    pair = [{"id": "a", "text_a": "x", "text_b": "y", "label": 1}]
    assert _null(pair, "pair") == [{"id": "a", "text_a": "", "text_b": "", "label": 1}]
    mc = [{"id": "a", "context": "c", "choices": ["p", "q"], "label": 1}]
    assert _null(mc, "multiple_choice") == [{"id": "a", "context": "", "choices": ["p", "q"],
                                                "label": 1}]
    answers = {"text": ["fox"], "answer_start": [4]}
    qa = [{"id": "a", "context": "the fox", "question": "who?", "answers": answers}]
    assert _null(qa, "qa") == [{"id": "a", "context": "the fox", "question": "",
                                   "answers": answers}]
    tags = [{"id": "a", "tokens": ["The", "fox"], "tags": [0, 1]}]
    assert _null(tags, "tagging") == [{"id": "a", "tokens": [NULL_WORD] * 2, "tags": [0, 1]}]
    assert tags[0]["tokens"] == ["The", "fox"]  # the originals are left alone


def test_registry_extends_and_rejects_unknown_names(monkeypatch):
    monkeypatch.setattr(dif, "_SCORERS", dict(dif._SCORERS))  # keep the global registry clean
    dif.register_scorer("last_epoch_error", lambda d: 1.0 - d.probs[:, -1], overwrite=True)
    np.testing.assert_allclose(
        dif.score_examples("last_epoch_error", [[0.5, 0.75]], [[True, True]]), [0.25])
    assert {"last_epoch_error", "aum", "pvi"} <= set(dif.list_scorers())
    with pytest.raises(ValueError, match="already registered"):
        dif.register_scorer("loss", lambda d: d.probs[:, 0])
    with pytest.raises(ValueError, match=r"did you mean \['ambiguous'\]"):
        dif.get_scorer("ambigous")
    dif.register_scorer("bad", lambda d: d.probs, overwrite=True)
    with pytest.raises(ValueError, match="returned shape"):
        dif.score_examples("bad", [[0.5, 0.75]], [[True, True]])


def test_select_by_score_is_stratified():
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    scores = np.array([4, 3, 2, 1, 10, 20, 30, 40, 50, 60], dtype=float)
    picked = dif.select_by_score(scores, labels, fraction=0.5)
    assert picked["easy"].tolist() == [2, 3, 4, 5, 6]
    assert picked["hard"].tolist() == [0, 1, 7, 8, 9]
    unstratified = dif.select_by_score(scores, None, fraction=0.5)  # QA, tagging
    assert unstratified["easy"].tolist() == [0, 1, 2, 3, 4]
    assert unstratified["hard"].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match=r"labels must be \(10,\)"):
        dif.select_by_score(scores, labels[:9])
    with pytest.raises(ValueError, match=r"scores\[2\] is nan"):
        dif.select_by_score(np.where(np.arange(10) == 2, np.nan, scores), labels)


def test_hard_to_learn_scores_select_the_cartography_easy_and_hard():
    rng = np.random.default_rng(3)
    probs = rng.random((60, 3)).round(1)  # rounded: many ties
    labels = rng.integers(0, 3, 60)
    stats = cartography_stats(probs, probs > 0.5)
    carto = select_subsets(stats, labels, fraction=0.3)
    by_score = dif.select_by_score(dif.score_examples("hard_to_learn", probs, probs > 0.5),
                                   labels, fraction=0.3)
    for name in ("easy", "hard"):
        np.testing.assert_array_equal(by_score[name], carto[name])


def test_random_subset_is_seeded_stratified_and_as_large_as_easy():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    rows = dif.random_subset(labels, 0.3, seed=5)
    easy = dif.select_by_score(np.arange(100.0), labels, fraction=0.3)["easy"]
    assert len(rows) == len(easy) == 30 and len(set(rows.tolist())) == 30
    assert np.bincount(labels[rows]).tolist() == np.bincount(labels[easy]).tolist() == [18, 9, 3]
    np.testing.assert_array_equal(rows, dif.random_subset(labels, 0.3, seed=5))
    assert not np.array_equal(rows, dif.random_subset(labels, 0.3, seed=6))
    # every example is equally likely: over many seeds each is drawn ~30% of the time
    counts = np.zeros(100)
    for seed in range(400):
        counts[dif.random_subset(labels, 0.3, seed=seed)] += 1
    assert np.abs(counts / 400 - 0.3).max() < 0.12
    assert len(dif.random_subset(None, 0.25, seed=0, n=10)) == 2
    with pytest.raises(ValueError, match="needs n"):
        dif.random_subset(None, 0.25, seed=0)


def test_scorer_agreement_equals_scipy_and_brute_force_overlap():
    rng = np.random.default_rng(7)
    base = rng.random(31)
    scores = {"a": base, "b": base + rng.normal(0, 0.3, 31), "c": -base, "d": rng.random(31)}
    rows = dif.scorer_agreement(scores, fraction=1 / 3)
    assert [(r["scorer_a"], r["scorer_b"]) for r in rows] == list(itertools.combinations("abcd", 2))
    k = 10  # floor(31 / 3)
    for row in rows:
        a, b = scores[row["scorer_a"]], scores[row["scorer_b"]]
        assert row["spearman"] == pytest.approx(spearmanr(a, b).statistic)
        for name, order in (("easy_jaccard", 1), ("hard_jaccard", -1)):
            top_a = set(np.argsort(order * a, kind="stable")[:k].tolist())
            top_b = set(np.argsort(order * b, kind="stable")[:k].tolist())
            assert row[name] == pytest.approx(len(top_a & top_b) / len(top_a | top_b))
    by_pair = {(r["scorer_a"], r["scorer_b"]): r for r in rows}
    assert by_pair[("a", "c")]["spearman"] == pytest.approx(-1.0)
    assert by_pair[("a", "c")]["easy_jaccard"] == 0.0  # reversed rankings: disjoint thirds
    with pytest.raises(ValueError, match="differ in shape"):
        dif.scorer_agreement({"a": base, "b": base[:5]})


def test_a_constant_scorer_has_no_rank_correlation(recwarn):
    base = np.random.default_rng(3).random(12)
    row, = dif.scorer_agreement({"a": base, "flat": np.zeros(12)}, fraction=1 / 3)
    assert np.isnan(row["spearman"]) and not recwarn.list


def test_trivial_baselines_of_every_format():
    single = [{"label": y} for y in (0, 1, 1, 2)]
    assert dif.trivial_baseline(_task("single"), single) == pytest.approx(0.5)
    mc = [{"label": y} for y in (3, 3, 3, 0, 1)]  # answer position 3 is the majority
    assert dif.trivial_baseline(_task("multiple_choice"), mc) == pytest.approx(0.6)
    tags = [{"tags": [0, 1, 0]}, {"tags": [2, 0, 0, 0, 1]}]  # 5 of 8 tokens are tag 0
    assert dif.trivial_baseline(_task("tagging"), tags) == pytest.approx(5 / 8)
    assert dif.trivial_baseline(_task("tagging", "f1"), tags) == 0.0
    qa = [{"answers": {"text": ["fox"], "answer_start": [4]}},
          {"answers": {"text": [], "answer_start": []}},
          {"answers": {"text": ["dog", "a dog"], "answer_start": [0, 0]}},
          {"answers": {"text": [], "answer_start": []}}]
    assert dif.trivial_baseline(_task("qa", "squad"), qa) == pytest.approx(0.5)
    assert dif.trivial_baseline(_task("qa", "squad"), qa[:1]) == 0.0  # SQuAD 1.1-like
    with pytest.raises(ValueError, match="at least one"):
        dif.trivial_baseline(_task("single"), [])


def test_normalised_error():
    assert dif.normalised_error(1.0, 0.5) == 0.0
    assert dif.normalised_error(0.5, 0.5) == 1.0
    assert dif.normalised_error(0.8, 0.6) == pytest.approx(0.5)
    assert dif.normalised_error(0.4, 0.0) == pytest.approx(0.6)  # entity F1 / SQuAD 1.1
    assert dif.normalised_error(0.3, 0.5) == pytest.approx(1.4)  # worse than trivial
    with pytest.raises(ValueError, match="baseline=1"):
        dif.normalised_error(1.0, 1.0)
    with pytest.raises(ValueError, match=r"score=80: expected a score in \[0, 1\]"):
        dif.normalised_error(80, 0.5)


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
