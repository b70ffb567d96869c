"""Two `molmtd distill` processes on one fresh cache directory (issue 11): both succeed."""

import json
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.slow


def test_two_distill_processes_share_one_cache_dir(tmp_path, moses_smiles):
    from molmtd.graphs import GraphStore
    from molmtd.store import EmbeddingStore

    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:400]) + "\n")
    cache = tmp_path / "cache"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "shared", "teachers": ["ecfp-count:radius=2,size=256", "maccs"],
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "store": {"cache_dir": str(cache), "shard_size": 50, "n_jobs": 1},
        "student": {"num_layers": 1, "hidden_dim": 16},
        "objective": {"head_hidden_dim": 16, "mi_fit_molecules": 100},
        "training": {"batch_size": 32, "max_epochs": 1, "early_stopping_patience": None},
    }))
    procs = [subprocess.Popen([sys.executable, "-m", "molmtd.cli", "distill", str(recipe),
                               "--out", str(tmp_path / f"run{i}"), "--no-progress"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[-3000:] for o in outs]
    for i in range(2):
        assert json.loads((tmp_path / f"run{i}" / "featurizer" / "config.json").read_text())
    manifests = list(cache.glob("teachers/*/*/manifest.json"))
    assert len(manifests) == 2
    for m in manifests:
        store = EmbeddingStore(m.parent)
        assert store.is_complete
        store.verify()
    (graphs,) = cache.glob("graphs/*")
    assert len(GraphStore(graphs)) == 400
    leftovers = [p for p in cache.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
