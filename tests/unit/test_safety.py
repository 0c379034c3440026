"""Safety as it stands, kept: nothing loads code from data.

Weights are safetensors (``torch.load`` only with ``weights_only=True``), remote code is
never trusted, YAML is read with safe loading, caches and results hold no pickle, and the
paths a config names are resolved and checked before any work. The source checks walk
the syntax tree (calls and keyword arguments, imports resolved), so comments and strings
never trip them and an alias (``import numpy as np``) never hides a call.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from xalign.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ("finetune", "probe", "retrieval", "figures", "xalign")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve",
                  "marshal"}
TORCH_LOADS = {"torch.load", "torch.serialization.load"}
UNSAFE_YAML = {"yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
               "yaml.full_load_all"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader",
                     "yaml.CBaseLoader"}
SAFE_SUFFIXES = {".npy", ".json", ".csv", ".safetensors", ".md", ".png", ".pdf", ".yaml"}


# --- the source scanner -------------------------------------------------------------------

def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> imported dotted name, e.g. ``np`` -> ``numpy``, ``load`` -> ``torch.load``."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                names[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``np.lib.format.open_memmap`` -> ``numpy.lib.format.open_memmap``; None if not a name."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _is_const(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _call_findings(node: ast.Call, aliases: dict[str, str]) -> list[str]:
    """Unsafe uses in one call: (rule) strings."""
    name = _dotted(node.func, aliases) or ""
    kwargs = {k.arg: k.value for k in node.keywords if k.arg is not None}
    star = any(k.arg is None for k in node.keywords)
    found = []
    if name == "torch.save" or name.startswith(tuple(m + "." for m in UNSAFE_MODULES)):
        found.append("pickle")
    if name in TORCH_LOADS and not _is_const(kwargs.get("weights_only"), True):
        found.append("torch.load without weights_only=True")
    if name == "numpy.load" and "allow_pickle" in kwargs \
            and not _is_const(kwargs["allow_pickle"], False):
        found.append("np.load allow_pickle")
    loader = _dotted(kwargs["Loader"], aliases) if "Loader" in kwargs else None
    if name in UNSAFE_YAML or (name in ("yaml.load", "yaml.load_all")
                               and loader not in SAFE_YAML_LOADERS):
        found.append("unsafe yaml")
    if "trust_remote_code" in kwargs and not _is_const(kwargs["trust_remote_code"], False):
        found.append("trust_remote_code")
    if name.endswith(".from_pretrained") and star:
        found.append("from_pretrained with **kwargs")  # could carry trust_remote_code
    if name in ("eval", "exec") and isinstance(node.func, ast.Name):
        found.append("eval/exec")
    return found


def scan(source: str) -> list[tuple[str, int]]:
    """(rule, line) for every unsafe import or call in ``source``."""
    tree = ast.parse(source)
    return scan_tree(tree, _aliases(tree))


def scan_tree(tree: ast.Module, aliases: dict[str, str]) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) \
                else [node.module or ""]
            if any(m.split(".")[0] in UNSAFE_MODULES for m in modules):
                found.append(("pickle", node.lineno))
        elif isinstance(node, ast.Call):
            found += [(rule, node.lineno) for rule in _call_findings(node, aliases)]
    return found


def library_calls(suffix: str) -> list[str]:
    """``file:line`` of every call in the library whose resolved name ends with ``suffix``."""
    hits = []
    for path, tree, aliases in LIBRARY_TREES:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (_dotted(node.func, aliases) or "").endswith(
                    suffix):
                hits.append(f"{path}:{node.lineno}")
    return hits


def _library_trees():
    files = sorted(p for pkg in LIBRARY for p in (ROOT / pkg).rglob("*.py"))
    trees = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        trees.append((path.relative_to(ROOT), tree, _aliases(tree)))
    return trees


LIBRARY_TREES = _library_trees()


def library_findings(*rules: str) -> list[str]:
    return [f"{path}:{line}: {rule}"
            for path, tree, aliases in LIBRARY_TREES
            for rule, line in scan_tree(tree, aliases)
            if rule in rules]


# --- the scanner finds what it must (so the library checks below can fail) ---------------

@pytest.mark.parametrize(("source", "rule"), [
    ("import pickle", "pickle"),
    ("import pickle as p\np.dump(x, f)", "pickle"),
    ("from joblib import dump", "pickle"),
    ("import torch\ntorch.save(model.state_dict(), 'w.pt')", "pickle"),
    ("import torch\ntorch.load('w.pt')", "torch.load without weights_only=True"),
    ("from torch import load\nload('w.pt', weights_only=False)",
     "torch.load without weights_only=True"),
    ("import torch\ntorch.load('w.pt', weights_only=flag)",
     "torch.load without weights_only=True"),
    ("import numpy as np\nnp.load('a.npy', allow_pickle=True)", "np.load allow_pickle"),
    ("import yaml\nyaml.load(text)", "unsafe yaml"),
    ("import yaml\nyaml.load(text, Loader=yaml.Loader)", "unsafe yaml"),
    ("from yaml import unsafe_load\nunsafe_load(text)", "unsafe yaml"),
    ("AutoModel.from_pretrained(p, trust_remote_code=True)", "trust_remote_code"),
    ("AutoModel.from_pretrained(p, trust_remote_code=trust)", "trust_remote_code"),
    ("AutoModel.from_pretrained(p, **options)", "from_pretrained with **kwargs"),
    ("eval(text)", "eval/exec"),
])
def test_scanner_flags_unsafe_code(source, rule):
    assert rule in [r for r, _ in scan(source)]


def test_scanner_passes_safe_code():
    source = '''
import numpy as np
import torch
import yaml
from safetensors.torch import load_file
# pickle.loads(data) and torch.save(x) in a comment are not calls
text = "yaml.load(text) inside a string"
np.load("a.npy", mmap_mode="r")
np.load("a.npy", allow_pickle=False)
torch.load("w.pt", weights_only=True)
yaml.safe_load(text)
yaml.load(text, Loader=yaml.SafeLoader)
AutoModel.from_pretrained(path, trust_remote_code=False)
AutoTokenizer.from_pretrained(path)
model.eval()
'''
    assert scan(source) == []


# --- the library --------------------------------------------------------------------------

def test_library_is_scanned():
    assert len(LIBRARY_TREES) > 50
    assert library_calls("numpy.load") and library_calls("yaml.safe_load")  # aliases resolve
    assert library_calls(".from_pretrained")


def test_library_has_no_pickle_or_unsafe_loaders():
    assert library_findings("pickle", "np.load allow_pickle", "unsafe yaml", "eval/exec") == []


def test_every_torch_load_passes_weights_only_true():
    assert library_findings("torch.load without weights_only=True") == []


def test_no_call_trusts_remote_code():
    assert library_findings("trust_remote_code", "from_pretrained with **kwargs") == []


# --- YAML and config paths ----------------------------------------------------------------

PYTHON_TAGS = ["!!python/object/apply:os.system", "!!python/object/new:os.system",
               "!!python/name:os.system"]


@pytest.mark.parametrize("tag", PYTHON_TAGS)
def test_config_yaml_with_python_tags_is_refused_not_run(tmp_path, tag):
    from xalign.config import load_config

    marker = tmp_path / "executed"
    command = f"['touch {marker}']"
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: {tag} {command}\n")
    with pytest.raises(UserError, match="invalid YAML"):
        load_config(path)
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(None, [f"name={tag} {command}"])
    assert not marker.exists()


def test_config_model_paths_are_resolved_and_checked(tmp_path):
    from xalign.config import load_config
    from xalign.validate import validate

    not_a_model = tmp_path / "weights"
    not_a_model.mkdir()
    for name in (str(not_a_model), "./no-such-model", "~/no-such-xalign-model-folder"):
        config = load_config(None, [f"model.names=[{name}]", "finetune.enabled=false"])
        with pytest.raises(UserError, match=r"model\.names\[0\]: .*not a checkpoint folder"):
            validate(config)


# --- caches and run folders hold no pickle ------------------------------------------------

PICKLE_MAGIC = tuple(b"\x80" + bytes([protocol]) for protocol in range(2, 6))
ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format: a zip holding data.pkl


def check_folder_is_data_only(folder: Path) -> list[Path]:
    """Every file has a data-only format; every array loads without pickle."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files, f"{folder} is empty"
    for path in files:
        head = path.read_bytes()[:4]
        assert not head.startswith(PICKLE_MAGIC + (ZIP_MAGIC,)), path
        if path.name == ".tables.sha256":  # the figures' stamp: one hex digest, nothing else
            assert all(c in "0123456789abcdef" for c in path.read_text().strip()), path
            continue
        assert path.suffix in SAFE_SUFFIXES, path
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            assert array.dtype != object, path
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".yaml":
            yaml.safe_load(path.read_text(encoding="utf-8"))
    return files


def test_embedding_cache_entry_is_data_only(tiny_model_dir, tmp_path):
    from probe.cache import embed_layers
    from probe.models import load_encoder

    encoder = load_encoder(str(tiny_model_dir), device="cpu")
    texts = ["library for parsing files", "Bibliothek zum Parsen", "outil en ligne"]
    stack = embed_layers(encoder, texts, max_length=16, cache_dir=tmp_path / "embeddings")
    files = check_folder_is_data_only(tmp_path / "embeddings")
    assert {p.name for p in files} == {"layers.npy", "meta.json"}
    stored = np.load(next(p for p in files if p.suffix == ".npy"), allow_pickle=False)
    np.testing.assert_array_equal(stored, stack)  # the file checked is the entry served


def test_run_folder_is_data_only(tiny_model_dir, tmp_path):
    from xalign.cli import main

    folder = tmp_path / "xtreme"
    folder.mkdir()
    english = [f"command line tool number {i} for packages" for i in range(8)]
    (folder / "tatoeba.deu-eng.eng").write_text("".join(s + "\n" for s in english))
    (folder / "tatoeba.deu-eng.deu").write_text("".join(f"Werkzeug {s}\n" for s in english))
    config = {"name": "safety", "model": {"names": [str(tiny_model_dir)]},
              "data": {"aligned": [f"xtreme-dir:{folder}:tatoeba:deu"], "mining": [],
                       "aligned_limit": None, "grid_sentences": 8},
              "probe": {"max_length": 16, "batch_size": 8}, "finetune": {"enabled": False}}
    path = tmp_path / "safety.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 0
    suffixes = {p.suffix for p in check_folder_is_data_only(out)}
    assert {".csv", ".json", ".yaml", ".md", ".png", ".pdf"} <= suffixes  # results, figures
