"""The offline Debian tasks are registered by xalign, next to their builder."""

from __future__ import annotations

from finetune.tasks import LocalSource
from xalign.tasks import get_task, mirrored


def test_debian_tasks_wait_for_a_folder():
    section = get_task("debian-section")
    assert section.source == LocalSource(None) and section.labels is None
    assert set(section.languages) == {"de", "fr", "es", "it", "ja", "ru", "pl", "uk", "en"}
    assert get_task("debian-match-section").labels == ("match", "mismatch")
    assert get_task("debian-choice").format == "multiple_choice"


def test_hub_mirrors_replace_every_hub_path_and_keep_the_rest(tmp_path):
    anli = mirrored(get_task("anli-plus"), {"nyu-mll/glue": str(tmp_path)})
    paths = [p.path for p in anli.source.parts]
    assert paths == ["facebook/anli", str(tmp_path), "stanfordnlp/snli", "pietrolesci/nli_fever"]
    mnli = mirrored(get_task("mnli"), {"nyu-mll/glue": str(tmp_path)})
    assert mnli.source.path == str(tmp_path) and mnli.source.config == "mnli"
    assert mirrored(get_task("xnli"), {}) == get_task("xnli")
