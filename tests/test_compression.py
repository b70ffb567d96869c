"""molmtd.compression: the PCA of the layer readout, folded into the projection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from molmtd.artifact import Artifact, make_random_artifact, save_artifact
from molmtd.compression import compress_layer_readout, compress_towards_teachers
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


def test_towards_teachers_keeps_the_subspace_that_predicts_them(jkcat_artifact, moses_smiles,
                                                                tmp_path):
    fit, new = moses_smiles[:300], moses_smiles[300:360]
    readout = Artifact(jkcat_artifact, readout="layers")
    rng = np.random.default_rng(0)
    maps = {"a": rng.normal(size=(48, 5)), "b": rng.normal(size=(48, 40))}
    X_fit, X_new = (readout.embed(s).embeddings.astype(np.float64) for s in (fit, new))
    teachers = {k: X_fit @ m for k, m in maps.items()}
    teachers["a"][7] = np.nan  # a teacher failure: that molecule leaves the fit
    target = compress_towards_teachers(jkcat_artifact, tmp_path / "t", fit, teachers, dim=8,
                                       alphas=(1e-3,))
    record = json.loads((target / "config.json").read_text())["compression"]
    assert record["method"].startswith("teachers") and record["of"] == "layers"
    assert record["n_molecules"] == 299 and record["teachers"] == ["a", "b"]
    assert record["r2_full_rank"] > 0.99  # the teachers are linear maps of the readout
    compressed = Artifact(target)
    assert compressed.dim == 8 and compressed.config["name"] == "jkcat-teachers8"
    Z = compressed.embed(new).embeddings.astype(np.float64)
    # teacher "a" (5-d, its block weighted like b's 40 dims) lies in the kept subspace:
    # on new molecules a linear map of the 8-d embedding predicts it almost exactly
    from sklearn.linear_model import LinearRegression
    Z_fit = compressed.embed(fit).embeddings.astype(np.float64)
    a_fit = X_fit @ maps["a"]
    r2 = LinearRegression().fit(Z_fit, a_fit).score(Z, X_new @ maps["a"])
    assert r2 > 0.95
    # the PCA of the same readout, at the same width, does not keep it as well
    pca = Artifact(compress_layer_readout(jkcat_artifact, tmp_path / "p", fit, dim=8))
    P_fit, P_new = (pca.embed(s).embeddings.astype(np.float64) for s in (fit, new))
    assert LinearRegression().fit(P_fit, a_fit).score(P_new, X_new @ maps["a"]) < r2
    # components are uncorrelated on the fit molecules, in decreasing order
    var = Z_fit.var(0)
    assert np.all(np.diff(var) <= 1e-6 * var[0])


def test_k_teacher_directions_completed_by_the_pca_of_the_rest(jkcat_artifact, moses_smiles,
                                                               tmp_path):
    fit, new = moses_smiles[:300], moses_smiles[300:360]
    readout = Artifact(jkcat_artifact, readout="layers")
    X_fit = readout.embed(fit).embeddings.astype(np.float64)
    teachers = {"a": X_fit @ np.random.default_rng(1).normal(size=(48, 6))}
    full = Artifact(compress_towards_teachers(jkcat_artifact, tmp_path / "full", fit, teachers,
                                              dim=8, alphas=(1e-3,)))
    mixed_dir = compress_towards_teachers(jkcat_artifact, tmp_path / "mixed", fit, teachers,
                                          dim=8, alphas=(1e-3,), teacher_directions=3)
    mixed = Artifact(mixed_dir)
    assert mixed.dim == 8 and mixed.config["name"] == "jkcat-teachers3pca8"
    assert mixed.config["compression"]["teacher_directions"] == 3
    Z_full, Z_mixed = (a.embed(new).embeddings.astype(np.float64) for a in (full, mixed))
    # the first three components are the all-teacher compression's first three
    np.testing.assert_allclose(Z_mixed[:, :3], Z_full[:, :3], rtol=1e-3, atol=1e-3)
    # the other five are the top principal directions of the readout outside those three:
    # uncorrelated with them on the fit molecules, in decreasing variance
    M_fit = mixed.embed(fit).embeddings.astype(np.float64)
    M_fit -= M_fit.mean(0)
    cross = M_fit[:, :3].T @ M_fit[:, 3:] / len(M_fit)
    assert np.abs(cross).max() < 1e-3 * M_fit.var(0).max()
    assert np.all(np.diff(M_fit[:, 3:].var(0)) <= 1e-6 * M_fit[:, 3].var())
    # k = 0 is the plain PCA of the z-scored readout
    pca0 = Artifact(compress_towards_teachers(jkcat_artifact, tmp_path / "k0", fit, teachers,
                                              dim=8, teacher_directions=0))
    expected = _pca_of_z_scores(readout, fit, new, 8)
    got = pca0.embed(new).embeddings
    np.testing.assert_allclose(np.abs(got), np.abs(expected), atol=2e-4)  # up to signs
    with pytest.raises(ValueError, match=r"teacher_directions must be an int in \[0, dim=8\]"):
        compress_towards_teachers(jkcat_artifact, tmp_path / "bad", fit, teachers, dim=8,
                                  teacher_directions=9)


def test_towards_teachers_refuses_misaligned_teachers(jkcat_artifact, moses_smiles, tmp_path):
    smiles = moses_smiles[:100]
    with pytest.raises(ValueError, match="at least one teacher"):
        compress_towards_teachers(jkcat_artifact, tmp_path / "a", smiles, {}, dim=4)
    with pytest.raises(ValueError, match=r"teacher 'x'.*one row per molecule \(100\)"):
        compress_towards_teachers(jkcat_artifact, tmp_path / "b", smiles,
                                  {"x": np.zeros((99, 3))}, dim=4)


def test_a_compressed_mean_sum_student_compresses_again(moses_smiles, tmp_path):
    """molmtd-base's shape (jk=cat, mean+sum, a PCA projection): its projection maps the
    pooled readout, which its "layers" readout returns, so it can be replaced again."""
    torch.manual_seed(2)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=2, hidden_dim=8,
                         jk="cat", pooling="mean+sum", out_dim=6)
    source = save_artifact(tmp_path / "ms", student, standardize=dict(STANDARDIZE_DEFAULTS),
                           extra={"name": "ms"})
    target = compress_layer_readout(source, tmp_path / "again", moses_smiles[:200], dim=10)
    config = json.loads((target / "config.json").read_text())
    assert config["compression"]["of"] == "layers" and config["student"]["out_dim"] == 10
    expected = _pca_of_z_scores(Artifact(source, readout="layers"), moses_smiles[:200],
                                moses_smiles[200:230], 10)
    np.testing.assert_allclose(Artifact(target).embed(moses_smiles[200:230]).embeddings,
                               expected, atol=2e-4)
