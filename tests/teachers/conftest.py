"""Shared fixtures for the pretrained-teacher tests: 50 MOSES molecules with bad inputs mixed in."""

from __future__ import annotations

import numpy as np
import pytest

#: position in the mixed batch -> the bad input placed there
BAD = {3: "xyz", 17: "", 40: "C1CC"}


@pytest.fixture(scope="module")
def mixed(moses_smiles) -> list[str]:
    """The first 50 MOSES SMILES with the BAD inputs inserted at their positions (53 in all)."""
    smiles = list(moses_smiles[:50])
    for pos, bad in sorted(BAD.items()):
        smiles.insert(pos, bad)
    return smiles


@pytest.fixture(scope="session")
def valid_of():
    """Drop the BAD positions from a mixed batch."""
    return lambda mixed: [s for i, s in enumerate(mixed) if i not in BAD]


@pytest.fixture(scope="session")
def check_output():
    """Assert a teacher's output on the mixed batch: shape, dtype, mask and reasons, values."""

    def check(out, n, dim):
        assert out.embeddings.shape == (n, dim)
        assert out.embeddings.dtype == np.float32
        assert out.ok.dtype == bool
        assert sorted(np.flatnonzero(~out.ok)) == sorted(BAD)
        assert out.reasons == {3: "unparseable SMILES", 17: "empty input",
                               40: "unparseable SMILES"}
        assert np.isnan(out.embeddings[~out.ok]).all()
        assert np.isfinite(out.embeddings[out.ok]).all()
        assert np.std(out.embeddings[out.ok], axis=0).max() > 1e-4  # not a constant output

    return check
