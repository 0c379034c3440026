"""Robustness and instances: does the answer survive another index or difficulty measure,
and which sentence pairs move?

- "Robustness" takes each primary alignment contrast of the Answer and looks it up in
  contrasts.csv under every other similarity index (same contrast, phase and layer) and
  under every robustness scorer (``hard@s - easy@s``), then shows how far the scorers
  agree on the examples themselves (difficulty_agreement.csv).
- "Which pairs flip" reads flip_counts.csv / flip_pairs.csv.
"""

from __future__ import annotations

import statistics
from collections import Counter

from figures.agreement import plot_scorer_agreement
from figures.tables import distinct, markdown_table, mean_by, select
from xalign.report.answer import ALPHA
from xalign.report.base import Report, finite, interval, p_value, signed

INDEX_METRICS = ("tatoeba_en2xx", "tatoeba_xx2en", "cka_en_xx", "mknn_en_xx",
                 "procrustes_en_xx", "svcca_en_xx", "pwcca_en_xx")


def robustness_section(report: Report) -> str | None:
    """The primary contrasts under every index and every difficulty scorer."""
    contrasts = report.tables.get("contrasts", [])
    primary = [r for r in select(contrasts, role="primary")
               if not str(r["metric"]).startswith("zeroshot_")]
    if not primary:
        return None
    calibrated = any(str(r["metric"]).endswith("_calibrated") for r in contrasts)
    parts = ["## Robustness",
             "Does each primary contrast keep its sign (and significance, p < "
             f"{ALPHA}) when alignment is measured by another index, or when easy and hard "
             "come from another difficulty measure? Same seeds, phase and layer. "
             + ("z-scores (_calibrated) set a value against its permutation null."
                if calibrated else "No calibrated (permutation-null) variants in this run "
                "(probe.calibrate = 0): a raw index can be inflated where n is small against "
                "the width.")]
    for row in primary:
        parts.append(_index_table(contrasts, row))
        scorers = _scorer_table(contrasts, row)
        if scorers:
            parts.append(scorers)
    parts.append(_agreement(report))
    return "\n\n".join(p for p in parts if p)


def _same(row: dict, other: dict) -> tuple[str, str]:
    agree = "yes" if finite(other["estimate"]) and (other["estimate"] > 0) == (
        row["estimate"] > 0) and other["estimate"] != 0 else "no"
    significant = "yes" if finite(other["p_value"]) and other["p_value"] < ALPHA else "no"
    return agree, significant


def _cells(row: dict, other: dict, label: str) -> list:
    return [label, signed(other["estimate"]), interval(other["ci_low"], other["ci_high"], ", "),
            p_value(other["p_value"]), *_same(row, other)]


HEADER = ["measure", "estimate", "95% CI", "p", "same sign", f"p < {ALPHA}"]


def _index_table(contrasts: list, row: dict) -> str:
    rows = [r for r in select(contrasts, model=row["model"], contrast=row["contrast"],
                              inter_task=row["inter_task"], phase=row["phase"],
                              layer=row["layer"], target=row["target"])
            if r["metric"] in INDEX_METRICS or str(r["metric"]).endswith("_calibrated")]
    rows.sort(key=lambda r: (r["metric"] != row["metric"], str(r["metric"])))
    body = [_cells(row, r, r["metric"]) for r in rows]
    kept = sum(c[4] == "yes" for c in body[1:])
    return (f"### {row['contrast']} ({row['inter_task'] or 'all'}), phase {int(row['phase'])}, "
            f"layer {int(row['layer'])}: under each similarity index\n\n"
            f"The sign of the headline ({row['metric']}) holds under {kept} of "
            f"{len(body) - 1} other indices.\n\n" + markdown_table(HEADER, body))


def _scorer_table(contrasts: list, row: dict) -> str | None:
    a, b = str(row["contrast"]).split("-")
    if {a, b} - {"easy", "hard"}:
        return None
    rows = [r for r in select(contrasts, model=row["model"], metric=row["metric"],
                              phase=row["phase"], layer=row["layer"], target=row["target"],
                              inter_task=row["inter_task"])
            if "@" in str(r["contrast"]) and str(r["contrast"]).replace(
                "@" + str(r["contrast"]).split("@")[-1], "") == row["contrast"]]
    if not rows:
        return None
    body = [_cells(row, row, "main scorer")]
    body += [_cells(row, r, f"scorer {str(r['contrast']).split('@')[-1]}") for r in rows]
    kept = sum(c[4] == "yes" for c in body[1:])
    return (f"Under other difficulty measures ({row['metric']}): the sign holds under "
            f"{kept} of {len(body) - 1}.\n\n" + markdown_table(HEADER, body))


def _agreement(report: Report) -> str | None:
    rows = report.tables.get("difficulty_agreement")
    if not rows:
        return None
    parts = ["### How far the difficulty measures agree on the examples",
             "Spearman correlation of the scores and overlap (Jaccard) of the easy and of the "
             "hard thirds, mean over seeds (n = examples of the task)."]
    for model in distinct(rows, "model"):
        for task in distinct(select(rows, model=model), "task"):
            mine = select(rows, model=model, task=task)
            means = {(r["scorer_a"], r["scorer_b"]): r for r in mean_by(
                mine, ("scorer_a", "scorer_b"), "spearman")}
            hard = {(r["scorer_a"], r["scorer_b"]): r["hard_jaccard"] for r in mean_by(
                mine, ("scorer_a", "scorer_b"), "hard_jaccard")}
            body = [[a, b, f"{r['spearman']:.2f}", f"{hard[(a, b)]:.2f}"]
                    for (a, b), r in means.items()]
            parts.append(markdown_table(["scorer", "scorer", "Spearman", "hard overlap"], body))
            parts.append(report.figure(plot_scorer_agreement, f"agreement_{task}",
                                       ["difficulty_agreement"], f"scorer agreement, {task}",
                                       inputs=[mine], where={"model": model, "task": task}))
    return "\n\n".join(parts)


def flips_section(report: Report) -> str | None:
    """Which Tatoeba pairs flip (XTREME's direction, headline layer)."""
    counts, pairs = report.tables.get("flip_counts"), report.tables.get("flip_pairs", [])
    if not counts:
        return None
    layers = report.headline_layers()
    body = []
    for key in sorted({_comparison(r) for r in counts}):
        rows = [r for r in counts if _comparison(r) == key and r["metric"] == "tatoeba_en2xx"
                and r["layer"] == layers.get(r["model"])]
        if rows:
            lost = statistics.mean(r["lost"] for r in rows)
            gained = statistics.mean(r["gained"] for r in rows)
            n = int(statistics.mean(r["n"] for r in rows))
            body.append([key, len({r["seed"] for r in rows}),
                         len({r["language"] for r in rows}), f"{lost:.1f}", f"{gained:.1f}", n])
    parts = ["## Which pairs flip (exploratory)",
             "Tatoeba pairs (English queries) that go from correct to wrong (lost) and back "
             "(gained) between two checkpoints at the headline layer: mean per language and "
             "seed. Every layer: results/flip_counts.csv; the pairs: results/flip_pairs.csv.",
             markdown_table(["comparison", "seeds", "languages", "lost", "gained", "pairs"], body)]
    if pairs:
        parts.append(_who_flips(pairs))
    return "\n\n".join(parts)


def _comparison(row: dict) -> str:
    before = f"{row['condition_from']} p{row['phase_from']}"
    after = f"{row['condition']} p{row['phase']}"
    return f"{before} -> {after}" + (f" ({row['train_task']})" if row["train_task"] else "")


def _who_flips(pairs: list) -> str:
    lines = []
    for change in ("lost", "gained"):
        rows = [r for r in pairs if r["change"] == change]
        if not rows:
            continue
        scripts = Counter(r["script"] for r in rows).most_common(3)
        share = ", ".join(f"{s} {n / len(rows):.0%}" for s, n in scripts)
        lines.append(f"- {change}: {len(rows)} pair flips; English length mean "
                     f"{statistics.mean(r['en_words'] for r in rows):.1f} words; scripts {share}")
    examples = sorted(pairs, key=lambda r: (r["change"], r["language"], r["pair"]))[:6]
    body = [[r["change"], r["language"], _comparison(r), r["en"][:60], r["xx"][:60]]
            for r in examples]
    return "\n".join(lines) + "\n\n" + markdown_table(
        ["change", "language", "comparison", "English", "translation"], body)
