"""Paper-ready figure style: sizes, fonts, palette, axis labels.

Figures are built on ``matplotlib.figure.Figure`` directly, never through pyplot, so
nothing here selects or changes the user's backend: saving a bare ``Figure`` renders
through Agg (PNG) and the PDF backend on its own. Style settings are applied with
``matplotlib.rc_context`` while a figure is built, so global rcParams stay untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

SINGLE_COLUMN = 3.4  # inches: one column of a two-column paper (ACL, NeurIPS)
DOUBLE_COLUMN = 7.0  # inches: full text width
HEIGHT = 2.4  # inches: default panel height

# Okabe & Ito (2008) colour-blind-safe palette, ordered so the first colours contrast
# best on white (yellow, the weakest, comes last).
PALETTE = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
)

# Phases are drawn with both line style and colour so they survive greyscale printing.
PHASE_STYLES = {0: ":", 1: "--", 2: "-"}
PHASE_COLORS = {0: "#000000", 1: "#0072B2", 2: "#D55E00"}
PHASE_NAMES = {0: "pretrained", 1: "after intermediate", 2: "after target"}

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,  # embed TrueType, which publishers' checkers accept
    "savefig.dpi": 300,
}

LAYER_LABEL = "layer (hidden_states index)"
METRIC_LABELS = {
    "tatoeba_xx2en": "Tatoeba xx\u2192en accuracy",
    "tatoeba_en2xx": "Tatoeba en\u2192xx accuracy",  # XTREME's direction
    "tatoeba_en2xx_dedup": "Tatoeba en\u2192xx acc., dedup",
    "bucc_f1": "BUCC F1",
    "bucc_f1_oracle": "BUCC F1, oracle thr.",
    "cka_en_xx": "linear CKA, en vs xx",
    "cka_vs_phase0": "linear CKA vs phase 0",
}


def unit_of(values: Sequence[float]) -> str:
    """Name the unit of accuracy-like values: percent if any exceeds 1, else a fraction."""
    finite = [abs(v) for v in values if np.isfinite(v)]
    return "%" if finite and max(finite) > 1.0 else "fraction"


def metric_label(metric: str, values: Sequence[float]) -> str:
    """Axis label for an alignment metric, with its unit (CKA is unitless in [0, 1])."""
    base = METRIC_LABELS.get(metric, metric)
    if "cka" in metric:
        return base
    return f"{base} ({unit_of(values)})"


def figure_function(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under the paper style and label it with the function's name.

    The label travels with the Figure, so ``save_figure`` can record what produced it.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(RC):
            fig = func(*args, **kwargs)
        fig.set_label(func.__name__)
        return fig

    return wrapper


def new_figure(
    ncols: int = 1, *, nrows: int = 1, double: bool = False, sharey: bool = False
) -> tuple[Figure, np.ndarray]:
    """A constrained-layout Figure and its axes as a flat array.

    Args:
        ncols: panels per row.
        nrows: panel rows.
        double: full text width (7.0 in) instead of one column (3.4 in).
        sharey: panels share the y axis.

    Returns:
        The Figure and a flat object array of its Axes, row-major.
    """
    width = DOUBLE_COLUMN if double else SINGLE_COLUMN
    fig = Figure(figsize=(width, HEIGHT * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)
    for ax in axes.flat:
        style_axes(ax)
    return fig, axes.ravel()


def style_axes(ax: Axes) -> None:
    """Fix tick label size on the Axes itself, since ticks are created lazily at draw time."""
    ax.tick_params(labelsize=RC["xtick.labelsize"])


def integer_ticks(ax: Axes, axis: str = "x") -> None:
    """Layer indices are integers; never show 2.5 as a layer."""
    from matplotlib.ticker import MaxNLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(MaxNLocator(integer=True))
