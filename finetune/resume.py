"""What a checkpoint must match before a run may resume it: config, examples, starting weights.

``train`` resumes the newest checkpoint in its folder. Weights trained on other examples,
from another starting encoder or with another batch order are a silently wrong result,
so every checkpoint records the config, a digest of the training features and the
caller's fingerprint of the starting model, and :func:`check_resumable` refuses a
checkpoint whose record differs, naming the folder and what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

# Config fields that may change between a run and its resumption: they do not change
# which examples are seen, in which order, or how the weights move.
RESUMABLE_CHANGES = frozenset({"eval_every", "save_every"})


def _plain(value):
    """JSON fallback for numpy scalars / arrays and tensors inside features."""
    return value.tolist()


def features_digest(features: Mapping[str, Sequence[Mapping]]) -> str:
    """A content hash of every task's features, in order (blake2b, 16 bytes, hex).

    Every key of every feature counts (``input_ids``, ``labels``, QA positions,
    ``example_index``, ...), so any added, dropped, reordered, relabelled or
    re-tokenised example changes the digest. About 1 s per 100k short features.

    Args:
        features: task name -> list of feature dicts (a single task is named "").
    """
    h = hashlib.blake2b(digest_size=16)
    for task in sorted(features):
        h.update(json.dumps(task).encode())
        for feature in features[task]:
            h.update(json.dumps(feature, sort_keys=True, separators=(",", ":"),
                                default=_plain).encode())
            h.update(b"\n")
    return h.hexdigest()


def check_resumable(saved: Mapping, current: Mapping, folder: Path) -> None:
    """Refuse to resume ``folder`` unless it was trained on what this run trains.

    Args:
        saved: the checkpoint's ``trainer_state.json``: ``config`` (a TrainConfig dict),
            ``data_digest`` and ``start_fingerprint``.
        current: the same three keys for the run about to start.
        folder: the checkpoint folder, named in the error.

    Raises:
        ValueError: one line naming the checkpoint, its run folder and every difference.
    """
    problems = []
    saved_cfg, cfg = saved.get("config", {}), current["config"]
    for key in sorted(set(saved_cfg) | set(cfg)):
        if key not in RESUMABLE_CHANGES and saved_cfg.get(key) != cfg.get(key):
            problems.append(f"with {key}={saved_cfg.get(key)!r} but the config says "
                            f"{cfg.get(key)!r}")
    if saved.get("data_digest") != current["data_digest"]:
        problems.append(f"on other examples (digest {_short(saved.get('data_digest'))} != "
                        f"{_short(current['data_digest'])})")
    if saved.get("start_fingerprint") != current["start_fingerprint"]:
        problems.append(f"from another starting model (fingerprint "
                        f"{_short(saved.get('start_fingerprint'))} != "
                        f"{_short(current['start_fingerprint'])})")
    if problems:
        folder = Path(folder)
        raise ValueError(f"{folder.name} in {folder.parent} was trained {'; '.join(problems)}: "
                         f"remove {folder.parent} or use another out_dir")


def _short(value: str | None) -> str:
    """A digest or fingerprint cut to 16 characters; "none" when it was not recorded."""
    if value is None:
        return "none"
    return value if len(value) <= 24 else f"{value[:16]}.."
