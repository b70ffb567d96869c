"""Shared fixtures: small MOSES samples read from the bundled data file (no network)."""

from __future__ import annotations

import gzip
import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

# keep tests single-threaded and quiet: 2 cores are shared with other processes
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# tests never touch the user's cache (~/.cache/molmtd): every default cache goes here
os.environ["MOLMTD_CACHE_DIR"] = tempfile.mkdtemp(prefix="molmtd-test-cache-")


def moses_train_path() -> Path:
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("molsets is not installed (pip install --no-deps molsets==0.3.1)")
    return Path(spec.submodule_search_locations[0]) / "dataset" / "data" / "train.csv.gz"


@pytest.fixture(scope="session")
def moses_smiles() -> list[str]:
    """The first 500 MOSES training SMILES."""
    with gzip.open(moses_train_path(), "rt") as fh:
        next(fh)
        return [next(fh).strip() for _ in range(500)]


# Hypothesis: the default run tries a few cases per fuzzed entry; MOLMTD_FUZZ=full runs
# >= 1000 per entry (tests/test_fuzz.py reads FUZZ_EXAMPLES). No example database is
# written (the repository stays clean), and examples are derandomised in the default run
# so that it is reproducible.
try:
    from hypothesis import HealthCheck, settings

    FUZZ_FULL = os.environ.get("MOLMTD_FUZZ", "") == "full"
    # cases per cheap entry; MOLMTD_FUZZ_EXAMPLES=N overrides (e.g. a quicker partial run)
    FUZZ_EXAMPLES = int(os.environ.get("MOLMTD_FUZZ_EXAMPLES", 1000 if FUZZ_FULL else 10))
    _slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large,
                HealthCheck.function_scoped_fixture]
    settings.register_profile("molmtd-default", max_examples=10, deadline=None, database=None,
                              derandomize=True, suppress_health_check=_slow_ok,
                              print_blob=True)
    settings.register_profile("molmtd-full", max_examples=1000, deadline=None, database=None,
                              suppress_health_check=_slow_ok, print_blob=True)
    settings.load_profile("molmtd-full" if FUZZ_FULL else "molmtd-default")
except ImportError:  # hypothesis is a dev dependency; test_fuzz.py skips without it
    FUZZ_FULL, FUZZ_EXAMPLES = False, 0
