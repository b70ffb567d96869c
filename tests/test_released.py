"""The featurizers shipped in featurizers/ load by name and embed like their own run did."""

from __future__ import annotations

import numpy as np

from molmtd.artifact import load_artifact, released_featurizers


def test_quickstart_is_released_and_embeds_deterministically():
    assert "quickstart" in released_featurizers()
    artifact = load_artifact("quickstart")
    smiles = ["CCO", "c1ccccc1O", "not_a_smiles", "CC(=O)[O-].[Na+]"]
    first, second = artifact.embed(smiles), artifact.embed(smiles)
    assert first.embeddings.shape == (4, artifact.dim) and first.embeddings.dtype == np.float32
    assert first.ok.tolist() == [True, True, False, True]
    assert np.isnan(first.embeddings[2]).all() and np.isfinite(first.embeddings[[0, 1, 3]]).all()
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    # the salt is standardised to its parent acid, so both embed identically
    np.testing.assert_allclose(first.embeddings[3], artifact.embed(["CC(=O)O"]).embeddings[0],
                               rtol=0, atol=1e-5)  # another batch: float summation order differs
    assert not np.allclose(first.embeddings[0], first.embeddings[1])
