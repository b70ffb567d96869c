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


# Hypothesis profiles (tests/fuzz_profile.py): loaded here so that every test module runs
# under them; test_fuzz.py imports the case counts from that module, not from a conftest
# (tests/ has two conftest.py files, and "from conftest import" picks either).
import fuzz_profile  # noqa: E402,F401
