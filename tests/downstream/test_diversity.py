from __future__ import annotations

import numpy as np
import pytest

from molmtd.downstream.clustering import ecfp_fingerprints
from molmtd.downstream.diversity import maxmin_pick


def test_picks_spread_over_distant_groups_and_are_seeded():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=float)
    group = np.repeat(np.arange(4), 25)
    X = centers[group] + rng.normal(size=(100, 2))
    picks = maxmin_pick(4, X, seed=3)
    assert len(picks) == 4 and sorted(group[picks]) == [0, 1, 2, 3]
    np.testing.assert_array_equal(picks, maxmin_pick(4, X, seed=3))
    forced = maxmin_pick(3, X, seed=0, first_picks=[7])
    assert forced[0] == 7 and len(set(group[forced])) == 3


def test_fingerprint_picking():
    smiles = ["CCCCCCO", "CCCCCCCO", "CCCCCCCCO", "c1ccc2ccccc2c1", "c1ccc2ccccc2c1C",
              "O=C(O)C(N)CS"]
    picks = maxmin_pick(3, fingerprints=ecfp_fingerprints(smiles), seed=0)
    assert len(set(picks)) == 3
    families = [0, 0, 0, 1, 1, 2]
    assert len({families[i] for i in picks}) == 3


def test_errors():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="exactly one of"):
        maxmin_pick(2)
    with pytest.raises(ValueError, match="between 1 and the pool size 5"):
        maxmin_pick(6, X)
    with pytest.raises(ValueError, match="NaN"):
        maxmin_pick(2, np.full((5, 2), np.nan))
