"""The library side of the standalone probing commands (``retrieve``, ``cka``).

They call exactly what the pipeline calls (:mod:`xalign.probing`), so their numbers equal
a run's numbers for the same checkpoint, corpus and settings.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from probe.models import load_encoder
from xalign import __version__
from xalign.config import ProbeConfig, RetrievalConfig
from xalign.corpora.spec import load_corpus, parse_spec
from xalign.io import write_json, write_table
from xalign.probing import corpora_rows, embedder, english_cka_grid, grid_rows

ALIGN_COLUMNS = ["model", "condition", "seed", "phase", "language", "layer", "metric", "value"]
GRID_COLUMNS = ["model", "condition", "seed", "phase_a", "phase_b", "language", "layer_a",
                "layer_b", "value"]
SHOWN = ("tatoeba_en2xx", "tatoeba_xx2en", "cka_en_xx", "bucc_f1")


def is_mining(spec: str) -> bool:
    return parse_spec(spec).scheme in ("debian-bucc", "bucc", "xtreme-dir:bucc")


def retrieve_rows(model: str, specs: list[str], probe: ProbeConfig, *, limit: int | None = None,
                  seed: int = 0, layers: list[int] | None = None,
                  retrieval: RetrievalConfig | None = None) -> list[dict]:
    """Alignment rows (results schema, phase 0) of ``model`` on every corpus in ``specs``."""
    aligned = [load_corpus(s, limit=limit, seed=seed) for s in specs if not is_mining(s)]
    mining = [tuple(load_corpus(s, split=split, limit=limit, seed=seed)
                    for split in ("fit", "eval")) for s in specs if is_mining(s)]
    encoder = load_encoder(model)
    rows = corpora_rows(embedder(encoder, probe, progress=True), aligned, mining,
                        retrieval=retrieval or RetrievalConfig(), cka_kind=probe.cka_kind)
    if layers is not None:
        n_states = encoder.num_layers + 1
        keep = {layer % n_states for layer in layers}
        rows = [r for r in rows if r["layer"] in keep]
    return [{"model": model, "condition": "none", "seed": seed, "phase": 0, **r} for r in rows]


def print_layer_table(rows: list[dict], out=None) -> None:
    """One block per metric: layers down, languages across."""
    out = out or sys.stdout
    table = defaultdict(dict)
    for r in rows:
        table[r["metric"]][(r["layer"], r["language"])] = r["value"]
    for metric in [m for m in SHOWN if m in table]:
        cells = table[metric]
        langs = sorted({lang for _, lang in cells})
        layers = sorted({layer for layer, _ in cells})
        out.write(f"\n{metric}\nlayer " + "".join(f"{lang:>8s}" for lang in langs) + "\n")
        for layer in layers:
            values = "".join(f"{cells.get((layer, lang), float('nan')):8.3f}" for lang in langs)
            out.write(f"{layer:>5d} {values}\n")
        best = {lang: max(layers, key=lambda la: cells.get((la, lang), -1)) for lang in langs}
        out.write("best  " + "".join(f"{best[lang]:>8d}" for lang in langs) + "\n")


def write_standalone(out: Path, rows: list[dict], args: dict, *, figures: bool) -> None:
    write_table(out / "alignment", rows, ALIGN_COLUMNS)
    write_json(out / "provenance.json", {"xalign": __version__, "command": "retrieve",
                                         "args": {k: str(v) for k, v in args.items()
                                                  if k != "func"}})
    if figures:
        from figures.layers import plot_layer_curves
        from figures.save import save_figure

        for metric in sorted({r["metric"] for r in rows} & set(SHOWN)):
            fig = plot_layer_curves(rows, metric=metric, hue="language")
            save_figure(fig, out / "figures" / f"layers_{metric}",
                        sources=[out / "alignment.csv"])


def cka_grid_rows(model: str, model_b: str | None, spec: str, probe: ProbeConfig, *,
                  limit: int | None, seed: int, kind: str) -> list[dict]:
    """Layer x layer CKA rows: en vs xx of ``model``, or ``model`` vs ``model_b`` on en."""
    if is_mining(spec):
        raise ValueError(f"--corpus {spec!r} is a mining corpus; CKA needs aligned pairs")
    corpus = load_corpus(spec, limit=limit, seed=seed)
    enc_a = load_encoder(model)
    stack_en = embedder(enc_a, probe, progress=True)(corpus.tgt_texts)
    if model_b is None:
        other, language = embedder(enc_a, probe)(corpus.src_texts), corpus.lang
    else:
        enc_b = load_encoder(model_b, prefix=enc_a.prefix)
        other, language = embedder(enc_b, probe, progress=True)(corpus.tgt_texts), "en"
    grid, _ = english_cka_grid(stack_en, other, kind=kind)
    head = {"model": model if model_b is None else f"{model} vs {model_b}",
            "condition": "none", "seed": seed, "phase_a": 0, "phase_b": 0}
    return [{**head, **r} for r in grid_rows(grid, language)]


def write_grid(out: Path, rows: list[dict], args: dict) -> None:
    from figures.cka import plot_cka_heatmap
    from figures.save import save_figure

    write_table(out / "cka_grid", rows, GRID_COLUMNS)
    save_figure(plot_cka_heatmap(rows), out / "cka_heatmap", sources=[out / "cka_grid.csv"])
