"""Offline tasks built from Debian package descriptions (no hub needed).

Their folders are written by ``xalign fetch debian`` (xalign/corpora/debian_tasks.py) in
the local layout; until then the tasks have no path and loading asks for one.
"""

from __future__ import annotations

from finetune.tasks import LocalSource, Task, register_task

DEBIAN_LANGS = ("de", "fr", "es", "it", "ja", "ru", "pl", "uk", "en")

DEBIAN_TASKS = (
    Task("debian-section", "single", LocalSource(None), None, {"text": "text", "label": "label"},
         DEBIAN_LANGS, "accuracy", "target",
         "Debian package Section from its description (labels from meta.json); "
         "zero-shot on translated descriptions held out from English training"),
    Task("debian-match-random", "pair", LocalSource(None), ("match", "mismatch"),
         {"text_a": "text_a", "text_b": "text_b", "label": "label"}, ("en",), "accuracy",
         "intermediate", "Does this description belong to this package? Random negatives"),
    Task("debian-match-section", "pair", LocalSource(None), ("match", "mismatch"),
         {"text_a": "text_a", "text_b": "text_b", "label": "label"}, ("en",), "accuracy",
         "intermediate", "Same as debian-match-random with negatives from the same Section "
         "(harder)"),
    Task("debian-choice", "multiple_choice", LocalSource(None), None,
         {"context": "context", "choices": "choices", "label": "label"}, ("en",), "accuracy",
         "intermediate", "Pick the package's description among 4 choices"),
)

for _task in DEBIAN_TASKS:
    register_task(_task)
