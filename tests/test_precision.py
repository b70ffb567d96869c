"""trainer.precision: auto picks bf16 autocast only where the device computes bf16 natively."""

import pytest
import torch

from molmtd import precision as P
from molmtd.recipe import load_recipe


@pytest.fixture
def cpu(monkeypatch):
    """Pretend CPU: no GPU, and the two bf16 probes set by the test."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def set_probes(avx512_bf16: bool, amx: bool):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16,
                            raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    return set_probes


@pytest.mark.parametrize("avx512_bf16,amx,expected", [
    (True, False, "bf16-mixed"), (False, True, "bf16-mixed"), (False, False, "32-true")])
def test_auto_on_cpu_follows_native_bf16(cpu, avx512_bf16, amx, expected):
    cpu(avx512_bf16, amx)
    assert P.resolve_precision("auto") == expected
    assert P.resolve_precision("auto", "cpu") == expected


def test_auto_on_a_gpu_follows_its_bf16_support(monkeypatch, cpu):
    cpu(True, True)  # the host CPU does not decide when a GPU trains
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for supported, expected in ((True, "bf16-mixed"), (False, "32-true")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda s=supported: s)
        assert P.resolve_precision("auto", "gpu") == expected
        assert P.resolve_precision("auto") == expected
    # a GPU machine told to train on its CPU asks the CPU
    assert P.resolve_precision("auto", "cpu") == "bf16-mixed"


def test_auto_elsewhere_and_explicit_precisions(cpu):
    cpu(True, False)
    assert P.resolve_precision("auto", "mps") == "32-true"
    for explicit in ("32-true", "bf16-mixed", "16-mixed", 32):
        assert P.resolve_precision(explicit) == explicit


def test_a_torch_without_the_cpu_probes_means_no_native_bf16(monkeypatch):
    for probe in P._CPU_BF16_PROBES:
        monkeypatch.delattr(torch.cpu, probe, raising=False)
    assert P.native_bf16("cpu") is False
    assert P.native_bf16("xpu") is False


def test_recipe_accepts_auto():
    recipe = load_recipe(data={"name": "x", "teachers": ["maccs"],
                               "trainer": {"precision": "auto"}})
    assert recipe.trainer.precision == "auto"
