"""Streaming embed to a parquet dataset: parts, shards, resume, kill-and-resume, bad input."""

from __future__ import annotations

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molmtd.embedding import embed_file
from molmtd.errors import InputFileError, OutputExistsError
from molmtd.streaming import parse_shard

TEACHER = "ecfp:size=64"
BASE = ["CCO", "not_a_smiles", "c1ccccc1", "", "OCC", "CC(=O)O", "CCN", "c1ccncc1", "C1CC1"]


@pytest.fixture()
def smi(tmp_path):
    path = tmp_path / "lib.smi"
    rows = [BASE[i % len(BASE)] + ("C" * (i // len(BASE)) if BASE[i % len(BASE)] not in
                                   ("", "not_a_smiles") else "") for i in range(95)]
    path.write_text("\n".join(rows) + "\n")
    return path, rows


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.glob("part-*.parquet"))}


def _read(directory: Path) -> pd.DataFrame:
    import pyarrow.dataset as ds

    return ds.dataset(directory, format="parquet").to_table().to_pandas()


def test_parts_hold_global_positions_and_match_the_in_memory_path(smi, tmp_path):
    path, rows = smi
    out = tmp_path / "emb.parquet"
    summary = embed_file(path, out, teacher=TEACHER, part_size=20)
    assert sorted(_hashes(out)) == [f"part-{i:06d}.parquet" for i in range(5)]
    df = _read(out)
    assert df["position"].tolist() == list(range(95)) and df["smiles"].tolist() == rows
    assert pd.read_parquet(out)["position"].tolist() == list(range(95))  # pandas too
    ref = tmp_path / "ref.npy"
    embed_file(path, ref, teacher=TEACHER)
    np.testing.assert_array_equal(np.stack(df["embedding"].to_numpy()), np.load(ref))
    bad = [i for i, r in enumerate(rows) if r in ("", "not_a_smiles")]
    assert (~df["ok"]).sum() == len(bad) and np.flatnonzero(~df["ok"]).tolist() == bad
    assert df["reason"][bad[0]] == "unparseable SMILES" and df["reason"][3] == "empty input"
    assert summary["rows"] == 95 and summary["invalid"] == len(bad)
    assert summary["parts_written"] == 5 and summary["parts_reused"] == 0
    assert [e["position"] for e in summary["invalid_examples"]] == bad[:10]


def test_shards_divide_the_parts_and_rebuild_the_same_dataset(smi, tmp_path):
    path, _ = smi
    whole, split = tmp_path / "whole.parquet", tmp_path / "split.parquet"
    embed_file(path, whole, teacher=TEACHER, part_size=20)
    seen = []
    for i in range(3):
        s = embed_file(path, split, teacher=TEACHER, part_size=20, shard=f"{i}/3")
        seen.append(sorted(_hashes(split)))
        assert s["shard"] == f"{i}/3"
    assert seen[0] == ["part-000000.parquet", "part-000003.parquet"]  # parts 0 and 3
    assert _hashes(split) == _hashes(whole)  # bit-identical part files
    assert sorted(p.name for p in split.glob("_molmtd_done-*")) == [
        f"_molmtd_done-{i}-of-3.json" for i in range(3)]


def test_existing_output_needs_resume_or_overwrite(smi, tmp_path):
    path, _ = smi
    out = tmp_path / "emb.parquet"
    embed_file(path, out, teacher=TEACHER, part_size=20)
    before = _hashes(out)
    with pytest.raises(OutputExistsError, match=r"--resume.*--overwrite"):
        embed_file(path, out, teacher=TEACHER, part_size=20)
    assert _hashes(out) == before
    s = embed_file(path, out, teacher=TEACHER, part_size=20, resume=True)
    assert s["parts_reused"] == 5 and s["parts_written"] == 0 and s["invalid"] > 0
    (out / "part-000002.parquet").unlink()
    (out / "part-000004.parquet").write_bytes(b"garbage")  # not a finished part
    s = embed_file(path, out, teacher=TEACHER, part_size=20, resume=True)
    assert (s["parts_reused"], s["parts_written"]) == (3, 2)
    assert _hashes(out) == before
    s = embed_file(path, out, teacher=TEACHER, part_size=20, overwrite=True)
    assert s["parts_written"] == 5 and _hashes(out) == before


def test_another_runs_parts_are_refused_and_kept(smi, tmp_path):
    path, _ = smi
    out = tmp_path / "emb.parquet"
    embed_file(path, out, teacher=TEACHER, part_size=20)
    before = _hashes(out)
    for kwargs in ({}, {"resume": True}):
        with pytest.raises(OutputExistsError, match=r"another run.*source.*--overwrite"):
            embed_file(path, out, teacher="ecfp:size=128", part_size=20, **kwargs)
        assert _hashes(out) == before
    with pytest.raises(OutputExistsError, match=r"another run.*part_size"):
        embed_file(path, out, teacher=TEACHER, part_size=30, resume=True)
    foreign = tmp_path / "foreign.parquet"
    foreign.mkdir()
    (foreign / "part-000000.parquet").write_bytes(b"someone else's")
    with pytest.raises(OutputExistsError, match="no record of the run"):
        embed_file(path, foreign, teacher=TEACHER, part_size=20)
    assert (foreign / "part-000000.parquet").read_bytes() == b"someone else's"
    s = embed_file(path, out, teacher="ecfp:size=128", part_size=20, overwrite=True)
    assert s["parts_written"] == 5 and np.stack(_read(out)["embedding"]).shape == (95, 128)


@pytest.mark.parametrize("spec,match", [
    ("3/2", r"index must be in 0\.\.1.*SLURM_ARRAY_TASK_ID"),
    ("2/2", r"index must be in 0\.\.1"),
    ("0/0", r"index must be in 0\.\.0"),
    ("one/two", r"expected INDEX/COUNT"),
    ("1", r"expected INDEX/COUNT"),
])
def test_bad_shard_spec(smi, tmp_path, spec, match):
    with pytest.raises(ValueError, match=match):
        embed_file(smi[0], tmp_path / "o.parquet", teacher=TEACHER, shard=spec)
    assert not (tmp_path / "o.parquet").exists()


def test_parse_shard():
    s = parse_shard(" 1 / 4 ")
    assert (s.index, s.count) == (1, 4) and [p for p in range(9) if s.owns(p)] == [1, 5]


def test_parquet_input_without_the_smiles_column(tmp_path):
    path = tmp_path / "lib.parquet"
    pd.DataFrame({"id": [1, 2], "mol": ["CCO", "CCN"]}).to_parquet(path)
    out = tmp_path / "o.parquet"
    with pytest.raises(ValueError, match=r"no column named 'smiles'.*'mol'.*--column"):
        embed_file(path, out, teacher=TEACHER)
    assert not out.exists()
    assert embed_file(path, out, teacher=TEACHER, column="mol")["embedded"] == 2


def test_truncated_gzip_keeps_the_finished_parts(tmp_path):
    path = tmp_path / "lib.smi.gz"
    data = gzip.compress("".join(f"{'C' * (1 + i % 20)}O\n" for i in range(30000)).encode())
    path.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "o.parquet"
    with pytest.raises(InputFileError, match=r"ends early.*gzip -t.*--resume"):
        embed_file(path, out, teacher=TEACHER, part_size=5000)
    parts = sorted(_hashes(out))
    assert len(parts) >= 2  # every complete part before the damage is written
    df = _read(out)
    assert df["position"].tolist() == list(range(len(parts) * 5000))
    assert not list(out.glob(".*.tmp"))


def test_npy_stays_for_small_inputs_and_points_to_parquet(smi, tmp_path):
    path, _ = smi
    with pytest.raises(ValueError, match=r"-o .*o\.parquet.*constant memory"):
        embed_file(path, tmp_path / "o.npy", teacher=TEACHER, npy_max_bytes=95 * 64 * 4 - 1)
    embed_file(path, tmp_path / "o.npy", teacher=TEACHER, npy_max_bytes=95 * 64 * 4)
    assert np.load(tmp_path / "o.npy").shape == (95, 64)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        embed_file(path, tmp_path / "o.npy", teacher=TEACHER)
    with pytest.raises(ValueError, match=r"apply to a parquet dataset"):
        embed_file(path, tmp_path / "p.npy", teacher=TEACHER, shard="0/2")


def test_killed_run_resumes_bit_identical(tmp_path):
    """A streaming embed killed (SIGKILL) mid-run, then resumed, equals an uninterrupted run."""
    path = tmp_path / "lib.smi"
    rows = [f"{'C' * (1 + i % 25)}{'O' if i % 3 else 'N'}" for i in range(400)]
    path.write_text("\n".join(rows) + "\n")
    worker = Path(__file__).with_name("_embed_worker.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    ref, out = tmp_path / "ref.parquet", tmp_path / "out.parquet"
    subprocess.run([sys.executable, str(worker), str(path), str(ref), "20", "0"], env=env,
                   check=True, timeout=120)
    proc = subprocess.Popen([sys.executable, str(worker), str(path), str(out), "20", "0.15"],
                            env=env)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("part-*.parquet"))) < 4:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("part-*.parquet")))
    assert 4 <= done < 20  # killed mid-run
    subprocess.run([sys.executable, str(worker), str(path), str(out), "20", "0", "--resume"],
                   env=env, check=True, timeout=120)
    assert _hashes(out) == _hashes(ref) and len(_hashes(ref)) == 20
    assert not list(out.glob(".*.tmp"))
    pd.testing.assert_frame_equal(_read(out), _read(ref))


def test_cli_streams_shards_and_names_the_fixes(smi, tmp_path):
    from typer.testing import CliRunner

    from molmtd.cli import app

    path, _ = smi
    out = tmp_path / "cli.parquet"
    runner = CliRunner()
    args = ["embed", str(path), "-o", str(out), "--teacher", TEACHER, "--part-size", "20"]
    for i in range(2):
        res = runner.invoke(app, [*args, "--shard", f"{i}/2"])
        assert res.exit_code == 0, res.output
    assert len(_read(out)) == 95
    res = runner.invoke(app, [*args, "--shard", "1/2"])
    assert res.exit_code == 2 and "--resume" in res.output and "--overwrite" in res.output
    res = runner.invoke(app, [*args, "--shard", "3/2"])
    assert res.exit_code == 2 and "index must be in 0..1" in res.output
    res = runner.invoke(app, [*args, "--shard", "0/2", "--resume"])
    assert res.exit_code == 0 and '"parts_reused": 3' in res.output


def test_an_older_single_file_output_and_an_empty_input(smi, tmp_path):
    path, _ = smi
    old = tmp_path / "old.parquet"
    old.write_bytes(b"an older single-file output")
    with pytest.raises(OutputExistsError, match=r"is a file.*--overwrite"):
        embed_file(path, old, teacher=TEACHER)
    assert old.read_bytes() == b"an older single-file output"
    assert embed_file(path, old, teacher=TEACHER, overwrite=True)["rows"] == 95
    empty = tmp_path / "empty.smi"
    empty.write_text("")
    out = tmp_path / "empty.parquet"
    assert embed_file(empty, out, teacher=TEACHER)["rows"] == 0
    df = pd.read_parquet(out)
    assert len(df) == 0 and list(df.columns) == ["position", "smiles", "ok", "reason",
                                                 "embedding"]
