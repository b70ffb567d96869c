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


# -- randomised interrupt trials -----------------------------------------------------------
_STORE_SCRIPT = """
import sys, time
import numpy as np
from molmtd.store import EmbeddingStore
from molmtd.teachers.base import Teacher, TeacherOutput

class Slow(Teacher):
    name, family = "slowtest", "test"
    def __init__(self):
        pass
    @property
    def dim(self):
        return 64
    def embed(self, smiles):
        time.sleep(0.01 * len(smiles))
        emb = np.stack([np.full(64, float(s.split("_")[1]), np.float32) for s in smiles])
        return TeacherOutput(emb, np.ones(len(smiles), bool), {})

keys = [f"m_{i}" for i in range(int(sys.argv[2]))]
print("start", flush=True)
EmbeddingStore.build(Slow(), keys, sys.argv[1], shard_size=7, batch_size=3, progress=False)
print("done", flush=True)
"""


def _check_store_after_interrupt(directory: Path) -> None:
    """What an interrupted build leaves: a readable manifest naming only intact shards."""
    from molmtd.store import EmbeddingStore

    if not (directory / "manifest.json").exists():
        return
    store = EmbeddingStore(directory)  # parses: the manifest is never half-written
    store.verify()  # every listed shard is whole and matches its checksum
    if store.manifest["dim"] is not None:
        assert len(store.keys) == len(store)


def test_random_sigterm_and_sigkill_during_store_writing_always_resume(tmp_path):
    import random

    import numpy as np

    from molmtd.store import EmbeddingStore

    rng = random.Random(11)
    n, trials, kinds = 140, 0, {"SIGTERM": 0, "SIGKILL": 0}
    directory = tmp_path / "store"
    for trial in range(12):
        sig = signal.SIGTERM if trial % 2 == 0 else signal.SIGKILL
        proc = subprocess.Popen([sys.executable, "-c", _STORE_SCRIPT, str(directory), str(n)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "start", proc.stderr.read()
        time.sleep(rng.uniform(0.0, 0.25))  # a random point of the build
        proc.send_signal(sig)
        proc.wait(timeout=60)
        trials += 1
        kinds[signal.Signals(sig).name] += 1
        _check_store_after_interrupt(directory)
    # then resume to the end: nothing lost, nothing half-written, values right
    proc = subprocess.run([sys.executable, "-c", _STORE_SCRIPT, str(directory), str(n)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    store = EmbeddingStore(directory)
    assert store.is_complete
    store.verify()
    rows, ok = store.rows(np.arange(n))
    assert ok.all()
    np.testing.assert_array_equal(rows[:, 0], np.arange(n, dtype=np.float32))
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert trials == 12 and kinds == {"SIGTERM": 6, "SIGKILL": 6}


def test_random_sigterm_and_sigkill_during_training_always_resume(tmp_path, moses_smiles):
    import random

    import torch

    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:300]) + "\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "killtrain", "teachers": ["maccs", "ecfp-count:radius=2,size=256"],
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "store": {"cache_dir": str(tmp_path / "cache"), "shard_size": 50, "n_jobs": 1},
        "student": {"num_layers": 2, "hidden_dim": 32},
        "objective": {"head_hidden_dim": 32, "mi_fit_molecules": 100},
        "training": {"batch_size": 16, "max_epochs": 400, "checkpoint_every_n_steps": 5,
                     "early_stopping_patience": None},
    }))
    out = tmp_path / "run"
    last = out / "checkpoints" / "last.ckpt"
    subprocess.run([sys.executable, "-m", "molmtd.cli", "distill", str(recipe), "--out",
                    str(out), "--prepare-only", "--no-progress"], check=True,
                   capture_output=True, timeout=600)  # caches first: trials hit training
    rng = random.Random(5)
    trials, steps = 0, []
    for trial in range(10):
        log = tmp_path / f"train{trial}.txt"
        before = last.stat().st_mtime_ns if last.exists() else None
        proc = _start(recipe, out, True, log)
        # wait until this attempt is training (it wrote a checkpoint), then a random delay
        if not _wait_for(lambda b=before: last.exists() and last.stat().st_mtime_ns != b, proc,
                         timeout=300):
            break  # finished (or failed: checked below) before a checkpoint was due
        time.sleep(rng.uniform(0.5, 4.0))
        if proc.poll() is not None:
            break
        sig = signal.SIGTERM if trial % 2 == 0 else signal.SIGKILL
        proc.send_signal(sig)
        code = proc.wait(timeout=120)
        if code == 0 and (out / "featurizer" / "config.json").exists():
            break  # it finished just before the signal landed
        if sig == signal.SIGTERM:  # stops at the next batch, says so, and fails
            text = log.read_text()
            assert code == -signal.SIGTERM or (  # outside Lightning: the default action
                code != 0 and "stopped by SIGTERM" in text and "--resume" in text), text[-2000:]
        else:
            assert code == -signal.SIGKILL
        trials += 1
        ckpt = torch.load(last, map_location="cpu", weights_only=True)  # never half-written
        steps.append(int(ckpt["global_step"]))
        assert not (out / "featurizer" / "config.json").exists()
    assert trials >= 10, f"only {trials} interrupts landed in training"
    assert steps == sorted(steps)  # each resume continued, never restarted
    proc = _start(recipe, out, True, tmp_path / "final.txt")
    assert proc.wait(timeout=900) == 0, (tmp_path / "final.txt").read_text()
    assert (out / "featurizer" / "model.safetensors").is_file()
    final = json.loads((out / "featurizer" / "config.json").read_text())
    assert final["global_step"] > steps[-1] // 2
