"""Layer curves and phase curves: the drawn data equal the table values."""

from __future__ import annotations

import numpy as np
import pytest
from figrows import alignment_rows, alignment_value, font_sizes, write_csv

from figures.layers import plot_layer_curves, plot_phase_curves
from figures.style import LAYER_LABEL, SINGLE_COLUMN


def _lines(ax, prefix):
    return {line.get_gid().split(":", 1)[1]: line for line in ax.get_lines()
            if (line.get_gid() or "").startswith(prefix)}


def test_layer_curves_equal_seed_means_and_star_the_argmax():
    where = {"condition": "easy", "phase": 1}
    fig = plot_layer_curves(alignment_rows(), metric="tatoeba_en2xx", where=where)
    ax = fig.axes[0]
    curves, stars = _lines(ax, "curve:"), _lines(ax, "best:")
    assert sorted(curves) == ["de", "fr", "ru"]
    for lang, line in curves.items():
        expected = [np.mean([alignment_value("easy", s, 1, lang, k) for s in (0, 1)])
                    for k in range(4)]
        np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2, 3])
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=0, atol=1e-12)
        best = int(np.argmax(expected))
        assert best == {"de": 2, "fr": 1, "ru": 3}[lang]
        np.testing.assert_array_equal(stars[lang].get_xdata(), [best])
        np.testing.assert_allclose(stars[lang].get_ydata(), [expected[best]])
    assert ax.get_xlabel() == LAYER_LABEL
    assert ax.get_ylabel() == "Tatoeba en\u2192xx accuracy (fraction)"
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["de", "fr", "ru", "best layer"]
    assert fig.get_label() == "plot_layer_curves"
    assert fig.get_figwidth() == SINGLE_COLUMN
    assert min(font_sizes(fig)) >= 7


def test_layer_curves_hue_condition_and_csv_path(tmp_path):
    path = write_csv(tmp_path / "alignment.csv", alignment_rows())
    fig = plot_layer_curves(path, metric="tatoeba_en2xx", hue="condition",
                            where={"phase": 2, "language": "fr"}, title="fr")
    curves = _lines(fig.axes[0], "curve:")
    assert list(curves) == ["none", "easy", "hard"]  # display order, not file order
    expected = [np.mean([alignment_value("hard", s, 2, "fr", k) for s in (0, 1)])
                for k in range(4)]
    np.testing.assert_allclose(curves["hard"].get_ydata(), expected, atol=1e-12)
    assert fig.axes[0].get_title() == "fr"


def test_layer_curves_refuse_to_mix_slices():
    with pytest.raises(ValueError, match="'condition' has several values"):
        plot_layer_curves(alignment_rows(), metric="tatoeba_en2xx", where={"phase": 0})
    with pytest.raises(ValueError, match=r"metrics present: \['tatoeba_en2xx'\]"):
        plot_layer_curves(alignment_rows(), metric="bucc_f1")
    two_tasks = alignment_rows() + [{**r, "inter_task": "y"} for r in alignment_rows()
                                    if r["condition"] == "easy"]
    with pytest.raises(ValueError, match="'inter_task' has several values"):
        plot_layer_curves(two_tasks, metric="tatoeba_en2xx", hue="condition",
                          where={"phase": 1, "language": "de"})
    with pytest.raises(ValueError, match="alignment rows: missing column 'layer'"):
        plot_layer_curves([{"metric": "m", "value": 1.0}], metric="m")


def test_layer_curves_of_rows_without_checkpoint_columns():
    # `xalign retrieve` writes one pretrained model's rows: no inter_task or train_task
    rows = [{"model": "m", "condition": "none", "seed": 0, "phase": 0, "language": lang,
             "layer": k, "metric": "tatoeba_en2xx", "value": 0.1 * k + (lang == "fr")}
            for lang in ("de", "fr") for k in range(3)]
    fig = plot_layer_curves(rows, metric="tatoeba_en2xx")
    np.testing.assert_allclose(_lines(fig.axes[0], "curve:")["fr"].get_ydata(), [1.0, 1.1, 1.2])


def test_phase_curves_mean_over_languages_with_min_max_band():
    fig = plot_phase_curves(alignment_rows(), metric="tatoeba_en2xx")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["condition: none", "condition: easy",
                                               "condition: hard"]
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[2])
    for ax, condition in zip(axes, ("none", "easy", "hard"), strict=True):
        for phase in (0, 1, 2):
            per_lang = np.array([[np.mean([alignment_value(condition, s, phase, lang, k)
                                           for s in (0, 1)]) for k in range(4)]
                                 for lang in ("de", "fr", "ru")])  # (languages, layers)
            line = _lines(ax, "phase:")[f"{condition}:{phase}"]
            np.testing.assert_allclose(line.get_ydata(), per_lang.mean(axis=0), atol=1e-12)
            assert line.get_linestyle() == {0: ":", 1: "--", 2: "-"}[phase]
            band = next(c for c in ax.collections if c.get_gid() == f"band:{condition}:{phase}")
            ys = band.get_paths()[0].vertices[:, 1]
            np.testing.assert_allclose([ys.min(), ys.max()],
                                       [per_lang.min(), per_lang.max()], atol=1e-12)
    assert fig._suptitle.get_text() == "mean over 3 languages"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "band: min\u2013max across languages" in labels
    assert min(font_sizes(fig)) >= 7


def test_phase_curves_one_language_has_no_band():
    fig = plot_phase_curves(alignment_rows(), metric="tatoeba_en2xx", language="de")
    ax = fig.axes[1]
    line = _lines(ax, "phase:")["easy:2"]
    expected = [np.mean([alignment_value("easy", s, 2, "de", k) for s in (0, 1)])
                for k in range(4)]
    np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-12)
    assert not [c for c in ax.collections if (c.get_gid() or "").startswith("band")]
    with pytest.raises(ValueError, match="language='xx'"):
        plot_phase_curves(alignment_rows(), metric="tatoeba_en2xx", language="xx")


def test_many_lines_stay_distinguishable_and_the_legend_fits():
    rows = [{"model": "m", "condition": "none", "inter_task": "", "seed": 0, "phase": 0,
             "train_task": "", "language": f"l{i:02d}", "layer": k, "metric": "cka_en_xx",
             "value": (i * 7 + k * 3) % 10 / 10}
            for i in range(20) for k in range(3)]
    fig = plot_layer_curves(rows, metric="cka_en_xx")
    lines = _lines(fig.axes[0], "curve:").values()
    styles = {(line.get_color(), line.get_marker(), line.get_linestyle()) for line in lines}
    assert len(styles) == 20  # no two languages drawn alike
    assert fig.get_figwidth() == 7.0
    assert fig.legends[0]._ncols == 2  # 21 entries, 12 per column
    assert fig.axes[0].get_ylabel() == "linear CKA, en vs xx"


def test_phase_curves_wrap_many_conditions_onto_rows():
    rows = [{**r, "inter_task": task}
            for task in ("mnli", "sst2") for r in alignment_rows() if r["condition"] != "none"]
    fig = plot_phase_curves(rows, metric="tatoeba_en2xx", language="de")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == [
        f"condition: {c}" for c in ("easy (mnli)", "easy (sst2)", "hard (mnli)", "hard (sst2)")]
    positions = sorted({round(ax.get_position().y0, 3) for ax in panels})
    assert len(positions) == 2  # 4 panels, 3 per row
    line = _lines(panels[3], "phase:")["hard (sst2):1"]
    expected = [np.mean([alignment_value("hard", s, 1, "de", k) for s in (0, 1)])
                for k in range(4)]
    np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-12)
    assert panels[3].get_ylabel().startswith("Tatoeba")  # first panel of the second row


def test_phase_curves_keep_one_train_task_at_phase_two():
    rows = alignment_rows() + [{**r, "train_task": "u", "value": r["value"] + 1.0}
                               for r in alignment_rows() if r["phase"] == 2]
    with pytest.raises(ValueError, match="'train_task' has several values"):
        plot_phase_curves(rows, metric="tatoeba_en2xx", language="de")
    fig = plot_phase_curves(rows, metric="tatoeba_en2xx", language="de", train_task="u")
    line = _lines(fig.axes[1], "phase:")["easy:2"]
    expected = [np.mean([alignment_value("easy", s, 2, "de", k) for s in (0, 1)]) + 1.0
                for k in range(4)]
    np.testing.assert_allclose(line.get_ydata(), expected, atol=1e-12)
    assert len(_lines(fig.axes[1], "phase:")) == 3  # phases 0 and 1 kept
