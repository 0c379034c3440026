"""Pointwise V-information (Ethayarajh, Choi and Swayamdipta 2022, "Understanding Dataset
Difficulty with V-Usable Information", ICML, Eq. 3):

    PVI(x -> y) = -log2 p_null(y) + log2 p_x(y)

p_x is the gold output's probability under a model fine-tuned on the inputs, p_null under
the same model fine-tuned on *null* inputs (the input text removed, the gold outputs
kept). Low (negative) PVI = the input makes the gold output no more likely than the
label prior does = hard. The two trainings and the probabilities come from the caller:

    p_x = gold_probabilities(model_x, tokenizer, task, examples)
    p_null = gold_probabilities(model_null, tokenizer, task, null_examples(task, examples))
    scores = score_examples("pvi", Dynamics(p_input=p_x, p_null=p_null))   # -PVI

(:func:`finetune.evaluate.gold_probabilities`, :func:`finetune.difficulty.score_examples`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from finetune.tasks import FORMATS, Task

# Probabilities are clipped here before the log: a float32 softmax can underflow to 0,
# which would make PVI infinite; 1e-12 bounds |PVI| by about 40 bits.
EPS = 1e-12
# The null input of a tagging example: every word replaced by this placeholder, so the
# sentence keeps its length and its tags stay aligned to words.
NULL_WORD = "_"


def pvi(p_gold_input: npt.ArrayLike, p_gold_null: npt.ArrayLike) -> np.ndarray:
    """PVI(x -> y) in bits per example: log2 p_x(y) - log2 p_null(y).

    Args:
        p_gold_input: (n,) p(gold) under the model trained on the inputs.
        p_gold_null: (n,) p(gold) under the model trained on null inputs.

    Returns:
        (n,) float64; probabilities are clipped to [1e-12, 1] first.
    """
    p_x = np.asarray(p_gold_input, dtype=np.float64)
    p_null = np.asarray(p_gold_null, dtype=np.float64)
    if p_x.ndim != 1 or p_x.shape != p_null.shape:
        raise ValueError(f"p_gold_input {p_x.shape} and p_gold_null {p_null.shape} must be "
                         "two (n,) arrays")
    for name, p in (("p_gold_input", p_x), ("p_gold_null", p_null)):
        if ((p < 0) | (p > 1)).any():
            raise ValueError(f"{name} must hold probabilities in [0, 1], got min {p.min()}, "
                             f"max {p.max()}")
    return np.log2(np.clip(p_x, EPS, 1.0)) - np.log2(np.clip(p_null, EPS, 1.0))


def null_examples(task: Task, examples: Sequence[dict]) -> list[dict]:
    """Copies of ``examples`` with the input blanked and the gold output kept.

    - single: ``text`` = ""; pair: ``text_a`` = ``text_b`` = "".
    - multiple_choice: ``context`` = ""; the choices stay, because they *are* the label
      set (the gold is an index into them). p_null is then a choices-only model, so PVI
      measures what the context adds beyond answer-only cues.
    - qa: ``question`` = ""; the context stays, because the gold is a span of it. p_null
      is a question-less span prior (which spans of a passage tend to be answers), so PVI
      measures what the question adds.
    - tagging: every word becomes "_" (:data:`NULL_WORD`): the length and the word
      positions stay so the tags still align; p_null is a per-position tag prior.
    """
    if task.format not in FORMATS:
        raise ValueError(f"task {task.name!r}: format {task.format!r}, expected one of {FORMATS}")
    blank = {"single": {"text": ""}, "pair": {"text_a": "", "text_b": ""},
             "multiple_choice": {"context": ""}, "qa": {"question": ""}}.get(task.format)
    if blank is not None:
        return [{**ex, **blank} for ex in examples]
    return [{**ex, "tokens": [NULL_WORD] * len(ex["tokens"])} for ex in examples]
