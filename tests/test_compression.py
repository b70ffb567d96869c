"""molmtd.compression: the PCA of the layer readout, folded into the projection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from molmtd.artifact import Artifact, make_random_artifact, save_artifact
from molmtd.compression import compress_layer_readout
from molmtd.errors import ArtifactError
from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
from molmtd.molecules import STANDARDIZE_DEFAULTS
from molmtd.student import GNNStudent


@pytest.fixture(scope="module")
def jkcat_artifact(tmp_path_factory):
    """A small untrained 3x16 student that pools every layer (48-d layer readout)."""
    torch.manual_seed(0)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=3, hidden_dim=16,
                         out_dim=24, jk="cat")
    return save_artifact(tmp_path_factory.mktemp("src") / "jkcat", student,
                         standardize=dict(STANDARDIZE_DEFAULTS),
                         extra={"name": "jkcat", "teachers": ["ecfp"]},
                         card="# jkcat\n\nA test student.\n")


def _pca_of_z_scores(artifact: Artifact, fit: list[str], new: list[str], dim: int) -> np.ndarray:
    """What compression should give for ``new``: scikit-learn's PCA of the z-scored readout."""
    from sklearn.decomposition import PCA

    X = artifact.embed(fit).embeddings.astype(np.float64)
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-12] = 1.0
    pca = PCA(n_components=dim, random_state=0).fit((X - mean) / scale)
    return pca.transform((artifact.embed(new).embeddings - mean) / scale)


def test_embedding_is_the_pca_of_the_z_scored_layer_readout(jkcat_artifact, moses_smiles,
                                                              tmp_path):
    fit, new = moses_smiles[:300], moses_smiles[300:360]
    target = compress_layer_readout(jkcat_artifact, tmp_path / "pca", fit, dim=10)

    source = Artifact(jkcat_artifact, readout="layers")
    expected = _pca_of_z_scores(source, fit, new, 10)

    compressed = Artifact(target)  # "auto": the config recommends the embedding
    assert compressed.readout == "embedding" and compressed.dim == 10
    got = compressed.embed(new).embeddings
    assert got.shape == (60, 10)
    np.testing.assert_allclose(got, expected, atol=2e-4)
    # components are uncorrelated on the fit molecules, in decreasing variance
    var = compressed.embed(fit).embeddings.var(0)
    assert np.all(np.diff(var) <= 1e-4)
    # the layer readout is the source's: only the projection was replaced
    compressed.readout = "layers"
    np.testing.assert_allclose(compressed.embed(new).embeddings, source.embed(new).embeddings,
                               atol=1e-6)


def test_a_student_without_projection_compresses_its_pooled_embedding(moses_smiles, tmp_path):
    """mean+sum pooling: the layer readout (mean only) would drop the sum, so the PCA is of
    the pooled embedding itself."""
    torch.manual_seed(1)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=2, hidden_dim=8,
                         jk="cat", pooling="mean+sum", projection=False)
    assert student.out_dim == 32  # 2 layers x 8, twice
    source = save_artifact(tmp_path / "meansum", student, standardize=dict(STANDARDIZE_DEFAULTS),
                           extra={"name": "meansum", "readout": "embedding"})
    fit, new = moses_smiles[:200], moses_smiles[200:240]
    target = compress_layer_readout(source, tmp_path / "pca", fit, dim=12)

    expected = _pca_of_z_scores(Artifact(source, readout="embedding"), fit, new, 12)
    np.testing.assert_allclose(Artifact(target).embed(new).embeddings, expected, atol=2e-4)
    config = json.loads((target / "config.json").read_text())
    assert config["compression"]["of"] == "embedding"
    assert "z-scored 32-d pooled embedding" in (target / "card.md").read_text()
    with pytest.raises(ValueError, match=r"\[1, 32\] \(the pooled embedding's width\)"):
        compress_layer_readout(source, tmp_path / "wide", fit, dim=33)


def test_config_records_the_fit_and_keeps_metadata(jkcat_artifact, moses_smiles, tmp_path):
    smiles = moses_smiles[:100] + ["not a smiles", ""]
    target = compress_layer_readout(jkcat_artifact, tmp_path / "small", smiles, dim=5)
    config = json.loads((target / "config.json").read_text())
    record = config["compression"]
    assert record["method"] == "pca" and record["dim"] == 5 and record["of"] == "layers"
    assert record["n_molecules"] == 100  # the two invalid inputs were skipped
    assert 0 < record["explained_variance"] <= 1
    assert config["name"] == "jkcat-pca5" and config["teachers"] == ["ecfp"]
    named = compress_layer_readout(jkcat_artifact, tmp_path / "named" / "featurizer",
                                   smiles, dim=5, name="jk5")
    assert json.loads((named / "config.json").read_text())["name"] == "jk5"
    assert config["student"]["out_dim"] == 5 and config["embedding_dim"] == 5
    card = (target / "card.md").read_text()
    assert card.startswith("# jkcat") and "## Compressed embedding" in card
    assert "top 5 principal components of the z-scored 48-d layer readout" in card


def test_refuses_bad_arguments(jkcat_artifact, moses_smiles, tmp_path):
    with pytest.raises(ValueError, match=r"dim must be an int in \[1, 48\]"):
        compress_layer_readout(jkcat_artifact, tmp_path / "a", moses_smiles[:100], dim=49)
    with pytest.raises(ValueError, match="at least dim=20"):
        compress_layer_readout(jkcat_artifact, tmp_path / "b", moses_smiles[:10], dim=20)
    with pytest.raises(ValueError, match="is the source featurizer"):
        compress_layer_readout(jkcat_artifact, jkcat_artifact, moses_smiles[:100], dim=4)
    last = make_random_artifact(tmp_path / "last")  # jk="last": embedding != f(all layers)
    with pytest.raises(ArtifactError, match="jk='last'"):
        compress_layer_readout(last, tmp_path / "c", moses_smiles[:100], dim=4)
