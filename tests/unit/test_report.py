"""write_report on a synthetic run (new table schema): the numbers equal hand computations."""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from xalign.config import load_config
from xalign.pipeline.analysis import analyse, zeroshot_intervals
from xalign.report import write_report
from xalign.stats import minimum_detectable_effect
from xalign.tables import write_tables

SEEDS, LANGS, LAYERS = range(5), ("de", "fr", "ja"), range(5)
INTER, TARGET, MODEL = "debian-match-section", "debian-section", "e5-small"
CONDITIONS = {"none": "", "easy": INTER, "hard": INTER, "random": INTER}
SHIFT = {"none": 0.0, "easy": 0.02, "hard": 0.035, "random": 0.01}
METRICS = ("tatoeba_en2xx", "cka_en_xx")


def wobble(*key) -> float:
    """Seed-to-seed noise in [-0.01, 0.01], different for every key and the same in every
    process (crc32, not hash(): str hashes are salted per process)."""
    return ((zlib.crc32(repr(key).encode()) % 2001) - 1000) / 100000


def align_value(metric, c, s, p, lang, k) -> float:
    base = 0.4 + 0.05 * k - 0.01 * LANGS.index(lang) + (0.1 if metric == "cka_en_xx" else 0)
    moved = (SHIFT[c] + 0.002 * k) * (p > 0) + (0.02 if p == 2 else 0.0)
    return round(base + moved + (wobble(metric, c, s, p, lang, k) if p else 0.0), 6)


def zs_value(c, s, lang) -> float:
    return 0.9 if lang == "en" else round(0.5 + 1.5 * SHIFT[c] + wobble("zs", c, s, lang), 3)


def base_tables(seeds=SEEDS) -> dict[str, list[dict]]:
    alignment, zeroshot, grid, cond_cka = [], [], [], []
    for c, inter in CONDITIONS.items():
        for s in seeds:
            key = {"model": MODEL, "condition": c, "inter_task": inter, "seed": s}
            for p in (0, 1, 2):
                task = TARGET if p == 2 else ""
                alignment += [{**key, "phase": p, "train_task": task, "language": lang,
                               "layer": k, "metric": m, "value": align_value(m, c, s, p, lang, k)}
                              for m in METRICS for lang in LANGS for k in LAYERS]
                alignment += [{**key, "phase": p, "train_task": task, "language": "en",
                               "layer": k, "metric": "cka_vs_phase0",
                               "value": round(1 - p * (0.05 + SHIFT[c]) * k / 4, 6)}
                              for k in LAYERS]
                if p and s == 0:
                    grid += [{**key, "phase_a": 0, "phase_b": p, "train_task": task,
                              "language": "en", "layer_a": a, "layer_b": b,
                              "value": round(0.9 - 0.1 * abs(a - b) - 0.05 * p, 6)}
                             for a in LAYERS for b in LAYERS]
            zeroshot += [{**key, "train_task": TARGET, "target": TARGET, "language": lang,
                          "metric": "accuracy", "value": zs_value(c, s, lang), "n": 160}
                         for lang in ("en", *LANGS)]
    for s in seeds:
        for b in ("hard", "random"):
            cond_cka += [{"model": MODEL, "seed": s, "phase": 1, "train_task": "",
                          "condition_a": "easy", "inter_task_a": INTER, "condition_b": b,
                          "inter_task_b": INTER, "language": "en", "layer": k, "metric": "cka",
                          "value": round(1 - 0.03 * k - 0.02 * (b == "random") + 0.002 * s, 6)}
                         for k in LAYERS]
    difficulty = [{"model": MODEL, "seed": s, "task": t, "format": "pair", "metric": "accuracy",
                   "budget_steps": 100, "dev_score": d, "baseline_score": 0.5,
                   "normalised_error": e, "rank": r}
                  for s in seeds for t, d, e, r in ((INTER, 0.7, 0.6, 1), ("sst2", 0.9, 0.2, 2))]
    carto = [{"model": MODEL, "seed": 0, "task": INTER, "id": i, "label": i % 2,
              "confidence": 0.1 * i, "variability": 0.03 * i, "correctness": 0.1 * i,
              "subset": ("easy", "hard", "")[i % 3]} for i in range(9)]
    return {"alignment": alignment, "zeroshot": zeroshot_intervals(zeroshot), "cka_grid": grid,
            "condition_cka": cond_cka, "task_difficulty": difficulty,
            f"cartography_{INTER}": carto}


def make_run(root: Path, seeds=SEEDS) -> Path:
    tables = base_tables(seeds)
    config = load_config(None, ["analysis.n_boot=200"])
    tables.update(analyse(tables, config))
    write_tables(root / "results", tables)
    (root / "config.yaml").write_text("name: demo-run\n")
    return root


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("run") / "demo")
    return run, write_report(run).read_text(encoding="utf-8")


def per_seed(metric, a, b, layer=4, phase=1) -> np.ndarray:
    return np.array([np.mean([align_value(metric, a, s, phase, lang, layer)
                              - align_value(metric, b, s, phase, lang, layer) for lang in LANGS])
                     for s in SEEDS])


def sign_flip(d) -> float:
    sums = [abs(np.dot(signs, d)) for signs in itertools.product((-1, 1), repeat=len(d))]
    return float(np.mean(np.array(sums) >= abs(d.sum()) - 1e-12))


def test_robustness_shows_each_primary_contrast_under_the_other_index(full_run):
    _, text = full_run
    section = text.split("## Robustness")[1].split("\n## ")[0]
    for a, b in (("hard", "easy"), ("easy", "random")):
        d = per_seed("cka_en_xx", a, b)
        assert f"| cka_en_xx | {d.mean():+.3f} |" in section, (a, b)
    # every condition shift is positive for both metrics: the sign holds
    assert section.count("holds under 1 of 1 other indices") == 4


def test_answer_comes_first_with_the_hand_computed_primary_contrasts(full_run):
    _, text = full_run
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[:4] == ["Answer", "Smallest resolvable difference", "Robustness",
                            "Run summary"]
    answer = text.split("## Answer")[1].split("## Smallest")[0]
    assert ("**tatoeba_en2xx at layer 4** (hidden_states index) **after intermediate "
            "training**") in answer
    for a, b in (("hard", "easy"), ("easy", "random"), ("hard", "random"), ("random", "none")):
        d = per_seed("tatoeba_en2xx", a, b)
        lo, hi = stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
        line = f"- **{a} \u2212 {b}** ({INTER}): training on "
        numbers = (f"changed tatoeba_en2xx at layer 4 after intermediate training by "
                   f"{d.mean():+.3f} (95% CI {lo:+.3f} to {hi:+.3f}, exact sign-flip p = "
                   f"{sign_flip(d):.3g}, n = 5 seeds).")
        assert line in answer and numbers in answer, (a, b)
    zs = np.array([np.mean([zs_value("hard", s, lang) - zs_value("easy", s, lang)
                            for lang in LANGS]) for s in SEEDS])
    assert (f"changed zero-shot {TARGET} accuracy (mean over 3 non-English languages) by "
            f"{zs.mean():+.3f}") in answer
    assert "Zero-shot transfer to debian-section (e5-small):" in answer


def test_resolution_section_states_the_floor_and_sizes(full_run):
    _, text = full_run
    section = text.split("## Smallest resolvable difference")[1].split("## ")[0]
    assert ("cannot give p below 2/2^5 = 0.0625: **no contrast of this run can be "
            "significant at 0.05, whatever its size**") in section
    d = per_seed("tatoeba_en2xx", "hard", "easy")
    sd = d.std(ddof=1)
    half = stats.t.ppf(0.975, 4) * sd / math.sqrt(5)
    mde = minimum_detectable_effect(sd, 5)
    assert (f"| {MODEL} | hard-easy | {INTER} | tatoeba_en2xx L4 | 5 | {sd:.4f} | {half:.4f} | "
            f"{mde:.4f} |") in section


def test_exploratory_contrasts_zeroshot_and_change_tables(full_run):
    run, text = full_run
    section = text.split("## Contrasts at the headline layer")[1].split("\n## ")[0]
    assert "### phase 1 (after intermediate), layer 4 (e5-small)" in section
    rows = json.loads((run / "results" / "contrasts.json").read_text())
    cka = next(r for r in rows if r["metric"] == "cka_en_xx" and r["layer"] == 4
               and r["phase"] == 1 and r["contrast"] == "hard-easy")
    assert (f"| hard-easy | {INTER} | cka_en_xx | {cka['estimate']:+.3f} | "
            f"{cka['ci_low']:+.3f}, {cka['ci_high']:+.3f} | {cka['p_value']:.3g} | "
            f"{cka['p_adjusted']:.3g} | 5 | exploratory |") in section
    zs = text.split("## Zero-shot cross-lingual transfer")[1].split("\n## ")[0]
    hard_de = [zs_value("hard", s, "de") for s in SEEDS]
    lows = [stats.binomtest(round(v * 160), 160).proportion_ci(method="wilson") for v in hard_de]
    cell = (f"{np.mean(hard_de):.3f} \u00b1 {np.std(hard_de, ddof=1):.3f} "
            f"[{np.mean([c.low for c in lows]):.3f}, {np.mean([c.high for c in lows]):.3f}]")
    assert re.search(rf"^\| de \|( [^|]* \|){{2}} {re.escape(cell)} \|", zs, re.M)
    change = json.loads((run / "results" / "change_vs_accuracy.json").read_text())
    head = next(r for r in change if r["role"] == "primary")
    assert (head["measure"], head["layer"], head["n_checkpoints"], head["n_seeds"]) == \
        ("delta_tatoeba_en2xx_p1", 4, 15, 5)
    assert (f"Spearman \u03c1 = {head['spearman']:.2f} [{head['spearman_lo']:.2f}, "
            f"{head['spearman_hi']:.2f}]") in text
    assert "n = 15 checkpoints from 5 seeds" in text
    assert "| easy vs random | 4 |" in text  # condition CKA at the headline layer


def test_zeroshot_contrasts_in_the_csv_equal_a_recomputation_from_zeroshot_csv(full_run):
    run, _ = full_run
    with (run / "results" / "zeroshot.csv").open(newline="") as handle:
        scores = [r for r in csv.DictReader(handle) if r["language"] != "en"]
    with (run / "results" / "contrasts.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["metric"] == "zeroshot_accuracy"]
    assert len(rows) == 4 and all(r["layer"] == "" and r["n_seeds"] == "5" for r in rows)
    for row in rows:
        a, b = row["contrast"].split("-")
        mean = {(c, s): np.mean([float(r["value"]) for r in scores
                                 if r["condition"] == c and r["seed"] == str(s)])
                for c in (a, b) for s in SEEDS}
        d = np.array([mean[(a, s)] - mean[(b, s)] for s in SEEDS])
        lo, hi = stats.t.interval(0.95, 4, loc=d.mean(), scale=stats.sem(d))
        got = [float(row[k]) for k in ("estimate", "ci_low", "ci_high", "p_value")]
        assert got == pytest.approx([d.mean(), lo, hi, sign_flip(d)], abs=1e-12), row


def test_figures_links_sidecars_and_determinism(full_run, tmp_path):
    run, text = full_run
    links = re.findall(r"\]\((figures/[^)]+)\)", text)
    assert len(links) % 2 == 0 and len(links) >= 2 * 10
    for link in links:
        assert (run / link).is_file() and (run / link).stat().st_size > 0
    for stem in ("forest_p1", "zeroshot_debian-section_accuracy", "condition_cka_cka_p1",
                 "conditions_tatoeba_en2xx_p1", "change_debian-section_delta_tatoeba_en2xx_p1_"
                 "layer4", "task_difficulty", f"cartography_{INTER}", "cka_grids"):
        assert f"figures/{stem}.png" in text, stem
    sidecar = json.loads((run / "figures" / "forest_p1.json").read_text())
    assert sidecar["figure_function"] == "plot_contrast_forest"
    assert not list(run.rglob("*.tmp"))
    again = shutil.copytree(run, tmp_path / "again", ignore=shutil.ignore_patterns("figures"))
    (again / "report.md").unlink()
    assert write_report(again).read_text(encoding="utf-8") == text


def test_one_seed_says_there_is_no_test(tmp_path):
    run = make_run(tmp_path / "one", seeds=(0,))
    for path in (run / "results").glob("*.csv"):  # the answer needs these two; fewer figures
        if path.stem not in ("contrasts", "zeroshot", "change_vs_accuracy"):
            path.unlink()
    text = write_report(run).read_text(encoding="utf-8")
    answer = text.split("## Answer")[1].split("## Smallest")[0]
    assert "n = 1 seed). With 1 seed there is no interval and no test" in answer
    assert "95% CI n/a, exact sign-flip p = n/a" in answer
    assert "cannot give p below 2/2^1 = 1" in text


def test_missing_tables_skip_their_sections(tmp_path):
    run = make_run(tmp_path / "partial")
    for name in ("zeroshot", "change_points", "cka_grid", "condition_cka", "contrasts",
                 "change_vs_accuracy", f"cartography_{INTER}", "alignment"):
        (run / "results" / f"{name}.csv").unlink()
    (run / "config.yaml").unlink()
    text = write_report(run).read_text(encoding="utf-8")
    assert text.startswith("# xalign report: partial\n")
    assert "_No primary contrast in results/contrasts.csv" in text
    for name in ("zeroshot", "cka_grid", "condition_cka", "contrasts", "change_vs_accuracy",
                 "alignment"):
        assert f"_results/{name}.csv not found or empty: section skipped._" in text
    assert "cartography*.csv not found" in text
    for link in re.findall(r"\]\((figures/[^)]+)\)", text):
        assert (run / link).is_file()


def test_bad_inputs_raise_and_cli_exit_codes(tmp_path):
    from xalign.cli import main

    with pytest.raises(FileNotFoundError, match="run directory not found"):
        write_report(tmp_path / "nope")
    assert main(["report", str(tmp_path / "nope")]) == 2
    run = tmp_path / "bad"
    (run / "results").mkdir(parents=True)
    (run / "results" / "task_difficulty.csv").write_text("task,dev_score\na,0.1\n")
    with pytest.raises(ValueError, match="task_difficulty.*missing column"):
        write_report(run)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 0
    assert "no answer to give" in (empty / "report.md").read_text()


def test_retrieval_at_the_headline_layer(full_run):
    _, text = full_run
    section = text.split("## Retrieval at the headline layer")[1].split("\n## ")[0]
    per_seed = [np.mean([align_value("tatoeba_en2xx", "hard", s, 1, lang, 4) for lang in LANGS])
                for s in SEEDS]
    row = (f"| {MODEL} | tatoeba_en2xx | 4 | 1 | hard | {INTER} | - | {np.mean(per_seed):.3f} | "
           f"{np.std(per_seed, ddof=1):.3f} | 5 |")
    assert row in section


def test_significant_elsewhere_names_holm_hits_smallest_p_first():
    from xalign.report.base import SIGNIFICANT_SHOWN, significant_elsewhere

    rows = [{"layer": i, "p_adjusted": p} for i, p in
            enumerate([0.2, 0.01, float("nan"), 0.04, 0.001] + [0.03] * SIGNIFICANT_SHOWN)]
    text = significant_elsewhere(rows, lambda r: f"L{r['layer']}", "none")
    hits = 3 + SIGNIFICANT_SHOWN  # 0.01, 0.04, 0.001 and the 0.03s; not 0.2, not NaN
    assert text.startswith(f"Other layers with Holm p < 0.05 ({hits}): L4; L1; L5")
    assert text.endswith(f" and {hits - SIGNIFICANT_SHOWN} more.")
    assert significant_elsewhere(rows[:1], str, "none") == "none"
