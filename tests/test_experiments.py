"""experiments/ablate.py: variant parsing (fast) and a tiny two-variant run (slow)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location("ablate", ROOT / "experiments" / "ablate.py")
ablate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablate)


def test_parse_variant():
    assert ablate.parse_variant("base:") == ("base", [])
    assert ablate.parse_variant("l2:objective.name=l2; training.lr=1e-3") == (
        "l2", ["objective.name=l2", "training.lr=1e-3"])
    with pytest.raises(SystemExit, match="plain NAME"):
        ablate.parse_variant(":objective.name=l2")


@pytest.mark.slow
def test_two_variants_train_once_and_are_ranked_together(tmp_path):
    cmd = [sys.executable, str(ROOT / "experiments" / "ablate.py"),
           str(ROOT / "recipes" / "quickstart.yaml"), "--variant", "g:",
           "--variant", "l2:objective.name=l2", "--set", "corpus.max_molecules=300",
           "--set", "training.max_epochs=1", "--set", "teachers=[maccs]",
           "--set", f"store.cache_dir={tmp_path / 'cache'}", "--against", "maccs",
           "--datasets", "freesolv", "--seeds", "1", "--max-molecules", "150",
           "--out", str(tmp_path / "abl")]
    subprocess.run(cmd, check=True, cwd=ROOT)
    ranks = pd.read_csv(tmp_path / "abl" / "report" / "average_ranks.csv")
    assert set(ranks["featurizer"]) == {"molmtd:g", "molmtd:l2", "maccs", "ecfp"}
    model_file = tmp_path / "abl" / "g" / "featurizer" / "model.safetensors"
    weights = model_file.stat().st_mtime_ns
    subprocess.run(cmd + ["--train-only"], check=True, cwd=ROOT)  # finished: not retrained
    assert model_file.stat().st_mtime_ns == weights
