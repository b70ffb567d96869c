"""kill -9 during teacher embedding and again during training, then --resume (slow)."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow


def _start(recipe: Path, out: Path, resume: bool, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "molmtd.cli", "distill", str(recipe), "--out", str(out),
           "--no-progress"] + (["--resume"] if resume else [])
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def _wait_for(predicate, proc, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


def _done_shards(cache: Path) -> dict[Path, int]:
    files = {}
    for manifest in cache.glob("teachers/*/*/manifest.json"):
        try:
            shards = json.loads(manifest.read_text())["shards"]
        except (json.JSONDecodeError, KeyError):
            continue
        for shard in shards:
            path = manifest.parent / shard["emb_file"]
            files[path] = path.stat().st_mtime_ns
    return files


def test_kill_during_embedding_and_training_then_resume(tmp_path, moses_smiles):
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:500]) + "\n")
    cache = tmp_path / "cache"
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "killme", "teachers": ["maccs", "physchem"],
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "store": {"cache_dir": str(cache), "shard_size": 50, "n_jobs": 1},
        "student": {"num_layers": 2, "hidden_dim": 32},
        "objective": {"head_hidden_dim": 32, "mi_fit_molecules": 100},
        "training": {"batch_size": 16, "max_epochs": 30, "checkpoint_every_n_steps": 10,
                     "early_stopping_patience": None},
    }))
    out = tmp_path / "run"

    # 1. kill -9 while physchem shards are being written
    log1 = tmp_path / "log1.txt"
    proc = _start(recipe, out, False, log1)
    assert _wait_for(lambda: len(_done_shards(cache)) >= 13, proc), log1.read_text()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = _done_shards(cache)
    assert 13 <= len(finished) < 20, "kill came too late to interrupt embedding"

    # 2. resume, then kill -9 during training once a checkpoint exists
    last = out / "checkpoints" / "last.ckpt"
    proc = _start(recipe, out, True, tmp_path / "log2.txt")
    assert _wait_for(last.exists, proc), (tmp_path / "log2.txt").read_text()
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for path, mtime in finished.items():  # no finished shard was recomputed
        assert path.stat().st_mtime_ns == mtime
    import torch

    # Lightning counts two optimiser steps (student, heads) per batch
    step_killed = torch.load(last, weights_only=True, map_location="cpu")["global_step"] // 2
    assert not (out / "featurizer" / "config.json").exists()

    # 3. resume to the end: the step counter continues from the checkpoint
    proc = _start(recipe, out, True, tmp_path / "log3.txt")
    assert proc.wait(timeout=900) == 0, (tmp_path / "log3.txt").read_text()
    log3 = (tmp_path / "log3.txt").read_text()
    assert "Restored all states" in log3 or "Restoring states" in log3
    for path, mtime in finished.items():
        assert path.stat().st_mtime_ns == mtime
    final = json.loads((out / "featurizer" / "config.json").read_text())
    assert (out / "featurizer" / "model.safetensors").is_file()
    import pandas as pd

    steps = pd.read_csv(out / "logs" / "metrics.csv")["step"].dropna()
    assert steps.max() > step_killed
    assert final["global_step"] > 0
