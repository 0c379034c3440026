"""Every command checks what needs no model before loading one, with one rule for layers."""

from __future__ import annotations

import pytest

import probe.models
from xalign.cli import main


@pytest.fixture
def corpus(tiny_experiment):
    _, root = tiny_experiment
    return f"xtreme-dir:{root / 'xtreme'}:tatoeba:deu"


@pytest.fixture
def sentences(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("library tool\nparser daemon\n")
    return path


def one_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("xalign")]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("layers", ["3", "5,99", "-1"])
def test_layers_outside_0_to_L_exit_2_everywhere(layers, tiny_model_dir, corpus, sentences,
                                                 tmp_path, capsys):
    # the tiny model has 2 blocks: hidden_states 0..2; no negative ("last k") indexing
    base = ["--model", str(tiny_model_dir), "--device", "cpu", f"--layers={layers}"]
    assert main(["retrieve", *base, "--corpus", corpus]) == 2
    assert "--layers" in one_line(capsys)
    assert main(["embed", *base, "--input", str(sentences), "--out",
                 str(tmp_path / "e")]) == 2
    assert "--layers" in one_line(capsys)
    assert not (tmp_path / "e").exists()


def test_valid_layers_are_the_rows_written(tiny_model_dir, sentences, tmp_path):
    out = tmp_path / "e"
    assert main(["embed", "--model", str(tiny_model_dir), "--device", "cpu", "--layers=0,2",
                 "--input", str(sentences), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("layer_*.npy")) == ["layer_00.npy", "layer_02.npy"]


@pytest.fixture
def no_model(monkeypatch):
    def load(*args, **kwargs):
        raise AssertionError("a model was loaded before the arguments were checked")

    monkeypatch.setattr(probe.models, "load_encoder", load)


@pytest.mark.parametrize("command", ["embed", "retrieve"])
def test_an_unknown_pooler_fails_before_any_model_loads(command, tiny_model_dir, corpus,
                                                        sentences, no_model, capsys):
    args = {"embed": ["--input", str(sentences), "--out", "x"],
            "retrieve": ["--corpus", corpus]}[command]
    assert main([command, *args, "--model", str(tiny_model_dir), "--pooling", "maxx"]) == 2
    assert "--pooling" in one_line(capsys)


@pytest.mark.parametrize("flag, value", [("--dtype", "fp8"), ("--cka-kind", "cosine"),
                                         ("--device", "tpu")])
def test_enumerated_flags_are_refused_by_the_parser(flag, value, corpus, no_model, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["retrieve", "--corpus", corpus, flag, value])
    assert exit_.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


def test_a_missing_corpus_file_fails_before_the_model(tiny_model_dir, tmp_path, no_model,
                                                      capsys):
    spec = f"xtreme-dir:{tmp_path}:tatoeba:deu"
    assert main(["retrieve", "--model", str(tiny_model_dir), "--corpus", spec]) == 2
    assert "not found" in one_line(capsys)
