"""The pipeline's analysis step: derived tables from the base tables, as pure functions.

The pipeline calls :func:`zeroshot_intervals` on the zero-shot rows before writing them,
and :func:`analyse` once the base tables (alignment, zeroshot, ...) are complete; it writes
what ``analyse`` returns with :func:`xalign.tables.write_tables`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xalign.analysis.change import change_tables
from xalign.analysis.contrasts import contrast_rows
from xalign.analysis.primary import headline
from xalign.stats import wilson_interval

BOOTSTRAP_SEED = 0  # every bootstrap of the analysis draws from this seed (reproducible)


def analyse(tables: Mapping[str, Sequence[dict]], config) -> dict[str, list[dict]]:
    """Contrasts and change-vs-accuracy tables of one run.

    Args:
        tables: the base tables by name (rows as dicts, tables.SCHEMAS); "alignment" and
            "zeroshot" are used, a missing one counts as empty.
        config: the ExperimentConfig; ``config.analysis`` names the headline and the
            contrasts, ``n_boot`` the bootstrap resamples.

    Returns:
        {"contrasts", "change_vs_accuracy", "change_points"}: lists of rows (empty when
        the run has nothing to compare, e.g. phase 0 only).
    """
    alignment = list(tables.get("alignment", ()))
    zeroshot = list(tables.get("zeroshot", ()))
    head = headline(config.analysis, alignment)
    contrasts = contrast_rows(alignment, zeroshot, contrasts=contrast_specs(config),
                              headline=head)
    change, points = change_tables(alignment, zeroshot, headline=head,
                                   n_boot=config.analysis.n_boot, seed=BOOTSTRAP_SEED)
    return {"contrasts": contrasts, "change_vs_accuracy": change, "change_points": points}


def contrast_specs(config) -> list[str]:
    """The configured contrasts, then each easy/hard one again under every robustness
    scorer (``hard@aum-easy@aum``): the same question asked with another difficulty
    measure."""
    specs = list(config.analysis.contrasts)
    for scorer in config.finetune.robustness_scorers:
        for spec in config.analysis.contrasts:
            a, b = spec.split("-")
            if {a, b} <= {"easy", "hard"}:
                specs.append(f"{a}@{scorer}-{b}@{scorer}")
    return specs


def zeroshot_intervals(rows: Sequence[dict], level: float = 0.95) -> list[dict]:
    """Copies of zero-shot rows with the test-set interval in ci_low / ci_high.

    Accuracy on n items is binomial: its interval is Wilson's, from successes =
    round(value * n). F1 and exact match are not proportions of independent items and the
    per-item scores are not kept, so their interval stays empty (None).

    Raises:
        ValueError: an accuracy outside [0, 1] (a percentage) or n < 1.
    """
    out = []
    for row in rows:
        low = high = None
        if row["metric"] == "accuracy" and row["value"] is not None:
            if not 0.0 <= row["value"] <= 1.0 or int(row["n"]) < 1:
                raise ValueError(f"zeroshot row {row.get('target')}/{row['language']}: "
                                 f"accuracy {row['value']} on n={row['n']} items; expected a "
                                 f"fraction in [0, 1] and n >= 1")
            low, high = wilson_interval(round(row["value"] * int(row["n"])), int(row["n"]),
                                        level)
        out.append({**row, "ci_low": low, "ci_high": high})
    return out
