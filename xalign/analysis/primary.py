"""The report's headline: one alignment metric, layer and phase chosen before the run.

Everything else the analysis computes is exploratory and carries Holm-adjusted p-values
(REFERENCE.md "Statistics protocol": choose the headline before looking).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# XTREME (google-research/xtreme, scripts/run_tatoeba.sh) scores Tatoeba for XLM-R with
# --specific_layer 13 over the last 24 hidden states, i.e. hidden_states[14] of XLM-R large
# (jiant uses the same layer). For its 12-layer model (mBERT) it uses --specific_layer 7
# over the last 12, i.e. hidden_states[8]. XLM-R base is NOT confirmed: the script gives
# xlm-roberta-base the large model's settings (24 layers, 1024 dims), which cannot run on
# a 12-layer, 768-dim model; we use XTREME's 12-layer choice, hidden_states[8], for it.
XLMR_LAYERS = {24: 14, 12: 8}  # number of layers -> hidden_states index
_XLMR_NAME = re.compile(r"xlm[-_]?r(oberta)?", re.IGNORECASE)


def primary_layer(model_name: str, n_layers: int, configured: int | None) -> int:
    """The headline layer (a ``hidden_states`` index) of one model.

    Args:
        model_name: the model as named in the config (hub id or local path).
        n_layers: the model's number of transformer blocks L (hidden_states has L + 1).
        configured: ``analysis.primary_layer`` (None: the default below).

    Returns:
        ``configured`` when given; for XLM-R (name contains xlm-roberta / xlmr) with 24 or
        12 blocks XTREME's Tatoeba layer (14 or 8, see :data:`XLMR_LAYERS`); otherwise the
        last layer, ``n_layers``.

    Raises:
        ValueError: ``configured`` is not in 0..n_layers.
    """
    if n_layers < 0:
        raise ValueError(f"primary_layer: n_layers must be >= 0; got {n_layers}")
    if configured is not None:
        if not 0 <= configured <= n_layers:
            raise ValueError(f"analysis.primary_layer = {configured} is outside 0..{n_layers}, "
                             f"the hidden_states indices of {model_name}")
        return configured
    if _XLMR_NAME.search(model_name) and n_layers in XLMR_LAYERS:
        return XLMR_LAYERS[n_layers]
    return n_layers


@dataclass(frozen=True)
class Headline:
    """The pre-registered alignment contrast: metric, phase and each model's layer."""

    metric: str
    phase: int
    layers: Mapping[str, int]

    def is_primary(self, model: str, metric: str, phase: int, layer: int | None) -> bool:
        return (metric == self.metric and phase == self.phase
                and layer is not None and layer == self.layers.get(model))

    @property
    def measure(self) -> str:
        """The change-vs-accuracy measure of the headline metric (see analysis.change)."""
        return change_measure(self.metric, self.phase)


def change_measure(metric: str, phase: int) -> str:
    """Name of a representation-change measure: ``delta_<metric>_p<k>`` (phase k - phase 0).

    CKA against phase 0 is already a change, so it keeps its name: ``cka_vs_phase0_p<k>``.
    """
    return f"{metric}_p{phase}" if metric == "cka_vs_phase0" else f"delta_{metric}_p{phase}"


def headline(analysis, alignment: Iterable[dict]) -> Headline:
    """The headline of a run from ``config.analysis`` and the layers its alignment rows hold.

    A model's number of blocks is the largest layer index in its alignment rows.
    """
    deepest: dict[str, int] = {}
    for row in alignment:
        deepest[row["model"]] = max(deepest.get(row["model"], 0), int(row["layer"]))
    layers = {model: primary_layer(model, n, analysis.primary_layer)
              for model, n in deepest.items()}
    return Headline(analysis.primary_metric, analysis.primary_phase, layers)
