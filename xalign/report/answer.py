"""The report's first sections: the answer in plain words and what the run can resolve.

Both read the rows the analysis marked ``role == "primary"`` in contrasts.csv: the
config's headline (alignment metric, layer, phase) and every target's zero-shot score.
"""

from __future__ import annotations

import math
from typing import Any

from figures.tables import distinct, markdown_table, select
from xalign.report.base import Report, finite, interval, p_value, signed
from xalign.stats import minimum_detectable_effect, sign_flip_floor

CONDITION_WORDS = {
    "none": "no intermediate training", "easy": "easy examples", "hard": "hard examples",
    "ambiguous": "ambiguous examples", "random": "a random subset", "full": "the full task",
    "multi": "several tasks", "task_easiest": "the easiest task",
    "task_hardest": "the hardest task",
}
ALPHA = 0.05
PHASE_WORDS = {1: "after intermediate training", 2: "after target-task training"}


def _words(condition: str) -> str:
    return CONDITION_WORDS.get(condition, condition)


def _where(row: dict) -> str:
    if str(row["metric"]).startswith("zeroshot_"):
        return ""
    phase = int(row["phase"])
    target = f", target {row['target']}" if row["target"] else ""
    return f" at layer {int(row['layer'])} {PHASE_WORDS.get(phase, f'in phase {phase}')}{target}"


def verdict(row: dict) -> str:
    """One plain sentence on what the interval and the exact test allow us to say."""
    n = int(row["n_seeds"])
    if n < 2:
        return ("With 1 seed there is no interval and no test: the run cannot tell this "
                "from seed noise.")
    low, high, p = row["ci_low"], row["ci_high"], row["p_value"]
    if not (low > 0 or high < 0):
        return "The interval includes 0: the run does not resolve the direction."
    if p < ALPHA:
        return f"The interval excludes 0 and p < {ALPHA}."
    floor = sign_flip_floor(n)
    if floor >= ALPHA:
        return (f"The interval excludes 0, but with {n} seeds the exact test cannot go below "
                f"p = {floor:.3g}: the direction is suggestive, not established.")
    return f"The interval excludes 0, but p >= {ALPHA}: the direction is suggestive only."


def answer_line(row: dict, what: str) -> str:
    """``- **hard - easy** (task): training on ... changed <what> by +0.012 (...). Verdict.``"""
    a, b = str(row["contrast"]).split("-")
    task = f" ({row['inter_task']})" if row["inter_task"] else ""
    stats = (f"95% CI {interval(row['ci_low'], row['ci_high'])}, exact sign-flip p = "
             f"{p_value(row['p_value'])}, n = {int(row['n_seeds'])} seed"
             f"{'s' if int(row['n_seeds']) != 1 else ''}")
    return (f"- **{a} \u2212 {b}**{task}: training on {_words(a)} instead of {_words(b)} "
            f"changed {what} by {signed(row['estimate'])} ({stats}). {verdict(row)}")


def _zeroshot_languages(report: Report, model: str, target: str) -> int:
    rows = select(report.tables.get("zeroshot", []), model=model, target=target)
    return len([lang for lang in distinct(rows, "language") if lang != "en"])


def answer_section(report: Report) -> str:
    rows = select(report.tables.get("contrasts", []), role="primary")
    if not rows:
        return ("## Answer\n\n_No primary contrast in results/contrasts.csv (a run needs two "
                "conditions of the same seed, e.g. easy and hard): no answer to give._")
    parts = ["## Answer"]
    for model in distinct(rows, "model"):
        mine = select(rows, model=model)
        head = [r for r in mine if not str(r["metric"]).startswith("zeroshot_")]
        if head:
            first = head[0]
            parts.append(
                f"Headline, fixed in the config before the run: **{first['metric']} at layer "
                f"{int(first['layer'])}** (hidden_states index) "
                f"**{PHASE_WORDS.get(int(first['phase']), '?')}**, model {model}. Each number "
                "is the mean over seeds of the per-seed difference between two conditions "
                "(each averaged over languages), with its 95% t-interval over seeds, the "
                "exact sign-flip p and n, the number of seeds. Everything after the next "
                "section is exploratory.")
            parts.append("\n".join(answer_line(r, f"{r['metric']}{_where(r)}") for r in head))
        for target in distinct([r for r in mine if r not in head], "target"):
            chosen = [r for r in mine if r not in head and r["target"] == target]
            n_lang = _zeroshot_languages(report, model, target)
            what = (f"zero-shot {target} {str(chosen[0]['metric']).removeprefix('zeroshot_')}"
                    f" (mean over {n_lang} non-English languages)")
            parts.append(f"Zero-shot transfer to {target} ({model}):\n\n"
                         + "\n".join(answer_line(r, what) for r in chosen))
    return "\n\n".join(parts)


def resolution_section(report: Report) -> str:
    """The smallest difference the run can resolve, per primary contrast."""
    rows = select(report.tables.get("contrasts", []), role="primary")
    if not rows:
        return "## Smallest resolvable difference\n\n_No primary contrast: nothing to size._"
    n_max = max(int(r["n_seeds"]) for r in rows)
    floor = sign_flip_floor(n_max)
    if floor >= ALPHA:
        lead = (f"With {n_max} seed{'s' if n_max != 1 else ''} the exact sign-flip test cannot "
                f"give p below 2/2^{n_max} = {floor:.3g}: **no contrast of this run can be "
                f"significant at {ALPHA}, whatever its size** (6 seeds reach 0.031).")
    else:
        lead = (f"With {n_max} seeds the smallest p the exact sign-flip test can give is "
                f"2/2^{n_max} = {floor:.3g}.")
    body = [_resolution_cells(r) for r in rows]
    header = ["model", "contrast", "inter_task", "measure", "n seeds", "seed SD",
              "95% CI half-width", "detectable (80% power)"]
    return "\n\n".join([
        "## Smallest resolvable difference", lead,
        "Per primary contrast: the seed SD of the per-seed differences; the 95% CI "
        "half-width (an estimate smaller than this leaves 0 inside its interval); and the "
        f"true difference a paired t-test at alpha = {ALPHA} detects with 80% power given "
        "that spread (exact, noncentral t).",
        markdown_table(header, body)])


def _resolution_cells(row: dict) -> list[Any]:
    n, sd = int(row["n_seeds"]), row["sd"]
    half = (row["ci_high"] - row["ci_low"]) / 2 if finite(row["ci_low"]) else math.nan
    mde = minimum_detectable_effect(sd, n, alpha=ALPHA) if finite(sd) else math.nan
    layer = f" L{int(row['layer'])}" if finite(row["layer"]) else ""
    cells = [sd, half, mde]
    return [row["model"], row["contrast"], row["inter_task"] or "-",
            f"{row['metric']}{layer}", n, *(f"{v:.4f}" if finite(v) else "n/a" for v in cells)]
