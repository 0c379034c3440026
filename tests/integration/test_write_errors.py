"""Unwritable outputs: one line, exit 2, nothing partial; modes follow the umask."""

from __future__ import annotations

import errno
import os
import stat
import subprocess

import pytest

import xalign.io
from xalign.cli import main
from xalign.io import atomic_dir, atomic_file, clean_stale_temporaries


def _mount(path, *options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs",
                             str(path)], capture_output=True)
    return result.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A 48 KiB tmpfs: too small for 3 layers of embeddings plus figures."""
    disk = tmp_path / "disk"
    if not _mount(disk, "size=48k"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount namespace)")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


@pytest.fixture
def read_only(tmp_path):
    disk = tmp_path / "ro"
    if not _mount(disk, "size=64k", "ro"):
        pytest.skip("cannot mount a tmpfs here (not root, or no mount namespace)")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


@pytest.fixture
def sentences(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("\n".join(f"library tool parser number {i} for the lazy dog" * 3
                              for i in range(400)) + "\n")
    return path


def embed_args(model_dir, sentences, out):
    return ["embed", "--model", str(model_dir), "--input", str(sentences), "--out", str(out),
            "--device", "cpu", "--dtype", "fp32", "--max-length", "32"]


def assert_one_line_exit_2(code, capsys, *words):
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("xalign ")]
    assert code == 2, err
    assert "Traceback" not in err and len(errors) == 1, err  # progress bars aside
    assert all(w in errors[0] for w in words), errors


def test_embed_on_a_full_disk_leaves_nothing(tiny_model_dir, sentences, tiny_disk, capsys):
    code = main(embed_args(tiny_model_dir, sentences, tiny_disk / "emb"))
    assert_one_line_exit_2(code, capsys, "cannot write", "space")
    assert list(tiny_disk.iterdir()) == []  # no layer file, no meta.json, no temporary


def test_embed_into_a_read_only_folder(tiny_model_dir, sentences, read_only, capsys):
    code = main(embed_args(tiny_model_dir, sentences, read_only / "emb"))
    assert_one_line_exit_2(code, capsys, "cannot write")


def test_retrieve_figures_on_a_full_disk_leave_nothing(tiny_model_dir, tiny_experiment,
                                                       tiny_disk, capsys):
    _, root = tiny_experiment
    spec = f"xtreme-dir:{root / 'xtreme'}:tatoeba:deu"
    code = main(["retrieve", "--model", str(tiny_model_dir), "--corpus", spec, "--out",
                 str(tiny_disk / "ret"), "--figures", "--device", "cpu", "--max-length", "32"])
    assert_one_line_exit_2(code, capsys, "cannot write")
    assert list(tiny_disk.iterdir()) == []  # neither the tables nor half of the figures


def test_enospc_in_any_write_is_a_user_error(tiny_model_dir, sentences, tmp_path, monkeypatch,
                                             capsys):
    real = xalign.io.write_npy_rows

    def full_after_one_layer(path, rows, **kwargs):
        if path.name != "layer_00.npy":
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, rows, **kwargs)

    monkeypatch.setattr(xalign.io, "write_npy_rows", full_after_one_layer)
    out = tmp_path / "emb"
    assert_one_line_exit_2(main(embed_args(tiny_model_dir, sentences, out)), capsys,
                           "No space left")
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in.txt",
                                                                          "xalign-cache"]


def test_failed_writes_leave_no_temporaries(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "a.csv") as tmp:
            tmp.write_text("half")
            raise RuntimeError
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "figures") as tmp:
            (tmp / "one.png").write_bytes(b"x")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []


def test_a_folder_swap_keeps_the_old_one_until_the_new_one_is_in(tmp_path, monkeypatch):
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "v1").write_text("1")
    real = os.replace
    calls = []

    def second_rename_dies(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the old folder is aside, the new one not yet in
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(xalign.io.os, "replace", second_rename_dies)
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as tmp:
            (tmp / "v2").write_text("2")
    monkeypatch.setattr(xalign.io.os, "replace", real)
    # the old folder was renamed aside, never deleted: nothing is lost
    kept = [p for p in tmp_path.rglob("v1")]
    assert kept and kept[0].read_text() == "1"


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / ".layers.png.tmp-x1").write_bytes(b"")
    (tmp_path / ".results.tmp-y2").mkdir()
    (tmp_path / "figures" / "kept.png").write_bytes(b"png")
    assert clean_stale_temporaries(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["figures", "kept.png"]


def test_outputs_follow_the_umask(tiny_model_dir, sentences, tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "emb"
        env = {**os.environ, "XALIGN_CACHE": str(tmp_path / "cache")}
        subprocess.run([sys_executable(), "-m", "xalign.cli",
                        *embed_args(tiny_model_dir, sentences, out)], check=True, env=env,
                       capture_output=True)
    finally:
        os.umask(old)
    for path in [out, *out.iterdir()]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def sys_executable() -> str:
    import sys

    return sys.executable


def test_a_full_cache_disk_falls_back_to_memory_without_sigbus(tiny_model_dir, tiny_disk):
    """The cache writes through a memory map: a disk that fills mid-way would be SIGBUS.
    Run in a child so that a crash fails this test instead of killing the test session."""
    import sys

    code = f"""
import numpy as np
from probe.cache import embed_layers
from probe.embed import encode_layers
from probe.models import load_encoder
enc = load_encoder({str(tiny_model_dir)!r}, device="cpu", prefix="")
texts = [f"library tool parser number {{i}} " * 4 for i in range(3000)]
got = embed_layers(enc, texts, dtype="fp32", max_length=32, cache_dir={str(tiny_disk)!r})
ref = encode_layers(enc.model, enc.tokenizer, texts, dtype="fp32", max_length=32)
assert np.allclose(np.asarray(got), ref, atol=1e-6)
print("ok")
"""
    env = {**os.environ, "XALIGN_CACHE": str(tiny_disk / "memo")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
    assert "no room" in proc.stderr  # it said why the cache was not used
    assert not [p for p in tiny_disk.rglob("*.npy")]  # no partial entry left
