"""Data-parallel training on Lightning's own DDP: 2 CPU processes (gloo), a tiny recipe.

The run is started as a script in a subprocess, as a user would start it: Lightning's
DDP launcher re-executes that script for rank 1. The script records, per rank, every
training batch its sampler yields and every artifact write, so the test can check that
ranks see disjoint batches, that an interrupted run resumes where it stopped, and that
rank 0 alone writes the featurizer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from molmtd.artifact import load_artifact

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import json, os, sys
    from pathlib import Path

    import molmtd.artifact
    from molmtd.batching import ResumableBatchSampler
    from molmtd.distill import distill
    from molmtd.recipe import load_recipe

    recipe_path, out, resume = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "resume"
    log = out.parent / f"{out.name}-seen.jsonl"
    attempt = "resume" if resume else "first"
    iterate, save = ResumableBatchSampler.__iter__, molmtd.artifact.save_artifact

    def recorded(self):
        for batch in iterate(self):
            if self.shuffle:  # training batches only
                with open(log, "a") as fh:
                    fh.write(json.dumps({"rank": self.rank, "world": self.world_size,
                                         "epoch": self.epoch, "attempt": attempt,
                                         "batch": batch.tolist()}) + "\\n")
            yield batch

    def save_recorded(*args, **kwargs):
        with open(log, "a") as fh:
            fh.write(json.dumps({"artifact_written_by": int(os.environ.get("LOCAL_RANK", 0)),
                                 "attempt": attempt}) + "\\n")
        return save(*args, **kwargs)

    ResumableBatchSampler.__iter__ = recorded
    molmtd.artifact.save_artifact = save_recorded
    distill(load_recipe(recipe_path), out, resume=resume, progress=False)
''')


def _run(script: Path, recipe: Path, out: Path, mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), str(recipe), str(out), mode], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.slow
def test_ddp_two_cpu_processes_disjoint_batches_resume_and_one_writer(tmp_path, moses_smiles):
    import yaml

    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:300]) + "\n")
    recipe = {
        "name": "ddp", "seed": 0,
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "teachers": ["maccs"],
        "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1, "shard_size": 100},
        "student": {"num_layers": 2, "hidden_dim": 32},
        "objective": {"head_hidden_dim": 32, "mi_estimate": False},
        "training": {"batch_size": 16, "lr": 3e-3, "max_epochs": 3, "max_steps": 12,
                     "val_fraction": 0.2, "checkpoint_every_n_steps": 4, "scheduler": "none",
                     "early_stopping_patience": None, "log_every_n_steps": 1},
        "trainer": {"accelerator": "cpu", "devices": 2, "strategy": "ddp"},
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    script = tmp_path / "run_ddp.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    _run(script, path, out, "first")
    # continue the same run for more steps: the resumed attempt starts from last.ckpt
    recipe["training"]["max_steps"] = 20
    path.write_text(yaml.safe_dump(recipe))
    _run(script, path, out, "resume")

    records = [json.loads(line) for line in (tmp_path / "run-seen.jsonl").read_text().splitlines()]
    batches = [r for r in records if "batch" in r]
    assert {r["world"] for r in batches} == {2} and {r["rank"] for r in batches} == {0, 1}
    # 240 training molecules / 16 = 15 global batches -> 7 per rank per epoch
    for attempt in ("first", "resume"):
        for epoch in {r["epoch"] for r in batches if r["attempt"] == attempt}:
            ranks = [[m for r in batches if (r["attempt"], r["epoch"], r["rank"]) ==
                      (attempt, epoch, k) for m in r["batch"]] for k in (0, 1)]
            assert ranks[0] and ranks[1] and not set(ranks[0]) & set(ranks[1])
    # first attempt: 12 steps = epoch 0 (7 batches) + 5 of epoch 1, checkpoint at step 12
    # (Lightning may have fetched a 6th batch ahead, untrained); the resumed attempt
    # continues epoch 1 at its 6th batch: each batch of the epoch trained exactly once
    for rank in (0, 1):
        def epoch1(attempt, rank=rank):
            return [tuple(r["batch"]) for r in batches
                    if (r["rank"], r["epoch"], r["attempt"]) == (rank, 1, attempt)]
        trained = epoch1("first")[:5] + epoch1("resume")
        assert len(trained) == len(set(trained)) == 7, (rank, trained)
    resumed = [r for r in batches if r["attempt"] == "resume"]
    assert min(r["epoch"] for r in resumed) == 1

    writers = [r for r in records if "artifact_written_by" in r]
    assert [(w["artifact_written_by"], w["attempt"]) for w in writers] == [(0, "first"),
                                                                          (0, "resume")]
    assert load_artifact(out / "featurizer").embed(["CCO", "c1ccccc1O"]).ok.all()
    metrics = pd.read_csv(out / "logs" / "metrics.csv")
    loss = metrics["train/loss"].dropna().to_numpy()
    assert len(loss) >= 15 and loss[-5:].mean() < loss[:5].mean()
