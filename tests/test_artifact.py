"""Artifact loading is safe (no pickle ever runs) and tolerant or explicit on version skew."""

from __future__ import annotations

import errno
import json
import os
import pickle

import numpy as np
import pytest

from molmtd import __version__
from molmtd.artifact import find_artifact, load_artifact, make_random_artifact
from molmtd.errors import ArtifactError, DiskFullError

SMILES = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1"]


class _Payload:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def artifact(tmp_path):
    return make_random_artifact(tmp_path / "feat", seed=1)


def _edit_config(directory, edit):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_pickle_in_place_of_weights_is_refused_and_never_runs(artifact, tmp_path, how):
    marker = tmp_path / "pwned"
    weights = artifact / "model.safetensors"
    if how == "pickle":
        weights.write_bytes(pickle.dumps(_Payload(str(marker))))
    else:
        import torch

        torch.save({"student": _Payload(str(marker))}, weights)
    with pytest.raises(ArtifactError, match="not a valid safetensors file.*never unpickles"):
        load_artifact(artifact)
    from molmtd import MTDFeaturizer

    with pytest.raises(ArtifactError, match="never unpickles"):
        MTDFeaturizer(str(artifact)).fit(SMILES).transform(SMILES)
    assert not marker.exists()
    if how == "pickle":  # the payload is real: unpickling it creates the file
        pickle.loads(weights.read_bytes())
        assert marker.exists()


def test_only_safetensors_are_read_other_weight_files_ignored(artifact, tmp_path):
    marker = tmp_path / "pwned"
    (artifact / "model.safetensors").unlink()
    (artifact / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ArtifactError, match="model.safetensors is missing.*only from "
                                            "safetensors"):
        load_artifact(artifact)
    assert not marker.exists()


def test_other_molmtd_version_same_format_loads_with_same_output(artifact, caplog):
    before = load_artifact(artifact).embed(SMILES)
    _edit_config(artifact, lambda c: c.update(molmtd_version="0.0.9",
                                              trained_by="a future release"))
    with caplog.at_level("WARNING", logger="molmtd.artifact"):
        after = load_artifact(artifact).embed(SMILES)
    assert "ignoring config field(s) trained_by" in caplog.text and "0.0.9" in caplog.text
    np.testing.assert_array_equal(before.ok, after.ok)
    np.testing.assert_array_equal(before.embeddings, after.embeddings)


@pytest.mark.parametrize("edit, field", [
    (lambda c: c["student"].update(gated_readout=True), "gated_readout"),
    (lambda c: c["standardize"].update(tautomer_canon=True), "standardize.tautomer_canon"),
    (lambda c: c["graph_features"].update(ring_sizes=[3, 4]), "graph_features.ring_sizes"),
])
def test_unknown_output_field_fails_naming_both_versions_and_field(artifact, edit, field):
    _edit_config(artifact, lambda c: (c.update(molmtd_version="0.7.0"), edit(c)))
    with pytest.raises(ArtifactError) as info:
        load_artifact(artifact)
    message = str(info.value)
    assert field in message
    assert "molmtd 0.7.0" in message and f"this is molmtd {__version__}" in message


def test_other_format_version_fails_naming_both_versions(artifact):
    _edit_config(artifact, lambda c: c.update(format_version=2, molmtd_version="0.9.0"))
    with pytest.raises(ArtifactError, match=r"format_version 2 is not supported \(this molmtd "
                                            rf"reads 1\).*molmtd 0.9.0, this is molmtd "
                                            rf"{__version__}"):
        load_artifact(artifact)
    (artifact / "config.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="config.json is unreadable"):
        load_artifact(artifact)


def test_disk_full_while_saving_leaves_no_artifact_that_looks_complete(tmp_path, monkeypatch):
    import safetensors.torch

    def full(state, path, *a, **kw):
        with open(path, "wb") as fh:
            fh.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    # an earlier artifact in the same folder must not survive as a mix of old and new
    directory = make_random_artifact(tmp_path / "feat")
    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(DiskFullError, match="no space left on the device while writing "
                                            ".*model.safetensors"):
        make_random_artifact(directory)
    assert not (directory / "config.json").exists()
    assert [p.name for p in directory.iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(FileNotFoundError):
        find_artifact(directory)


def test_every_metadata_field_the_writer_may_write_loads_without_a_warning(tmp_path, caplog):
    import torch

    from molmtd.artifact import METADATA_FIELDS, save_artifact
    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
    from molmtd.molecules import STANDARDIZE_DEFAULTS
    from molmtd.student import GNNStudent

    torch.manual_seed(0)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=1, hidden_dim=8)
    extra = {field: "x" for field in METADATA_FIELDS} | {"readout": "embedding"}
    directory = save_artifact(tmp_path / "all", student, standardize=dict(STANDARDIZE_DEFAULTS),
                              extra=extra)
    with caplog.at_level("WARNING", logger="molmtd"):
        load_artifact(directory)
    assert caplog.records == []
    assert set(json.loads((directory / "config.json").read_text())) >= METADATA_FIELDS


def test_save_artifact_refuses_a_field_the_reader_does_not_know(tmp_path):
    import torch

    from molmtd.artifact import save_artifact
    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
    from molmtd.molecules import STANDARDIZE_DEFAULTS
    from molmtd.student import GNNStudent

    torch.manual_seed(0)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=1, hidden_dim=8)
    with pytest.raises(ValueError, match="trained_by.*METADATA_FIELDS"):
        save_artifact(tmp_path / "bad", student, standardize=dict(STANDARDIZE_DEFAULTS),
                      extra={"name": "bad", "trained_by": "someone"})
    assert not (tmp_path / "bad" / "config.json").exists()
