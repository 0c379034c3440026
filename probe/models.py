"""Load encoders by Hugging Face id, local directory, or the offline alias ``e5-small``.

:func:`load_encoder` resolves a name to a local folder and a fingerprint without loading
weights; the model and tokenizer load on first use (onto the encoder's device), so a cache
hit never touches them. ``trust_remote_code`` is never enabled.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.paths import cache_root

log = logging.getLogger(__name__)

ALIASES = ("e5-small",)
WEIGHT_SUFFIXES = (".safetensors", ".bin")
TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "tokenizer_config.json")


_TOKENIZER_GLOBS = ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "*.model",
                    "vocab*", "merges.txt", "spiece*")
_tokenizers: dict[str, Any] = {}


def load_tokenizer(path: str | Path):
    """The tokenizer of a model folder, shared by every folder holding the same files.

    Parsing XLM-R's 250k-entry tokenizer.json takes about 2.5 s on 2 CPU cores, and every
    checkpoint of a run carries a copy of the same files: the pipeline would parse it again
    for each training, zero-shot and probing unit. The key is the content of the tokenizer
    files (a hash, ~20 ms), so a folder with other files gets its own tokenizer. Callers share
    the object and must not change its settings.
    """
    from transformers import AutoTokenizer

    folder = Path(path)
    files = sorted({f for pattern in _TOKENIZER_GLOBS for f in folder.glob(pattern)
                    if f.is_file()})
    if not files:  # a hub id or a folder without tokenizer files: no sharing
        return AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    if folder / "tokenizer.json" in files:  # the fast tokenizer loads from it alone
        files = [f for f in files if f.name.startswith(("tokenizer", "special_tokens",
                                                        "added_tokens"))]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + _tokenizer_content(f) + b"\0")
    key = digest.hexdigest()
    if key not in _tokenizers:
        if len(_tokenizers) >= 4:  # a run uses one or two; keep memory bounded
            _tokenizers.pop(next(iter(_tokenizers)))
        _tokenizers[key] = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
    return _tokenizers[key]


# Settings a saved tokenizer records from its last call or load, not what it is: every call
# sets truncation and padding again, and the loader adds where the files came from.
_VOLATILE_CONFIG = ("is_local", "local_files_only", "name_or_path", "_commit_hash")


def _tokenizer_content(file: Path) -> bytes:
    data = file.read_bytes()
    if file.name == "tokenizer.json":
        # {"version", "truncation", "padding", "added_tokens", ...}: from added_tokens on
        start = data.find(b'"added_tokens"')
        return data[start:] if start >= 0 else data
    if file.name == "tokenizer_config.json":
        config = json.loads(data)
        return json.dumps({k: v for k, v in config.items() if k not in _VOLATILE_CONFIG},
                          sort_keys=True).encode()
    return data


@dataclass
class Encoder:
    """A resolved encoder: where it lives, what it is, where it runs, and (lazily) the
    loaded objects."""

    name: str
    path: Path
    fingerprint: str
    prefix: str = ""
    device: str = "cpu"  # a resolved torch device (see probe.device.resolve_device)
    _model: Any = field(default=None, repr=False)
    _tokenizer: Any = field(default=None, repr=False)
    _config: Any = field(default=None, repr=False)

    @property
    def model(self):
        """The model in eval mode, fp32 weights, on ``device`` (loaded on first access)."""
        if self._model is None:
            from transformers import AutoModel

            log.info("loading model %s onto %s", self.name, self.device)
            model = AutoModel.from_pretrained(self.path, trust_remote_code=False)
            self._model = model.to(self.device).eval()
        return self._model

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.path)
        return self._tokenizer

    @property
    def config(self):
        """The transformers config (read without loading weights)."""
        if self._config is None:
            from transformers import AutoConfig

            self._config = AutoConfig.from_pretrained(self.path, trust_remote_code=False)
        return self._config

    @property
    def num_layers(self) -> int:
        """Number of transformer blocks L; hidden_states has L + 1 entries."""
        return int(self.config.num_hidden_layers)


def resolve_model_path(name: str, *, revision: str | None = None) -> Path:
    """Map an alias, local directory or hub id to a local checkpoint folder."""
    if name == "e5-small":
        from probe.e5_small import prepare_e5_small

        return prepare_e5_small()
    path = Path(name).expanduser()
    if path.exists() or name.startswith((".", "/", "~")):
        if not path.is_dir():
            raise FileNotFoundError(f"model directory {name!r} does not exist")
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model directory {name!r} has no config.json")
        return path
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, revision=revision))
    except Exception as exc:  # hub errors are many types; report them as one input error
        raise FileNotFoundError(
            f"model {name!r} is neither a local directory, an alias ({', '.join(ALIASES)}) "
            f"nor a reachable hub id: {type(exc).__name__}"
        ) from exc


def load_encoder(
    name: str, *, revision: str | None = None, prefix: str | None = None, device: str = "auto"
) -> Encoder:
    """Resolve ``name`` and fingerprint it; weights load on first access to ``.model``.

    Args:
        name: ``e5-small``, a local checkpoint directory, or a Hugging Face hub id.
        revision: hub revision (ignored for local folders).
        prefix: text prefix; ``None`` takes ``xalign_text_prefix`` from the model config.
        device: ``auto`` (CUDA when there is one, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        FileNotFoundError: no such model. ValueError: an unknown or unavailable device.
    """
    from probe.device import resolve_device

    torch_device = resolve_device(device)  # before the (possibly slow) fingerprint
    path = resolve_model_path(name, revision=revision)
    config = read_config(path)
    if prefix is None:
        prefix = config.get("xalign_text_prefix", "")
    return Encoder(name=name, path=path, fingerprint=model_fingerprint(path), prefix=prefix,
                   device=str(torch_device))


def read_config(path: Path) -> dict:
    try:
        return json.loads((Path(path) / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}/config.json: unreadable model config ({exc})") from exc


def model_fingerprint(path: Path) -> str:
    """sha256 over the config and every weight and tokenizer file's content hash.

    File hashes are memoised in the cache keyed by (path, size, mtime), so a 500 MB
    checkpoint is read once, not on every run.
    """
    path = Path(path)
    h = hashlib.sha256()
    h.update(json.dumps(read_config(path), sort_keys=True).encode())
    files = sorted(
        p for p in path.iterdir()
        if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name in TOKENIZER_FILES)
    )
    if not any(p.suffix in WEIGHT_SUFFIXES for p in files):
        raise FileNotFoundError(f"model directory {path} has no weight file (*.safetensors, *.bin)")
    for p in files:
        h.update(p.name.encode())
        h.update(_file_digest(p).encode())
    return h.hexdigest()[:32]


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    memo = cache_root() / "fingerprints" / f"{key[:32]}.txt"
    if memo.is_file():
        return memo.read_text().strip()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            digest.update(chunk)
    try:  # the memo only saves time: a full or read-only cache must not stop the run
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(digest.hexdigest())
        os.replace(tmp, memo)
    except OSError as exc:
        log.warning("fingerprint memo not written (%s): hashing again next time", exc)
    return digest.hexdigest()
