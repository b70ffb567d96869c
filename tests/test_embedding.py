"""embed_file: one row per input line, in input order, NaN rows for invalid molecules."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest

from molmtd.embedding import embed_file
from molmtd.errors import TeacherSpecError
from molmtd.teachers.base import TeacherOutput

LINES = ["CCO", "not_a_smiles", "c1ccccc1", "", "OCC", "[Na+].[Cl-]", "CC(=O)O"]
BAD = {1, 3}  # unparseable, empty line


@pytest.fixture()
def smi_file(tmp_path):
    path = tmp_path / "in.smi"
    path.write_text("\n".join(LINES) + "\n")
    return path


def _ecfp_rows(smiles):
    from molmtd.molecules import standardize_smiles
    from molmtd.teachers import get_teacher

    out = get_teacher("ecfp:radius=2,size=256").embed([standardize_smiles(s) for s in smiles])
    assert out.ok.all()
    return out.embeddings


def test_npy_has_one_row_per_input_line(smi_file, tmp_path):
    out = tmp_path / "deep" / "emb.npy"
    summary = embed_file(smi_file, out, teacher="ecfp:radius=2,size=256")
    emb = np.load(out)
    assert emb.shape == (len(LINES), 256) and emb.dtype == np.float32
    good = [i for i in range(len(LINES)) if i not in BAD]
    assert np.isnan(emb[sorted(BAD)]).all()
    np.testing.assert_array_equal(emb[good], _ecfp_rows([LINES[i] for i in good]))
    # "CCO" and "OCC" are the same molecule
    np.testing.assert_array_equal(emb[0], emb[4])
    assert summary["rows"] == 7 and summary["embedded"] == 5 and summary["invalid"] == 2
    assert summary["teacher"] == "ecfp:radius=2,size=256" and summary["dim"] == 256
    assert [e["position"] for e in summary["invalid_examples"]] == [1, 3]
    assert summary["invalid_examples"][1]["reason"] == "empty input"


def test_parquet_layout(smi_file, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "emb.parquet"
    embed_file(smi_file, out, teacher="ecfp:radius=2,size=256")
    df = pd.read_parquet(out)
    assert list(df.columns) == ["position", "smiles", "ok", "reason", "embedding"]
    assert df["position"].tolist() == list(range(len(LINES)))
    assert df["smiles"].tolist() == LINES
    assert df["ok"].tolist() == [i not in BAD for i in range(len(LINES))]
    assert df["reason"][1] == "unparseable SMILES" and df["reason"][3] == "empty input"
    assert df["reason"][[0, 2, 4, 5, 6]].isna().all()
    emb = np.stack(df["embedding"].to_numpy())
    assert emb.shape == (7, 256)
    np.testing.assert_array_equal(emb, np.load(_npy(smi_file, tmp_path)))
    # a parquet dataset: a directory of part files, each with the source in its metadata
    assert out.is_dir() and sorted(p.name for p in out.glob("*.parquet")) == ["part-000000.parquet"]
    meta = json.loads(pq.read_schema(out / "part-000000.parquet").metadata[b"molmtd"])
    assert meta["teacher"] == "ecfp:radius=2,size=256" and meta["dim"] == 256


def _npy(smi_file, tmp_path):
    path = tmp_path / "ref.npy"
    embed_file(smi_file, path, teacher="ecfp:radius=2,size=256")
    return path


def test_csv_column_and_teacher_mask(tmp_path):
    """A molecule the teacher itself rejects (after standardisation) gets the teacher's reason."""
    path = tmp_path / "in.csv"
    pd.DataFrame({"name": ["a", "b", "c"], "mol": ["CCO", "CCN", "xx"]}).to_csv(path, index=False)
    out = tmp_path / "e.parquet"
    summary = embed_file(path, out, teacher="ecfp:size=64", column="mol")
    df = pd.read_parquet(out)
    assert df["ok"].tolist() == [True, True, False] and summary["embedded"] == 2


def test_featurizer_branch_uses_the_artifact(smi_file, tmp_path, monkeypatch):
    seen = {}

    class FakeArtifact:
        dim = 3
        directory = "fake-dir"

        def embed(self, smiles):
            seen["smiles"] = list(smiles)
            ok = np.array([s not in ("", "not_a_smiles") for s in smiles])
            emb = np.where(ok[:, None], np.arange(len(smiles))[:, None] * np.ones(3), np.nan)
            return TeacherOutput(emb.astype(np.float32), ok,
                                 {i: "bad" for i in np.flatnonzero(~ok)})

    def load_artifact(path_or_name, **kwargs):
        seen["name"], seen["kwargs"] = path_or_name, kwargs
        return FakeArtifact()

    fake = types.ModuleType("molmtd.artifact")
    fake.load_artifact = load_artifact
    monkeypatch.setitem(sys.modules, "molmtd.artifact", fake)
    out = tmp_path / "f.npy"
    summary = embed_file(smi_file, out, featurizer="my-featurizer", batch_size=32, chunk_size=3)
    assert seen["name"] == "my-featurizer"
    assert seen["kwargs"] == {"batch_size": 32, "readout": "auto", "precision": "fp32"}
    emb = np.load(out)
    assert emb.shape == (7, 3)
    assert np.isnan(emb[[1, 3]]).all()
    # chunks of 3: each row's value is its position inside its chunk
    assert emb[:, 0][[0, 2, 4, 5, 6]].tolist() == [0, 2, 1, 2, 0]
    assert summary["featurizer"] == "my-featurizer" and summary["invalid"] == 2
    assert [e["position"] for e in summary["invalid_examples"]] == [1, 3]


def test_real_artifact(smi_file, tmp_path):
    pytest.importorskip("torch_geometric")
    from molmtd.artifact import make_random_artifact

    art = make_random_artifact(tmp_path / "art", hidden_dim=8)
    out = tmp_path / "a.parquet"
    summary = embed_file(smi_file, out, featurizer=str(art))
    df = pd.read_parquet(out)
    assert df["ok"].tolist() == [i not in BAD for i in range(len(LINES))]
    emb = np.stack(df["embedding"].to_numpy())
    assert np.isfinite(emb[df["ok"]]).all() and np.isnan(emb[~df["ok"]]).all()
    np.testing.assert_allclose(emb[0], emb[4], rtol=1e-5)  # same molecule
    assert summary["dim"] == emb.shape[1]


def test_layers_readout_through_embed_file_and_the_cli(smi_file, tmp_path):
    from typer.testing import CliRunner

    from molmtd.artifact import load_artifact, make_random_artifact
    from molmtd.cli import app

    art = make_random_artifact(tmp_path / "art", hidden_dim=8, num_layers=3)
    summary = embed_file(smi_file, tmp_path / "l.npy", featurizer=str(art), readout="layers")
    layers = np.load(tmp_path / "l.npy")
    assert layers.shape == (len(LINES), 3 * 8) and summary["readout"] == "layers"
    expected = load_artifact(art, readout="layers").embed(["CCO"]).embeddings[0]
    np.testing.assert_allclose(layers[0], expected, rtol=1e-5, atol=1e-6)

    runner = CliRunner()
    result = runner.invoke(app, ["embed", str(smi_file), "-o", str(tmp_path / "c.npy"),
                                 "--featurizer", str(art), "--readout", "layers"])
    assert result.exit_code == 0, result.output
    np.testing.assert_allclose(np.load(tmp_path / "c.npy"), layers, equal_nan=True)
    assert json.loads(result.output)["readout"] == "layers"
    result = runner.invoke(app, ["embed", str(smi_file), "-o", str(tmp_path / "d.npy"),
                                 "--featurizer", str(art)])
    assert result.exit_code == 0 and np.load(tmp_path / "d.npy").shape == (len(LINES), 8)
    result = runner.invoke(app, ["embed", str(smi_file), "-o", str(tmp_path / "e.npy"),
                                 "--teacher", "maccs", "--readout", "layers"])
    assert result.exit_code == 2 and "applies to a distilled featurizer" in result.output
    result = runner.invoke(app, ["embed", str(smi_file), "-o", str(tmp_path / "e.npy"),
                                 "--featurizer", str(art), "--readout", "last"])
    assert result.exit_code == 2
    assert "readout must be one of embedding, layers, auto" in result.output


def test_auto_readout_follows_the_release_recommendation(smi_file, tmp_path):
    from typer.testing import CliRunner

    from molmtd.artifact import make_random_artifact
    from molmtd.cli import app

    art = make_random_artifact(tmp_path / "art", hidden_dim=8, num_layers=3)
    config = json.loads((art / "config.json").read_text())
    (art / "config.json").write_text(json.dumps({**config, "readout": "layers"}))
    summary = embed_file(smi_file, tmp_path / "a.npy", featurizer=str(art))
    assert summary["readout"] == "layers" and np.load(tmp_path / "a.npy").shape[1] == 24
    result = CliRunner().invoke(app, ["embed", str(smi_file), "-o", str(tmp_path / "b.npy"),
                                      "--featurizer", str(art), "--readout", "embedding"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["readout"] == "embedding"
    assert np.load(tmp_path / "b.npy").shape[1] == 8


@pytest.mark.parametrize("kwargs, match", [
    ({}, "exactly one"),
    ({"teacher": "ecfp", "featurizer": "x"}, "exactly one"),
])
def test_needs_exactly_one_source(smi_file, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        embed_file(smi_file, tmp_path / "o.npy", **kwargs)


def test_bad_output_format_and_teacher(smi_file, tmp_path):
    with pytest.raises(ValueError, match="use .npy or .parquet"):
        embed_file(smi_file, tmp_path / "o.csv", teacher="ecfp")
    with pytest.raises(TeacherSpecError, match="unknown teacher"):
        embed_file(smi_file, tmp_path / "o.npy", teacher="nope")
    with pytest.raises(FileNotFoundError):
        embed_file(tmp_path / "missing.smi", tmp_path / "o.npy", teacher="ecfp")
    assert not (tmp_path / "o.npy").exists()
