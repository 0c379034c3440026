"""save_figure: PNG + PDF + sidecar, atomic, deterministic; no pyplot, no global style."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import matplotlib
import pytest
from figrows import alignment_rows, write_csv

from figures.layers import plot_layer_curves
from figures.save import save_figure


def _figure():
    return plot_layer_curves(alignment_rows(), metric="tatoeba_en2xx",
                             where={"condition": "none", "phase": 0})


def test_writes_png_pdf_and_sidecar_without_temp_files(tmp_path):
    source = write_csv(tmp_path / "alignment.csv", alignment_rows())
    paths = save_figure(_figure(), tmp_path / "out" / "layers.v1", sources=[source],
                        params={"metric": "tatoeba_en2xx"})
    png, pdf, meta = paths
    assert [p.name for p in paths] == ["layers.v1.png", "layers.v1.pdf", "layers.v1.json"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000
    sidecar = json.loads(meta.read_text())
    assert sidecar["figure_function"] == "plot_layer_curves"
    assert sidecar["sources"] == [{"path": str(source),
                                   "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}]
    assert sidecar["params"] == {"metric": "tatoeba_en2xx"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)


def test_png_is_300_dpi_and_output_is_deterministic(tmp_path):
    png, pdf, _ = save_figure(_figure(), tmp_path / "a")
    png2, pdf2, _ = save_figure(_figure(), tmp_path / "b")
    assert pdf.read_bytes() == pdf2.read_bytes()
    assert png.read_bytes() == png2.read_bytes()
    from PIL import Image  # matplotlib depends on Pillow

    with Image.open(png) as image:
        assert round(image.info["dpi"][0]) == 300
        assert image.size[0] == round(3.4 * 300)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    fig = _figure()

    def broken(handle, **kwargs):
        handle.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, tmp_path / "x")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        save_figure(_figure(), tmp_path / "y", sources=[tmp_path / "nope.csv"])


def test_figures_never_touch_pyplot_or_global_style():
    before = dict(matplotlib.rcParams)
    _figure()
    assert dict(matplotlib.rcParams) == before
    code = ("import sys; import figures.layers, figures.cka, figures.change, figures.bars, "
            "figures.bands, figures.forest, "
            "figures.cartography, figures.save; "
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
