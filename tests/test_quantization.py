"""precision="int8": the student's message-passing MLPs with dynamic int8 quantisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch_geometric.nn import Linear as PygLinear

from molmtd.artifact import load_artifact, make_random_artifact
from molmtd.featurizer import MTDFeaturizer
from molmtd.quantization import Int8Linear, quantize_student

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "O=C(O)c1ccccc1",
          "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "C1CCNCC1", "c1ccncc1", "CCCCCCCC", "OCC(O)CO",
          "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "CC(=O)Oc1ccccc1C(=O)O"]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return make_random_artifact(tmp_path_factory.mktemp("q") / "rand", hidden_dim=64,
                                num_layers=3)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_int8_linear_is_close_to_float_and_each_row_depends_on_itself_alone():
    torch.manual_seed(0)
    linear = PygLinear(64, 32)
    int8 = Int8Linear(linear)
    x = torch.randn(50, 64) * torch.logspace(-2, 2, 50).unsqueeze(1)  # rows of every scale
    with torch.no_grad():
        exact, approx = linear(x), int8(x)
    assert approx.shape == (50, 32) and approx.dtype == torch.float32
    relative = (approx - exact).norm(dim=1) / exact.norm(dim=1)
    assert relative.max() < 0.03  # one int8 step of each row's own scale
    for i in (0, 25, 49):  # bitwise: per-row scales, exact int32 accumulation
        assert torch.equal(int8(x[i:i + 1])[0], approx[i])
    assert int8(x.reshape(5, 10, 64)).shape == (5, 10, 32)
    assert Int8Linear(torch.nn.Linear(64, 32, bias=False))(x).shape == (50, 32)


def test_quantize_student_copies_and_quantizes_only_the_layer_mlps(artifact):
    student = load_artifact(artifact).student
    before = {k: v.clone() for k, v in student.state_dict().items()}
    quantized = quantize_student(student)
    # the original is untouched: same types, same weights
    assert sum(isinstance(m, PygLinear) for m in student.modules()) == 3 * 2
    for key, value in student.state_dict().items():
        assert torch.equal(value, before[key])
    assert sum(isinstance(m, Int8Linear) for m in quantized.layers.modules()) == 3 * 2
    assert not any(isinstance(m, PygLinear) for m in quantized.modules())
    assert isinstance(quantized.projection, torch.nn.Linear)  # float: see the module doc
    assert torch.equal(quantized.projection.weight, student.projection.weight)


def test_int8_embeddings_are_close_to_fp32_and_aligned(artifact):
    fp32 = MTDFeaturizer(str(artifact)).transform(SMILES)
    int8 = MTDFeaturizer(str(artifact), precision="int8").transform(SMILES)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    assert not np.array_equal(int8, fp32)  # it really ran the int8 path
    assert _cosines(fp32, int8).min() > 0.99
    # each row is closer to its own fp32 row than to any other molecule's
    distances = np.linalg.norm(int8[:, None, :] - fp32[None, :, :], axis=-1)
    assert (distances.argmin(axis=1) == np.arange(len(SMILES))).all()
    layers = MTDFeaturizer(str(artifact), readout="layers").transform(SMILES)
    layers8 = MTDFeaturizer(str(artifact), readout="layers", precision="int8").transform(SMILES)
    assert layers8.shape == layers.shape and _cosines(layers, layers8).min() > 0.99


def test_switching_precision_reloads_the_model(artifact):
    feat = MTDFeaturizer(str(artifact))
    fp32 = feat.transform(SMILES[:3])
    feat.set_params(precision="int8")
    assert not np.array_equal(feat.transform(SMILES[:3]), fp32)
    feat.set_params(precision="fp32")
    np.testing.assert_array_equal(feat.transform(SMILES[:3]), fp32)


def test_bad_precision_and_device_are_refused(artifact):
    with pytest.raises(ValueError, match="precision must be one of fp32, int8, got 'fp16'"):
        load_artifact(artifact, precision="fp16")
    with pytest.raises(ValueError, match="runs on the CPU only"):
        load_artifact(artifact, device="cuda", precision="int8")
    with pytest.raises(ValueError, match="precision"):
        MTDFeaturizer(str(artifact), precision="bf16").transform(SMILES[:1])


def test_a_torch_without_int8_matmul_gets_a_clear_error(artifact, monkeypatch):
    monkeypatch.delattr(torch, "_int_mm")
    with pytest.raises(RuntimeError, match="needs torch._int_mm"):
        quantize_student(load_artifact(artifact).student)


def test_a_molecule_embeds_the_same_whatever_its_batch(artifact):
    batched = MTDFeaturizer(str(artifact), precision="int8").transform(SMILES)
    alone = np.stack([MTDFeaturizer(str(artifact), precision="int8").transform([s])[0]
                      for s in SMILES])
    reordered = MTDFeaturizer(str(artifact), precision="int8", batch_size=5).transform(
        SMILES[::-1])[::-1]
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(reordered, batched, rtol=1e-5, atol=1e-6)


def test_int8_through_embed_file_and_the_cli(artifact, tmp_path):
    from typer.testing import CliRunner

    from molmtd.cli import app
    from molmtd.embedding import embed_file

    smi = tmp_path / "in.smi"
    smi.write_text("\n".join(SMILES + ["not a smiles"]) + "\n")
    summary = embed_file(smi, tmp_path / "a.npy", featurizer=str(artifact), precision="int8")
    emb = np.load(tmp_path / "a.npy")
    assert summary["precision"] == "int8" and summary["invalid"] == 1
    assert np.isnan(emb[-1]).all() and np.isfinite(emb[:-1]).all()
    np.testing.assert_allclose(
        emb[:-1], MTDFeaturizer(str(artifact), precision="int8").transform(SMILES), rtol=1e-6)
    runner = CliRunner()
    result = runner.invoke(app, ["embed", str(smi), "-o", str(tmp_path / "b.npy"),
                                 "--featurizer", str(artifact), "--precision", "int8"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["precision"] == "int8"
    np.testing.assert_allclose(np.load(tmp_path / "b.npy"), emb, equal_nan=True)
    result = runner.invoke(app, ["embed", str(smi), "-o", str(tmp_path / "c.npy"),
                                 "--teacher", "maccs", "--precision", "int8"])
    assert result.exit_code == 2 and "applies to a distilled featurizer" in result.output


def test_distilled_teacher_caches_int8_apart_from_fp32(artifact):
    from molmtd.teachers.distilled import DistilledTeacher

    fp32 = DistilledTeacher(str(artifact))
    int8 = DistilledTeacher(str(artifact), precision="int8")
    assert int8.version == fp32.version + "-int8"
    out8 = int8.embed(SMILES[:4]).embeddings
    assert _cosines(fp32.embed(SMILES[:4]).embeddings, out8).min() > 0.99


def test_int8_overlapped_path_matches_one_process(artifact, monkeypatch):
    import molmtd.artifact

    monkeypatch.setattr(molmtd.artifact, "_MIN_PARALLEL", 0)  # workers whatever the size
    one = MTDFeaturizer(str(artifact), precision="int8").transform(SMILES)
    overlapped = MTDFeaturizer(str(artifact), precision="int8", n_jobs=2).transform(SMILES)
    np.testing.assert_allclose(overlapped, one, rtol=1e-5, atol=1e-6)
