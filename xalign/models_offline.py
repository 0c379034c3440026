"""What can be known about a model without loading weights or reaching the hub."""

from __future__ import annotations

import json
from pathlib import Path

# Transformer blocks of well-known encoders (their config.json num_hidden_layers), so a
# plan for a hub model that is not in the local cache can still check layer indices.
KNOWN_LAYERS = {
    "e5-small": 12,
    "FacebookAI/xlm-roberta-base": 12, "xlm-roberta-base": 12,
    "FacebookAI/xlm-roberta-large": 24, "xlm-roberta-large": 24,
    "intfloat/multilingual-e5-small": 12,
}


def num_layers(name: str) -> int | None:
    """Transformer blocks L of ``name`` (local folder, cached hub copy, or a known model)."""
    path = Path(name).expanduser()
    config = path / "config.json"
    if not config.is_file() and name not in KNOWN_LAYERS and "/" in name:
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(name, "config.json")
            config = Path(cached) if isinstance(cached, str) else config
        except Exception:  # an odd hub cache never blocks planning: the count is optional
            pass
    if config.is_file():
        try:
            return int(json.loads(config.read_text())["num_hidden_layers"])
        except (OSError, ValueError, KeyError):
            return None
    return KNOWN_LAYERS.get(name)
