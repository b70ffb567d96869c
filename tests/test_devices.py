"""A requested GPU falls back to the CPU with a warning where there is none."""

from __future__ import annotations

import numpy as np
import pytest

from molmtd.devices import onnx_providers, resolve_device

torch = pytest.importorskip("torch")
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_falls_back_to_cpu_with_a_warning(device):
    with pytest.warns(RuntimeWarning, match=f"device '{device}' is not available.*CPU"):
        assert resolve_device(device) == "cpu"


def test_cpu_and_none_pass_and_nonsense_is_refused():
    assert resolve_device(None) is None and resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="expected cpu, cuda, cuda:N or mps"):
        resolve_device("gpu")


def test_onnx_providers():
    ort = pytest.importorskip("onnxruntime")
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert onnx_providers("cuda")[0] == "CUDAExecutionProvider"
    else:
        with pytest.warns(RuntimeWarning, match="no CUDAExecutionProvider.*onnxruntime-gpu"):
            assert onnx_providers("cuda") == ["CPUExecutionProvider"]


@no_cuda
def test_embed_with_cuda_runs_on_cpu_and_gives_the_cpu_result(tmp_path):
    pytest.importorskip("torch_geometric")
    from molmtd.artifact import make_random_artifact
    from molmtd.embedding import embed_file

    art = make_random_artifact(tmp_path / "art", hidden_dim=8)
    smi = tmp_path / "in.smi"
    smi.write_text("CCO\nc1ccccc1\nbad\n")
    embed_file(smi, tmp_path / "cpu.npy", featurizer=str(art), device="cpu")
    with pytest.warns(RuntimeWarning, match="not available"):
        embed_file(smi, tmp_path / "gpu.npy", featurizer=str(art), device="cuda")
    np.testing.assert_array_equal(np.load(tmp_path / "gpu.npy"), np.load(tmp_path / "cpu.npy"))
