"""Several builders of one EmbeddingStore divide its shards through per-shard claims."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from molmtd.claims import claim_path, is_held, try_claim
from molmtd.store import EmbeddingStore

WORKER = Path(__file__).with_name("_store_worker.py")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
KEYS = [f"{'C' * (1 + i // 10)}{'O' * (1 + i % 10)}" for i in range(120)]  # all distinct


@pytest.fixture()
def keys_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("".join(k + "\n" for k in KEYS))
    return path


def _builder(directory, keys_file, log, delay, shard_size=10):
    return subprocess.Popen([sys.executable, str(WORKER), str(directory), str(keys_file),
                             str(log), str(delay), str(shard_size)], env=ENV)


def _alone(tmp_path, keys_file) -> Path:
    """The same store built by one builder, in this process."""
    sys.path.insert(0, str(WORKER.parent))
    try:
        from _store_worker import RecordingTeacher
    finally:
        sys.path.remove(str(WORKER.parent))
    directory = tmp_path / "alone"
    EmbeddingStore.build(RecordingTeacher(str(tmp_path / "alone.log"), 0), KEYS, directory,
                         shard_size=10, progress=False)
    return directory


def _who(log: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in log.read_text().splitlines():
        pid, key = line.split(" ")[:2]
        out.setdefault(pid, []).append(key)
    return out


def _content(directory: Path) -> list[tuple]:
    """What a store holds: every shard's rows, files and checksums (not build times)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    return [(e["index"], e["start"], e["stop"], e["emb_sha256"], e["ok_sha256"], e["n_ok"])
            for e in manifest["shards"]] + [(manifest["keys_sha256"], manifest["dim"])]


def test_two_builders_divide_the_shards_and_build_the_same_store(tmp_path, keys_file):
    alone = _alone(tmp_path, keys_file)
    together, log = tmp_path / "together", tmp_path / "together.log"
    procs = [_builder(together, keys_file, log, 0.15) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    who = _who(log)
    assert len(who) == 2  # both worked
    a, b = who.values()
    assert not set(a) & set(b)  # never the same key (so never the same shard) twice
    assert sorted(a + b) == sorted(KEYS)  # and together every key exactly once
    for keys in (a, b):  # whole shards: a builder's keys are unions of 10-key shards
        assert all(KEYS[(KEYS.index(k) // 10) * 10] in keys for k in keys)
    assert _content(together) == _content(alone)
    EmbeddingStore(together).verify()
    assert not list(together.glob("*.claim")) and not list(together.glob("*.tmp"))


def test_a_killed_builders_claim_is_taken_over(tmp_path, keys_file):
    directory, log = tmp_path / "s", tmp_path / "b.log"
    proc = _builder(directory, keys_file, log, 1.0)  # one call per shard: 1 s each
    deadline = time.time() + 60
    while time.time() < deadline and not list(directory.glob("*.claim")):
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    claims = list(directory.glob("*.claim"))
    assert len(claims) == 1  # the dead builder's claim is left behind
    subprocess.run([sys.executable, str(WORKER), str(directory), str(keys_file),
                    str(tmp_path / "c.log"), "0", "10"], env=ENV, check=True, timeout=120)
    alone = _alone(tmp_path, keys_file)
    assert _content(directory) == _content(alone) and not list(directory.glob("*.claim"))


def test_claims_live_stale_and_foreign(tmp_path):
    claim = try_claim(tmp_path, 3, stale_after=60)
    assert claim is not None and is_held(tmp_path, 3)
    assert try_claim(tmp_path, 3, stale_after=60) is None  # held by a live claim
    claim.release()
    assert not claim_path(tmp_path, 3).exists()
    # a dead process on this host: taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    path = claim_path(tmp_path, 4)
    path.write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout),
                                "token": "x"}))
    assert not is_held(tmp_path, 4)
    taken = try_claim(tmp_path, 4, stale_after=60)
    assert taken is not None and json.loads(path.read_text())["pid"] == os.getpid()
    taken.release()
    # another host: held while its heartbeat is fresh, taken over once it is stale
    path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "y"}))
    assert try_claim(tmp_path, 4, stale_after=60) is None
    old = time.time() - 120
    os.utime(path, (old, old))
    taken = try_claim(tmp_path, 4, stale_after=60)
    assert taken is not None
    taken.release()


def test_heartbeat_keeps_a_claim_fresh(tmp_path):
    claim = try_claim(tmp_path, 0, stale_after=0.5)  # heartbeat every 0.05 s
    path = claim_path(tmp_path, 0)
    old = time.time() - 100
    os.utime(path, (old, old))
    time.sleep(0.3)
    assert time.time() - path.stat().st_mtime < 1
    claim.release()


def test_a_held_shard_is_skipped_with_shards_and_built_once_free(tmp_path):
    from molmtd.teachers import get_teacher

    teacher = get_teacher("ecfp:size=32")
    path = claim_path(tmp_path, 1)
    tmp_path.mkdir(exist_ok=True)
    path.write_text(json.dumps({"host": "elsewhere", "pid": 1, "token": "z"}))
    store = EmbeddingStore.build(teacher, KEYS[:30], tmp_path, shard_size=10, progress=False,
                                 shards=[0, 1, 2])
    assert sorted(store._shards) == [0, 2] and not store.is_complete  # 1 is held elsewhere
    path.unlink()
    store = EmbeddingStore.build(teacher, KEYS[:30], tmp_path, shard_size=10, progress=False)
    assert store.is_complete
    ref, _ = EmbeddingStore.build(teacher, KEYS[:30], tmp_path / "ref", shard_size=10,
                                  progress=False).rows(np.arange(30))
    np.testing.assert_array_equal(store.rows(np.arange(30))[0], ref)
    with pytest.raises(ValueError, match=r"0\.\.2. Got shard 3 out of range"):
        EmbeddingStore.build(teacher, KEYS[:30], tmp_path, shard_size=10, shards=[3])


@pytest.mark.slow  # two CLI processes importing Lightning: ~30 s on the shared 2-core machine
def test_distill_prepare_only_teachers_started_twice_builds_one_store(tmp_path):
    import yaml

    corpus = tmp_path / "corpus.smi"
    corpus.write_text("".join(k + "\n" for k in KEYS))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "coop", "teachers": ["maccs", "ecfp:size=64"],
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "store": {"cache_dir": str(tmp_path / "cache"), "shard_size": 10, "n_jobs": 1}}))
    cmd = [sys.executable, "-m", "molmtd.cli", "distill", str(recipe), "--out",
           str(tmp_path / "run"), "--prepare-only", "--no-progress", "--teachers", "ecfp"]
    procs = [subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    stores = [p.parent for p in (tmp_path / "cache").rglob("manifest.json")]
    assert len(stores) == 1 and stores[0].parts[-2].startswith("ecfp")  # maccs not built
    store = EmbeddingStore(stores[0])
    assert store.is_complete and len(store) == len(KEYS)
    store.verify()
    assert not list(stores[0].glob("*.claim"))
    from typer.testing import CliRunner

    from molmtd.cli import app

    bad = CliRunner().invoke(app, [*cmd[3:-1], "mordred"])
    assert bad.exit_code == 2 and "its teachers are maccs, ecfp" in bad.output
    bad = CliRunner().invoke(app, [c for c in cmd[3:] if c != "--prepare-only"])
    assert bad.exit_code == 2 and "add --prepare-only" in bad.output
