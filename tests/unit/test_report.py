"""write_report on synthetic run directories: numbers in report.md equal hand computations."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from xalign.report import write_report

CONDITIONS, SEEDS, PHASES, LANGS, LAYERS = ("none", "easy", "hard"), (0, 1), (0, 1, 2), \
    ("de", "fr"), range(4)


def align_value(metric: str, c: str, s: int, p: int, lang: str, k: int) -> float:
    peak = {("tatoeba_en2xx", "de"): 2, ("tatoeba_en2xx", "fr"): 1}.get((metric, lang), 3)
    base = {"none": 0.5, "easy": 0.6, "hard": 0.55}[c] + (0.05 if lang == "fr" else 0.0)
    return round(base + 0.1 * p - 0.05 * abs(k - peak) + 0.01 * s, 6)


def zs_value(c: str, s: int, lang: str) -> float:
    return round({"none": 0.40, "easy": 0.45, "hard": 0.50}[c]
                 + {"de": 0.02, "fr": 0.04, "avg": 0.03}[lang] + 0.003 * s, 6)


CORR = [
    ("delta_cka_en_xx", 1, 0.3, 0.0, 0.6, 0.25, -0.1, 0.55, 12),
    ("delta_cka_en_xx", 2, 0.5, 0.1, 0.8, -0.61, -0.85, -0.2, 12),
    ("delta_tatoeba_en2xx", 1, 0.2, -0.2, 0.5, 0.4, 0.0, 0.7, 12),
]
DIFFICULTY = [("hellaswag", 200, 0.62, 0.9, 1), ("sst2", 200, 0.08, 0.1, 3),
              ("mnli", 200, 0.35, 0.5, 2)]


def _write(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def make_run(root: Path) -> Path:
    res = root / "results"
    res.mkdir(parents=True)
    (root / "config.yaml").write_text("experiment:\n  name: demo-run\nseeds: [0, 1]\n")
    _write(res / "alignment.csv", ["model", "condition", "seed", "phase", "language", "layer",
                                   "metric", "value"],
           [["tiny", c, s, p, lang, k, m, align_value(m, c, s, p, lang, k)]
            for m in ("cka_en_xx", "tatoeba_en2xx") for c in CONDITIONS for s in SEEDS
            for p in PHASES for lang in LANGS for k in LAYERS])
    _write(res / "cka_grid.csv", ["model", "condition", "seed", "phase_a", "phase_b", "language",
                                  "layer_a", "layer_b", "value"],
           [["tiny", c, 0, 0, p, "en", a, b, round(0.9 - 0.1 * abs(a - b) - 0.05 * p, 6)]
            for c in ("easy", "hard") for p in (0, 1, 2) for a in LAYERS for b in LAYERS])
    _write(res / "zeroshot.csv", ["model", "condition", "seed", "task", "language", "metric",
                                  "value", "n"],
           [["tiny", c, s, "xnli", lang, "accuracy", zs_value(c, s, lang), 50]
            for c in CONDITIONS for s in SEEDS for lang in ("de", "fr", "avg")])
    _write(res / "change_vs_accuracy.csv", ["measure", "layer", "pearson", "pearson_lo",
                                            "pearson_hi", "spearman", "spearman_lo",
                                            "spearman_hi", "n"], CORR)
    _write(res / "change_points.csv", ["measure", "layer", "model", "condition", "seed",
                                       "language", "change", "accuracy_change"],
           [[m, k, "tiny", c, s, lang, 0.1 * i + 0.01 * k, 0.5 * i - 0.02 * s]
            for m, k in (("delta_cka_en_xx", 1), ("delta_cka_en_xx", 2),
                         ("delta_tatoeba_en2xx", 1))
            for i, c in enumerate(("easy", "hard")) for s in SEEDS for lang in LANGS])
    _write(res / "cartography_xnli.csv", ["id", "label", "confidence", "variability",
                                          "correctness", "subset"],
           [[i, i % 3, 0.1 * i, 0.03 * i, 0.1 * i, ("easy", "hard", "")[i % 3]]
            for i in range(10)])
    _write(res / "task_difficulty.csv", ["task", "budget_steps", "dev_error",
                                         "normalised_error", "rank"], DIFFICULTY)
    return root


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("run") / "demo")
    return run, write_report(run).read_text(encoding="utf-8")


def best_layer(metric: str, c: str, p: int, lang: str) -> tuple[int, float]:
    means = [np.mean([align_value(metric, c, s, p, lang, k) for s in SEEDS]) for k in LAYERS]
    return int(np.argmax(means)), float(max(means))


def test_best_layer_tables_match_hand_computation(full_run):
    _, text = full_run
    section = text.split("### tatoeba_en2xx (tiny)")[1].split("###")[0]
    for c in CONDITIONS:
        for p in PHASES:
            cells = [f"{v:.3f} ({k})" for k, v in (best_layer("tatoeba_en2xx", c, p, lang)
                                                   for lang in LANGS)]
            assert f"| {c} | {p} | {cells[0]} | {cells[1]} |" in section
    assert best_layer("tatoeba_en2xx", "easy", 1, "de")[0] == 2


def test_findings_are_numbers_from_the_tables(full_run):
    _, text = full_run
    per = {c: np.mean([best_layer("tatoeba_en2xx", c, 1, lang)[1] for lang in LANGS])
           for c in CONDITIONS}
    line = (f"- tatoeba_en2xx at the best layer, phase 1 (after intermediate): "
            f"none {per['none']:.3f} vs easy {per['easy']:.3f} vs hard {per['hard']:.3f} "
            f"(mean over 2 languages)")
    assert line in text
    assert ("- largest |Spearman| between change and accuracy change: delta_cka_en_xx at "
            "layer 2, rho = -0.61 [-0.85, -0.20], n = 12") in text
    avg = {c: np.mean([zs_value(c, s, "avg") for s in SEEDS]) for c in CONDITIONS}
    assert (f"xnli zero-shot accuracy, avg over non-English languages (tiny, mean over 2 "
            f"seeds): none {avg['none']:.3f}, easy {avg['easy']:.3f}, hard {avg['hard']:.3f}"
            ) in text
    assert ("- task difficulty: hardest hellaswag (normalised dev error 0.900), easiest sst2 "
            "(0.100), 3 tasks") in text


def test_tables_for_zeroshot_correlations_and_difficulty(full_run):
    _, text = full_run
    for lang in ("de", "fr", "avg"):
        cells = " | ".join(f"{np.mean([zs_value(c, s, lang) for s in SEEDS]):.3f}"
                           for c in CONDITIONS)
        assert f"| {lang} | {cells} |" in text
    assert ("| delta_cka_en_xx | 2 | 0.500 [0.100, 0.800] | -0.610 [-0.850, -0.200] | 12 |"
            in text)
    rows = re.findall(r"^\| (\d) \| (\w+) \| 200 \| ([\d.]+) \| ([\d.]+) \|$", text, re.M)
    assert rows == [("1", "hellaswag", "0.620", "0.900"), ("2", "mnli", "0.350", "0.500"),
                    ("3", "sst2", "0.080", "0.100")]
    assert "| easy | 4 |" in text and "| (none) | 3 |" in text  # cartography subset counts


def test_title_summary_links_and_determinism(full_run, tmp_path):
    run, text = full_run
    assert text.startswith("# xalign report: demo-run\n")
    assert "- conditions: none, easy, hard" in text and "- languages: de, fr" in text
    assert "- phases: 0, 1, 2" in text and "- seeds: 0, 1" in text
    links = re.findall(r"\]\((figures/[^)]+)\)", text)
    assert len(links) == 2 * 10  # PNG + PDF for each of the 10 figures
    for link in links:
        assert (run / link).is_file() and (run / link).stat().st_size > 0
    assert "change_delta_cka_en_xx_layer2" in text  # the strongest layer of that measure
    sidecar = json.loads((run / "figures" / "cka_grids.json").read_text())
    assert [(p["condition"], p["phase_a"], p["phase_b"]) for p in sidecar["params"]["panels"]] \
        == [("easy", 0, 1), ("easy", 0, 2), ("hard", 0, 1), ("hard", 0, 2)]  # no 0-vs-0 grid
    assert sidecar["figure_function"] == "plot_cka_grids"
    assert not list(run.rglob("*.tmp"))
    again = shutil.copytree(run, tmp_path / "again", ignore=shutil.ignore_patterns("figures"))
    (again / "report.md").unlink()
    assert write_report(again).read_text(encoding="utf-8") == text


def test_missing_tables_skip_their_sections(tmp_path):
    run = make_run(tmp_path / "partial")
    for name in ("zeroshot", "change_points", "cka_grid"):
        (run / "results" / f"{name}.csv").unlink()
    _write(run / "results" / "task_difficulty.csv", ["task", "budget_steps", "dev_error",
                                                     "normalised_error", "rank"], [])
    (run / "results" / "cartography_xnli.csv").unlink()
    (run / "config.yaml").unlink()
    text = write_report(run).read_text(encoding="utf-8")
    assert text.startswith("# xalign report: partial\n")
    for name in ("zeroshot", "cka_grid", "task_difficulty"):
        assert f"_results/{name}.csv not found or empty: section skipped._" in text
    assert "_results/change_points.csv not found or empty: scatter plots skipped._" in text
    assert "cartography_<task>.csv not found" in text
    assert "| delta_tatoeba_en2xx | 1 |" in text
    for link in re.findall(r"\]\((figures/[^)]+)\)", text):
        assert (run / link).is_file()


def test_bad_inputs_raise_and_cli_exit_codes(tmp_path):
    from xalign.cli import main

    with pytest.raises(FileNotFoundError, match="run directory not found"):
        write_report(tmp_path / "nope")
    assert main(["report", str(tmp_path / "nope")]) == 2
    run = tmp_path / "bad"
    (run / "results").mkdir(parents=True)
    _write(run / "results" / "task_difficulty.csv", ["task", "dev_error"], [["a", 0.1]])
    with pytest.raises(ValueError, match="task_difficulty.*missing column"):
        write_report(run)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 0
    assert "No result tables with findings." in (empty / "report.md").read_text()
