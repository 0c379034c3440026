"""Device and precision resolution: ``auto`` follows the hardware and a measured verdict."""

from __future__ import annotations

import json

import pytest
import torch

import probe.device as device
from probe.device import resolve_device, resolve_dtype, torch_threads

CPU = torch.device("cpu")


@pytest.fixture
def fake_timer(monkeypatch):
    """Replace the timed matmul by given (fp32, bf16) seconds; count the measurements."""
    calls = []

    def install(fp32_s: float, bf16_s: float):
        def measure(hidden, intermediate):
            calls.append((hidden, intermediate))
            return fp32_s, bf16_s

        monkeypatch.setattr(device, "measure_matmul", measure)
        device._cpu_verdict.cache_clear()
        return calls

    yield install
    device._cpu_verdict.cache_clear()


def test_auto_device_is_the_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == CPU
    assert resolve_device("cpu") == CPU
    with pytest.raises(ValueError, match="'cuda' requested but torch sees no CUDA device"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_auto_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_explicit_dtypes_pass_through_and_unknown_ones_fail(fake_timer):
    calls = fake_timer(1.0, 0.1)
    assert resolve_dtype("fp32", CPU, 384, 1536) == "fp32"
    assert resolve_dtype("bf16", CPU, 384, 1536) == "bf16"
    assert not calls  # nothing measured for an explicit choice
    with pytest.raises(ValueError, match="unknown dtype 'fp16'"):
        resolve_dtype("fp16", CPU, 384, 1536)


@pytest.mark.parametrize(("fp32_s", "bf16_s", "want"),
                         [(2.0, 1.0, "bf16"), (1.0, 1.0, "fp32"), (1.1, 1.0, "fp32"),
                          (1.0, 2.0, "fp32")])
def test_auto_on_a_cpu_takes_bf16_only_for_a_clear_gain(fake_timer, fp32_s, bf16_s, want):
    fake_timer(fp32_s, bf16_s)
    assert resolve_dtype("auto", CPU, 384, 1536) == want


def test_auto_on_a_gpu_is_bf16_where_supported(monkeypatch, fake_timer):
    calls = fake_timer(1.0, 2.0)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_dtype("auto", torch.device("cuda"), 384, 1536) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_dtype("auto", torch.device("cuda"), 384, 1536) == "fp32"
    assert not calls


def test_verdict_is_measured_once_and_remembered_on_disk(fake_timer, tmp_path):
    calls = fake_timer(2.0, 1.0)
    assert resolve_dtype("auto", CPU, 384, 1536) == "bf16"
    assert resolve_dtype("auto", CPU, 384, 1536) == "bf16"
    assert len(calls) == 1  # memoised in the process
    device._cpu_verdict.cache_clear()  # a new process: the disk record answers
    assert resolve_dtype("auto", CPU, 384, 1536) == "bf16"
    assert len(calls) == 1
    (memo,) = (tmp_path / "xalign-cache" / "precision").glob("*.json")
    record = json.loads(memo.read_text())
    assert record["dtype"] == "bf16" and record["torch"] == torch.__version__
    assert resolve_dtype("auto", CPU, 1024, 4096) == "bf16"  # other shapes: measured anew
    assert calls == [(384, 1536), (1024, 4096)]


def test_calibration_runs_on_one_thread_whatever_the_caller_set(monkeypatch):
    """Each CPU worker of encode_layers multiplies on one thread: so does the measurement."""
    seen = []

    def measure(hidden, intermediate):
        seen.append(torch.get_num_threads())
        return 2.0, 1.0

    monkeypatch.setattr(device, "measure_matmul", measure)
    device._cpu_verdict.cache_clear()
    try:
        with torch_threads(2):
            resolve_dtype("auto", CPU, 384, 1536)
            assert torch.get_num_threads() == 2
    finally:
        device._cpu_verdict.cache_clear()
    assert seen == [1]


def test_real_measurement_returns_positive_times():
    fp32_s, bf16_s = device.measure_matmul(64, 96)
    assert 0 < fp32_s < 1 and 0 < bf16_s < 1


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be >= 1"), torch_threads(0):
        pass
