"""What the standalone commands write: each OUT folder is written whole, atomically."""

from __future__ import annotations

from pathlib import Path

from xalign import __version__
from xalign.errors import writing
from xalign.io import atomic_dir, json_text, table_files
from xalign.tables import columns

SHOWN = ("tatoeba_en2xx", "tatoeba_xx2en", "cka_en_xx", "bucc_f1")


def provenance(command: str, args: dict) -> str:
    return json_text({"xalign": __version__, "command": command,
                      "args": {k: str(v) for k, v in args.items() if k != "func"}})


def write_retrieve_outputs(out: Path, rows: list[dict], args: dict, *, figures: bool) -> None:
    with writing(out), atomic_dir(out) as tmp:
        table_files(tmp, "alignment", rows, columns("alignment"))
        (tmp / "provenance.json").write_text(provenance("retrieve", args))
        if figures:
            from figures.layers import plot_layer_curves
            from figures.save import save_figure

            for metric in sorted({r["metric"] for r in rows} & set(SHOWN)):
                fig = plot_layer_curves(rows, metric=metric, hue="language")
                save_figure(fig, tmp / "figures" / f"layers_{metric}",
                            sources=[tmp / "alignment.csv"])


def write_grid_outputs(out: Path, rows: list[dict], args: dict) -> None:
    from figures.cka import plot_cka_heatmap
    from figures.save import save_figure

    with writing(out), atomic_dir(out) as tmp:
        table_files(tmp, "cka_grid", rows, columns("cka_grid"))
        (tmp / "provenance.json").write_text(provenance("cka", args))
        save_figure(plot_cka_heatmap(rows), tmp / "cka_heatmap", sources=[tmp / "cka_grid.csv"])
