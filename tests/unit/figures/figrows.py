"""Synthetic result rows with known values for the figure tests (a uniquely named module,
so it cannot clash with other test folders' helpers on sys.path)."""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv(path: Path, rows: list[dict]) -> Path:
    """Write rows as a CSV with a header, as the pipeline does."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def alignment_value(condition: str, seed: int, phase: int, language: str, layer: int) -> float:
    """A deterministic value per cell; distinct across every key so mix-ups show."""
    base = {"none": 0.1, "easy": 0.2, "hard": 0.3}[condition]
    bump = {"de": 0.0, "fr": 0.05, "ru": 0.02}[language]
    peak = {"de": 2, "fr": 1, "ru": 3}[language]  # best layer differs per language
    return base + bump + 0.1 * phase - 0.04 * abs(layer - peak) + 0.01 * seed


def alignment_rows() -> list[dict]:
    """3 conditions x 2 seeds x 3 phases x 3 languages x 4 layers, one metric (new schema:
    easy and hard trained on intermediate task "x", phase 2 on target task "t")."""
    return [
        {"model": "tiny", "condition": c, "inter_task": "" if c == "none" else "x", "seed": s,
         "phase": p, "train_task": "t" if p == 2 else "", "language": lang, "layer": k,
         "metric": "tatoeba_en2xx", "value": alignment_value(c, s, p, lang, k)}
        for c in ("hard", "none", "easy") for s in (0, 1) for p in (0, 1, 2)
        for lang in ("ru", "de", "fr") for k in range(4)
    ]


def inside_figure(fig, artist) -> bool:
    """Whether the artist's drawn extent lies within the figure (nothing clipped)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the renderer savefig uses for PNG; draws the layout
    canvas.draw()
    box, page = artist.get_window_extent(canvas.get_renderer()), fig.bbox
    return (box.x0 >= page.x0 - 0.5 and box.y0 >= page.y0 - 0.5
            and box.x1 <= page.x1 + 0.5 and box.y1 <= page.y1 + 0.5)


def font_sizes(fig) -> list[float]:
    """Sizes of every visible text in the figure, tick labels included (after a draw)."""
    fig.draw_without_rendering()
    texts = [t for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and
                                    hasattr(a, "get_text")) if t.get_text() and t.get_visible()]
    return [t.get_fontsize() for t in texts]
