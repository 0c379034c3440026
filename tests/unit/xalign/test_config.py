"""Experiment config: precedence, unknown keys, types, round trip."""

from __future__ import annotations

import pytest
import yaml

from xalign.config import ExperimentConfig, dump_config, load_config
from xalign.errors import UserError


def write(tmp_path, text: str):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_defaults_without_a_file():
    cfg = load_config()
    assert cfg == ExperimentConfig()
    assert cfg.finetune.conditions == ("none", "easy", "hard", "random")


def test_precedence_defaults_yaml_set(tmp_path):
    path = write(tmp_path,
                 "name: a\nprobe: {dtype: bf16, max_length: 64}\nfinetune: {seeds: [1]}\n")
    cfg = load_config(path, ["probe.max_length=32", "finetune.seeds=[0, 2]",
                             "finetune.intermediate={learning_rate: 1e-4}"])
    assert cfg.name == "a"
    assert cfg.probe.dtype == "bf16"  # from YAML
    assert cfg.probe.max_length == 32  # --set wins over YAML
    assert cfg.probe.pooling == "mean"  # default kept
    assert cfg.finetune.seeds == (0, 2)
    assert cfg.finetune.intermediate == {"learning_rate": "1e-4"}  # passed on to TrainConfig


def test_floats_accept_yaml_11_exponents(tmp_path):
    cfg = load_config(None, ["finetune.subset_fraction=0.25"])
    assert cfg.finetune.subset_fraction == 0.25
    cfg = load_config(write(tmp_path, "finetune: {subset_fraction: 3e-1}\n"))
    assert cfg.finetune.subset_fraction == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("text", "overrides", "match"),
    [
        ("probe: {poling: cls}\n", [],
         r"unknown config key 'probe.poling'.*did you mean 'pooling'"),
        ("nonsense: 1\n", [], r"unknown config key 'nonsense'"),
        ("probe: {max_length: long}\n", [], r"config probe.max_length: expected int, got 'long'"),
        ("finetune: {seeds: [0, x]}\n", [], r"config finetune.seeds\[1\]: expected int"),
        ("probe: {max_length: true}\n", [], r"probe.max_length: expected int, got True"),
        ("probe: 3\n", [], r"probe: expected a mapping"),
        ("", ["probe.max_length"], r"expected KEY=VALUE"),
        ("- a\n- b\n", [], r"expected a mapping at the top level"),
        ("probe: {dtype: [unclosed\n", [], r"invalid YAML"),
    ],
)
def test_bad_configs_name_the_field(tmp_path, text, overrides, match):
    with pytest.raises(UserError, match=match):
        load_config(write(tmp_path, text), overrides)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(None, ["name=x", "data.aligned=[debian:de-en]", "finetune.seeds=[3]"])
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again == cfg
    assert yaml.safe_load(dump_config(cfg))["data"]["aligned"] == ["debian:de-en"]


def test_shipped_configs_are_valid():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parents[3] / "configs").glob("*.yaml"))
    assert configs, "no configs/*.yaml shipped"
    for path in configs:
        load_config(path)
