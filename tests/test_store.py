"""EmbeddingStore: build, read, resume, verify, statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from molmtd.errors import StoreError
from molmtd.store import EmbeddingStore
from molmtd.teachers.base import Teacher, TeacherOutput

N, DIM = 53, 4


def _vector(key: str) -> np.ndarray:
    """A deterministic embedding derived from the key (its position), with a constant dim."""
    i = int(key.split("_")[1])
    return np.array([i, -2.0 * i, 7.0, np.sin(i)], dtype=np.float32)


class CountingTeacher(Teacher):
    """Test teacher: records every embed call; masks keys ending in "_bad"; can fail."""

    name = "counting"
    family = "test"

    def __init__(self, scale: float = 1.0):
        self.scale = scale
        self.calls: list[list[str]] = []
        self.fail_on: str | None = None

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, smiles):
        smiles = list(smiles)
        self.calls.append(smiles)
        if self.fail_on is not None and self.fail_on in smiles:
            raise RuntimeError("simulated crash")
        emb = np.stack([_vector(s) * self.scale for s in smiles]).astype(np.float32)
        ok = np.array([not s.endswith("_bad") for s in smiles])
        emb[~ok] = np.nan
        return TeacherOutput(emb, ok, {i: "bad" for i in np.flatnonzero(~ok)})


@pytest.fixture
def keys() -> list[str]:
    return [f"m_{i}" + ("_bad" if i % 10 == 3 else "") for i in range(N)]


def _expected(keys) -> tuple[np.ndarray, np.ndarray]:
    emb = np.stack([_vector(k) for k in keys])
    ok = np.array([not k.endswith("_bad") for k in keys])
    emb[~ok] = np.nan
    return emb, ok


def test_build_and_read_round_trip(tmp_path, keys):
    teacher = CountingTeacher()
    store = EmbeddingStore.build(teacher, keys, tmp_path / "s", shard_size=10, batch_size=4,
                                 progress=False)
    assert len(store) == N and store.dim == DIM and store.spec == "counting:scale=1.0"
    assert store.dtype == "float32" and store.is_complete
    assert store.keys == keys
    emb, ok = _expected(keys)
    assert store.n_ok == int(ok.sum())
    np.testing.assert_array_equal(store.ok_mask(), ok)
    got, got_ok = store.rows(np.arange(N))
    assert got.dtype == np.float32 and got.shape == (N, DIM)
    np.testing.assert_array_equal(got, emb)
    np.testing.assert_array_equal(got_ok, ok)
    # embed was called in chunks of batch_size within each shard
    assert max(len(c) for c in teacher.calls) == 4
    assert sum(len(c) for c in teacher.calls) == N

    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["n_molecules"] == N and manifest["dim"] == DIM
    assert [s["index"] for s in manifest["shards"]] == list(range(6))
    assert manifest["shards"][5]["start"] == 50 and manifest["shards"][5]["stop"] == N
    assert manifest["shards"][0]["files"] == ["shard_00000.emb.npy", "shard_00000.ok.npy"]
    # a reopened store reads the same rows
    again = EmbeddingStore(tmp_path / "s")
    np.testing.assert_array_equal(again.rows(np.arange(N))[0], emb)
    store.verify()


def test_rows_alignment_shuffled_and_repeated(tmp_path, keys):
    store = EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=7, progress=False)
    emb, ok = _expected(keys)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.permutation(N), rng.integers(0, N, 40), [5, 5, 5, 52, 0]])
    got, got_ok = store.rows(idx)
    np.testing.assert_array_equal(got, emb[idx])
    np.testing.assert_array_equal(got_ok, ok[idx])
    got, got_ok = store.rows(np.array([], dtype=np.int64))
    assert got.shape == (0, DIM) and got_ok.shape == (0,)
    with pytest.raises(IndexError, match="row 53 out of range"):
        store.rows(np.array([0, 53]))


def test_resume_recomputes_only_missing_shards(tmp_path, keys):
    directory = tmp_path / "s"
    crashing = CountingTeacher()
    crashing.fail_on = keys[30]  # shard 3 with shard_size=10
    with pytest.raises(RuntimeError, match="simulated crash"):
        EmbeddingStore.build(crashing, keys, directory, shard_size=10, progress=False)
    partial = EmbeddingStore(directory)
    assert not partial.is_complete
    assert [s["index"] for s in partial.manifest["shards"]] == [0, 1, 2]
    with pytest.raises(StoreError, match="shard 3 is not built"):
        partial.rows(np.array([31]))

    resumed = CountingTeacher()
    store = EmbeddingStore.build(resumed, keys, directory, shard_size=10, progress=False)
    assert store.is_complete
    # only shards 3, 4, 5 were embedded the second time
    assert [c[0] for c in resumed.calls] == [keys[30], keys[40], keys[50]]
    np.testing.assert_array_equal(store.rows(np.arange(N))[0], _expected(keys)[0])
    # a third build embeds nothing
    idle = CountingTeacher()
    EmbeddingStore.build(idle, keys, directory, shard_size=10, progress=False)
    assert idle.calls == []


def test_store_of_another_spec_or_keys_is_refused(tmp_path, keys):
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    with pytest.raises(StoreError, match=r"teacher_spec: store has 'counting:scale=1.0', "
                                         r"requested 'counting:scale=2.0'.*delete"):
        EmbeddingStore.build(CountingTeacher(2.0), keys, tmp_path, shard_size=10,
                             progress=False)
    with pytest.raises(StoreError, match="keys_sha256"):
        EmbeddingStore.build(CountingTeacher(), keys[:-1], tmp_path, shard_size=10,
                             progress=False)
    with pytest.raises(StoreError, match="dtype"):
        EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10,
                             dtype="float16", progress=False)


def test_verify_detects_corruption(tmp_path, keys):
    store = EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10,
                                 progress=False)
    store.verify()
    path = tmp_path / "shard_00002.emb.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=r"shard 2 \(shard_00002.emb.npy\) is missing or corrupt"):
        EmbeddingStore(tmp_path).verify()
    (tmp_path / "shard_00004.ok.npy").unlink()
    path.write_bytes(bytes(data[:-1]) + bytes([data[-1] ^ 0xFF]))  # shard 2 repaired
    with pytest.raises(StoreError, match="shard 4"):
        EmbeddingStore(tmp_path).verify()


def test_float16_store_and_overflow(tmp_path, keys):
    store = EmbeddingStore.build(CountingTeacher(), keys, tmp_path / "ok", shard_size=10,
                                 dtype="float16", progress=False)
    assert np.load(tmp_path / "ok" / "shard_00000.emb.npy").dtype == np.float16
    got, _ = store.rows(np.arange(N))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _expected(keys)[0], rtol=1e-3)

    big = CountingTeacher(scale=5000.0)  # -2 * 52 * 5000 = -520000 > float16 max
    with pytest.raises(StoreError, match=r"counting:scale=5000.0.*float16.*float32"):
        EmbeddingStore.build(big, keys, tmp_path / "big", shard_size=10, dtype="float16",
                             progress=False)
    # shard 0 already overflows (|-2 * 9 * 5000| = 90000): nothing of it was written
    assert json.loads((tmp_path / "big" / "manifest.json").read_text())["shards"] == []
    assert not (tmp_path / "big" / "shard_00000.emb.npy").exists()


def test_mean_std_matches_numpy_on_ok_rows(tmp_path, keys):
    store = EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=8,
                                 progress=False)
    emb, ok = _expected(keys)
    mean, std = store.mean_std()
    assert mean.dtype == np.float64 and mean.shape == (DIM,)
    np.testing.assert_allclose(mean, emb[ok].astype(np.float64).mean(0), rtol=1e-9)
    np.testing.assert_allclose(std, emb[ok].astype(np.float64).std(0), rtol=1e-6, atol=1e-12)
    assert std[2] == 0 and np.isfinite(std).all()  # the constant column

    idx = np.array([40, 1, 2, 3, 17, 17, 52, 9])  # unsorted, repeated, includes a bad row
    m, s = store.mean_std(idx)
    sel = np.unique(idx)
    sel = sel[ok[sel]]
    np.testing.assert_allclose(m, emb[sel].astype(np.float64).mean(0), rtol=1e-9)
    np.testing.assert_allclose(s, emb[sel].astype(np.float64).std(0), rtol=1e-6, atol=1e-12)
    with pytest.raises(StoreError, match="no embedded rows"):
        store.mean_std(np.array([3, 13]))


def test_not_a_store(tmp_path):
    with pytest.raises(StoreError, match="no manifest.json"):
        EmbeddingStore(tmp_path)


def test_empty_corpus(tmp_path):
    store = EmbeddingStore.build(CountingTeacher(), [], tmp_path, progress=False)
    assert len(store) == 0 and store.is_complete and store.keys == []
    assert store.ok_mask().shape == (0,)


# -- crash safety, teacher misbehaviour, a real teacher ----------------------------------

_KILL_SCRIPT = """
import os, signal, sys
import numpy as np
from molmtd.store import EmbeddingStore
from molmtd.teachers.base import Teacher, TeacherOutput

class Dying(Teacher):
    name = "counting"
    def __init__(self, scale: float = 1.0):
        self.scale = scale
    @property
    def dim(self):
        return 4
    def embed(self, smiles):
        if "m_25" in smiles:  # shard 2 of 10-molecule shards: die without any cleanup
            os.kill(os.getpid(), signal.SIGKILL)
        i = np.array([float(s.split("_")[1]) for s in smiles])
        emb = np.stack([i, -2 * i, np.full_like(i, 7.0), np.sin(i)], 1).astype(np.float32)
        return TeacherOutput(emb, np.array([not s.endswith("_bad") for s in smiles]))

keys = sys.argv[2].split(",")
EmbeddingStore.build(Dying(), keys, sys.argv[1], shard_size=10, batch_size=5, progress=False)
"""


def test_kill_9_loses_only_the_batch_in_progress(tmp_path, keys):
    import signal
    import subprocess
    import sys

    directory = tmp_path / "s"
    proc = subprocess.run([sys.executable, "-c", _KILL_SCRIPT, str(directory), ",".join(keys)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    partial = EmbeddingStore(directory)
    assert [s["index"] for s in partial.manifest["shards"]] == [0, 1]
    partial.verify()  # what the manifest lists is intact
    # shard 2's first batch (rows 20-24) finished before the kill and was kept
    assert [p.name for p in (directory / "shard_00002.partial").iterdir()] == ["rows_20_25.npz"]
    resumed = CountingTeacher()
    store = EmbeddingStore.build(resumed, keys, directory, shard_size=10, batch_size=5,
                                 progress=False)
    assert sorted(c[0] for c in resumed.calls) == sorted(keys[i] for i in range(25, N, 5))
    emb, ok = _expected(keys)
    got, got_ok = store.rows(np.arange(N))
    np.testing.assert_array_equal(got, emb)
    np.testing.assert_array_equal(got_ok, ok)
    # rows 20-24 come from the killed build's teacher (no reasons), 25 on from the resumed one
    reasons = store.reasons()
    assert sorted(reasons) == list(np.flatnonzero(~ok))
    assert (reasons[23], reasons[33]) == ("teacher gave no reason", "bad")
    assert not list(directory.glob("*.tmp"))
    assert not list(directory.glob("*.partial"))  # written into their shards, then removed


def test_a_kept_batch_of_other_keys_or_unreadable_is_recomputed(tmp_path, keys, caplog):
    from molmtd.store import _save_partial_batch

    partial = tmp_path / "shard_00000.partial"
    other = [k + "x" for k in keys[:5]]
    _save_partial_batch(partial, 0, other, np.zeros((5, DIM), np.float32), np.ones(5, bool), {})
    (partial / "rows_5_10.npz").write_bytes(b"not an npz")
    teacher = CountingTeacher()
    with caplog.at_level("WARNING", logger="molmtd.store"):
        store = EmbeddingStore.build(teacher, keys, tmp_path, shard_size=10, batch_size=5,
                                     progress=False)
    assert [c[0] for c in teacher.calls] == [keys[i] for i in range(0, N, 5)]
    assert "does not match this build" in caplog.text and "unreadable batch" in caplog.text
    np.testing.assert_array_equal(store.rows(np.arange(N))[0], _expected(keys)[0])
    assert not partial.exists()


def test_one_batch_shards_keep_no_partial_batches(tmp_path, keys, monkeypatch):
    import molmtd.store as store_module

    saved = []
    monkeypatch.setattr(store_module, "_save_partial_batch", lambda *a: saved.append(a[1]))
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    assert saved == []
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path / "b", shard_size=10, batch_size=5,
                         progress=False)
    assert saved == list(range(0, 50, 5))  # the last shard (rows 50-52) is one batch


def test_leftover_temp_files_and_lost_shard_files_are_rebuilt(tmp_path, keys):
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    (tmp_path / "shard_00001.emb.npy.tmp").write_bytes(b"half a shard")
    (tmp_path / "shard_00004.emb.npy").unlink()
    again = CountingTeacher()
    store = EmbeddingStore.build(again, keys, tmp_path, shard_size=10, progress=False)
    assert [c[0] for c in again.calls] == [keys[40]]  # only the shard whose file vanished
    assert not (tmp_path / "shard_00001.emb.npy.tmp").exists()
    store.verify()
    np.testing.assert_array_equal(store.rows(np.arange(N))[0], _expected(keys)[0])


def test_reasons_are_kept_with_corpus_positions(tmp_path, keys):
    store = EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10,
                                 progress=False)
    bad = [i for i, k in enumerate(keys) if k.endswith("_bad")]
    assert store.reasons() == {i: "bad" for i in bad}
    assert store.n_ok == N - len(bad)


class _Misbehaving(CountingTeacher):
    def __init__(self, scale: float = 1.0, mode: str = "shape"):
        super().__init__(scale)
        self.mode = mode

    def embed(self, smiles):
        out = super().embed(smiles)
        if self.mode == "shape":
            return TeacherOutput(out.embeddings[:, :2], out.ok, out.reasons)
        emb = out.embeddings.copy()
        emb[0, 1] = np.inf  # claims ok but is not finite
        return TeacherOutput(emb, out.ok, out.reasons)


def test_wrong_shape_from_teacher_is_a_shape_error(tmp_path, keys):
    from molmtd.errors import ShapeError

    with pytest.raises(ShapeError, match=r"counting:mode=shape,scale=1.0.*expected shape "
                                         r"\(10, 4\), got \(10, 2\)"):
        EmbeddingStore.build(_Misbehaving(), keys, tmp_path, shard_size=10, progress=False)


def test_nonfinite_ok_rows_are_masked_not_stored(tmp_path, keys):
    store = EmbeddingStore.build(_Misbehaving(mode="inf"), keys, tmp_path, shard_size=10,
                                 progress=False)
    emb, ok = store.rows(np.arange(N))
    first_rows = np.arange(0, N, 10)  # row 0 of every shard got an inf
    assert not ok[first_rows].any() and np.isnan(emb[first_rows]).all()
    assert np.isfinite(emb[ok]).all()
    assert store.reasons()[10] == "teacher returned non-finite values"
    assert np.isfinite(np.concatenate(store.mean_std())).all()


@pytest.mark.parametrize("kwargs,match", [
    ({"dtype": "float64"}, "'dtype' parameter"),
    ({"shard_size": 0}, "'shard_size' parameter"),
    ({"batch_size": -1}, "'batch_size' parameter"),
])
def test_bad_build_arguments(tmp_path, keys, kwargs, match):
    with pytest.raises(ValueError, match=match):
        EmbeddingStore.build(CountingTeacher(), keys, tmp_path, progress=False, **kwargs)
    assert not (tmp_path / "manifest.json").exists()


def test_real_teacher_round_trip_and_pickle(tmp_path, moses_smiles):
    import pickle

    from molmtd.teachers import get_teacher

    teacher = get_teacher("maccs", n_jobs=1)
    keys = list(moses_smiles[:30]) + ["not a smiles"]
    store = EmbeddingStore.build(teacher, keys, tmp_path, shard_size=8, dtype="float16",
                                 progress=False)
    direct = teacher.embed(keys)
    emb, ok = store.rows(np.arange(len(keys)))
    np.testing.assert_array_equal(ok, direct.ok)
    np.testing.assert_array_equal(emb, direct.embeddings)  # 0/1 bits are exact in float16
    assert store.reasons() == {30: "unparseable SMILES"}
    assert store.version == teacher.version
    clone = pickle.loads(pickle.dumps(store))  # e.g. into DataLoader workers
    np.testing.assert_array_equal(clone.rows(np.array([3, 1]))[0], emb[[3, 1]])


def test_mean_std_in_small_blocks_equals_one_pass(tmp_path, keys, monkeypatch):
    import molmtd.store

    store = EmbeddingStore.build(CountingTeacher(scale=1e3), keys, tmp_path, shard_size=16,
                                 progress=False)
    whole = store.mean_std()
    monkeypatch.setattr(molmtd.store, "_STATS_BLOCK", 3)  # many uneven merges per shard
    blocked = store.mean_std()
    np.testing.assert_allclose(blocked[0], whole[0], rtol=1e-12)
    np.testing.assert_allclose(blocked[1], whole[1], rtol=1e-9)
    assert blocked[1][2] == 0.0


def test_prefix_build_computes_only_the_shards_of_the_first_rows_then_resumes(tmp_path, keys):
    directory = tmp_path / "s"
    first = CountingTeacher()
    prefix = EmbeddingStore.build(first, keys, directory, shard_size=10, rows=25,
                                  progress=False)
    assert [c[0] for c in first.calls] == [keys[0], keys[10], keys[20]]  # rows 0..29
    assert not prefix.is_complete and len(prefix) == N  # the identity is the whole key list
    np.testing.assert_array_equal(prefix.rows(np.arange(25))[0], _expected(keys)[0][:25])
    assert not prefix.ok_mask()[30:].any()
    again = CountingTeacher()
    EmbeddingStore.build(again, keys, directory, shard_size=10, rows=30, progress=False)
    assert again.calls == []  # rows 0..29 are done
    rest = CountingTeacher()
    full = EmbeddingStore.build(rest, keys, directory, shard_size=10, progress=False)
    assert full.is_complete
    assert [c[0] for c in rest.calls] == [keys[s] for s in range(30, N, 10)]
    np.testing.assert_array_equal(full.rows(np.arange(N))[0], _expected(keys)[0])


def _flip(path, n=64, offset=None):
    """Flip ``n`` bytes of a file in place (same size), at ``offset`` or at its end."""
    data = bytearray(path.read_bytes())
    start = len(data) - n if offset is None else offset
    for i in range(start, start + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_shard_is_refused_on_read_and_recomputed_by_build(tmp_path, keys, caplog):
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    _flip(tmp_path / "shard_00002.emb.npy")  # 64 bytes: NaN/inf or finite garbage
    store = EmbeddingStore(tmp_path)
    store.rows(np.arange(0, 20))  # intact shards still read
    with pytest.raises(StoreError, match=r"shard 2 \(shard_00002.emb.npy\) is missing or does "
                                         r"not match its checksum.*recomputes"):
        store.rows(np.array([25]))
    with pytest.raises(StoreError, match="shard 2"):
        store.mean_std()
    again = CountingTeacher()
    with caplog.at_level("WARNING", logger="molmtd.store"):
        rebuilt = EmbeddingStore.build(again, keys, tmp_path, shard_size=10, progress=False)
    assert "shard 2 (shard_00002.emb.npy) is missing or does not match" in caplog.text
    assert [c[0] for c in again.calls] == [keys[20]]  # only the corrupt shard
    rebuilt.verify()
    emb, ok = _expected(keys)
    got, got_ok = rebuilt.rows(np.arange(N))
    np.testing.assert_array_equal(got, emb)
    np.testing.assert_array_equal(got_ok, ok)


def test_nonfinite_rows_read_back_are_masked(tmp_path, keys, caplog):
    store = EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10,
                                 progress=False)
    # a store whose checksums were recorded over non-finite values (another writer, or
    # corruption before hashing): rows 11 and 15 must not reach training
    path = tmp_path / "shard_00001.emb.npy"
    emb = np.load(path)
    emb[1, 2], emb[5, 0] = np.inf, np.nan
    np.save(path, emb)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    from molmtd.store import _sha256_file

    manifest["shards"][1]["emb_sha256"] = _sha256_file(path)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    store = EmbeddingStore(tmp_path)
    with caplog.at_level("WARNING", logger="molmtd.store"):
        rows, ok = store.rows(np.arange(10, 20))
    assert "2 rows of shard 1 read back with non-finite values (first: row 11)" in caplog.text
    expected_ok = _expected(keys)[1][10:20].copy()
    expected_ok[[1, 5]] = False
    np.testing.assert_array_equal(ok, expected_ok)
    assert np.isfinite(rows[ok]).all() and np.isnan(rows[~ok]).all()
    assert not store.ok_mask()[[11, 15]].any()
    mean, std = store.mean_std(np.arange(10, 20))
    assert np.isfinite(mean).all() and np.isfinite(std).all()


def test_temporary_names_are_unique_per_process_and_call(tmp_path):
    from molmtd.safeio import temporary_name

    names = {temporary_name(tmp_path / "keys.txt") for _ in range(100)}
    assert len(names) == 100
    import os

    assert all(f".keys.txt.{os.getpid()}." in n.name and n.name.endswith(".tmp") for n in names)


def test_disk_full_leaves_no_half_shard_and_a_clear_error(tmp_path, keys, monkeypatch):
    import errno

    import molmtd.store as store_mod
    from molmtd.errors import DiskFullError

    real_save = np.save
    calls = {"n": 0}

    def full_disk(fh, array, *a, **kw):
        calls["n"] += 1
        if calls["n"] == 5:  # shard 2's embeddings: a partial write, then ENOSPC
            fh.write(b"\x93NUMPY partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(fh, array, *a, **kw)

    monkeypatch.setattr(store_mod.np, "save", full_disk)
    with pytest.raises(DiskFullError, match=r"no space left on the device while writing "
                                            r".*shard_00002.emb.npy.*larger disk") as info:
        EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC
    monkeypatch.setattr(store_mod.np, "save", real_save)
    partial = EmbeddingStore(tmp_path)
    assert [s["index"] for s in partial.manifest["shards"]] == [0, 1]
    assert not partial.is_complete
    assert not (tmp_path / "shard_00002.emb.npy").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    partial.verify()
    again = CountingTeacher()
    store = EmbeddingStore.build(again, keys, tmp_path, shard_size=10, progress=False)
    assert [c[0] for c in again.calls] == [keys[20], keys[30], keys[40], keys[50]]
    np.testing.assert_array_equal(store.rows(np.arange(N))[0], _expected(keys)[0])


_RACE_SCRIPT = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[3])
from test_store import CountingTeacher
from molmtd.store import EmbeddingStore

class Slow(CountingTeacher):
    def embed(self, smiles):
        time.sleep(0.05)
        return super().embed(smiles)

t = Slow()
keys = sys.argv[2].split(",")
store = EmbeddingStore.build(t, keys, sys.argv[1], shard_size=10, batch_size=5, progress=False)
store.verify()
print(len(t.calls))
"""


def test_two_processes_building_one_store_share_it(tmp_path, keys):
    import subprocess
    import sys
    from pathlib import Path

    directory = tmp_path / "s"
    here = str(Path(__file__).parent)
    procs = [subprocess.Popen([sys.executable, "-c", _RACE_SCRIPT, str(directory),
                               ",".join(keys), here], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    calls = sorted(int(o[0].split()[-1]) for o in outs)
    # the builders divide the shards (claims): every batch is embedded once, by one of them,
    # and each returns the complete store (test_cooperative_store checks who did what)
    assert sum(calls) == 11
    store = EmbeddingStore(directory)
    store.verify()
    np.testing.assert_array_equal(store.rows(np.arange(N))[0], _expected(keys)[0])


def test_store_of_an_older_format_version_is_detected_not_misread(tmp_path, keys):
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["format_version"] = 0
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="format version 0, this molmtd reads 1; delete"):
        EmbeddingStore(tmp_path)
    with pytest.raises(StoreError, match="format_version: store has 0, requested 1"):
        EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)
    (tmp_path / "manifest.json").write_text("{truncated")
    with pytest.raises(StoreError, match="manifest.json is unreadable"):
        EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, progress=False)


def test_reader_of_a_finished_prefix_does_not_wait_for_a_builder(tmp_path, keys):
    from molmtd.safeio import directory_lock

    EmbeddingStore.build(CountingTeacher(), keys, tmp_path, shard_size=10, rows=20,
                         progress=False)
    idle = CountingTeacher()
    # another process is extending the store (it holds the lock): the prefix is served now
    with directory_lock(tmp_path):
        import threading

        result = {}
        reader = threading.Thread(target=lambda: result.update(store=EmbeddingStore.build(
            idle, keys, tmp_path, shard_size=10, rows=20, progress=False)))
        reader.start()
        reader.join(timeout=20)
        assert not reader.is_alive(), "the reader waited for the lock"
    assert idle.calls == []
    np.testing.assert_array_equal(result["store"].rows(np.arange(20))[0],
                                  _expected(keys)[0][:20])


class _WideTeacher(Teacher):
    """Deterministic 2048-d rows (8 KiB each in float32): fills a small filesystem fast."""

    name = "wide"
    family = "test"

    @property
    def dim(self) -> int:
        return 2048

    def embed(self, smiles):
        rows = np.stack([np.full(2048, float(len(s)), np.float32) for s in smiles])
        return TeacherOutput(rows, np.ones(len(smiles), bool), {})


@pytest.fixture
def tiny_filesystem(tmp_path):
    """A real 512 KiB tmpfs, where the machine lets this process mount one (root in CI)."""
    import shutil
    import subprocess

    mount = tmp_path / "tiny"
    mount.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the injected-ENOSPC test covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_a_really_full_filesystem_gives_a_clear_error_and_no_complete_looking_store(
        tiny_filesystem):
    from molmtd.errors import DiskFullError

    keys = [f"m_{i}" for i in range(200)]  # 200 x 8 KiB = 1.6 MiB of embeddings > 512 KiB
    directory = tiny_filesystem / "store"
    with pytest.raises(DiskFullError, match="no space left on the device while writing"):
        EmbeddingStore.build(_WideTeacher(), keys, directory, shard_size=20, progress=False)
    partial = EmbeddingStore(directory)
    assert not partial.is_complete
    listed = [s["index"] for s in partial.manifest["shards"]]
    assert listed == list(range(len(listed)))  # a prefix of shards, each whole
    partial.verify()  # every listed shard matches its checksum
    names = {p.name for p in directory.iterdir()}
    assert not [n for n in names if n.endswith(".tmp")]
    assert f"shard_{len(listed):05d}.emb.npy" not in names  # the failed shard left nothing


def test_a_corpus_that_extends_another_takes_its_matching_shards(tmp_path, keys, caplog):
    """Stores side by side (the cache's teachers/<teacher>/<corpus>): a new store whose leading
    shards hold the same keys as a sibling's finished shards links them instead of embedding
    them again; shards with other keys, or a sibling of another teacher, are not used."""
    import logging

    EmbeddingStore.build(CountingTeacher(), keys[:30], tmp_path / "a", shard_size=10,
                         progress=False)
    EmbeddingStore.build(CountingTeacher(scale=2.0), keys, tmp_path / "other-teacher",
                         shard_size=10, progress=False)
    extended = keys[:20] + ["m_999", *keys[21:]]  # shard 2 differs from "a" in one key
    teacher = CountingTeacher()
    with caplog.at_level(logging.INFO, logger="molmtd.store"):
        store = EmbeddingStore.build(teacher, extended, tmp_path / "b", shard_size=10,
                                     batch_size=100, progress=False, reuse_siblings=True)
    assert [c[0] for c in teacher.calls] == [extended[20], extended[30], extended[40],
                                             extended[50]]
    assert "2 shard(s) [0, 1] taken from the sibling store" in caplog.text
    emb, ok = _expected(extended)
    got, got_ok = store.rows(np.arange(len(extended)))
    np.testing.assert_array_equal(got, emb)
    np.testing.assert_array_equal(got_ok, ok)
    assert store.reasons()[3] == "bad"  # the adopted shard's per-molecule reasons came along
    store.verify()
    # the linked files are the sibling's (no second copy on disk)
    assert (tmp_path / "b" / "shard_00000.emb.npy").samefile(tmp_path / "a" / "shard_00000.emb.npy")


def test_a_corrupt_sibling_shard_is_not_adopted(tmp_path, keys):
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path / "a", shard_size=10, progress=False)
    _flip(tmp_path / "a" / "shard_00001.emb.npy")
    teacher = CountingTeacher()
    store = EmbeddingStore.build(teacher, keys, tmp_path / "b", shard_size=10, batch_size=100,
                                 progress=False, reuse_siblings=True)
    assert [c[0] for c in teacher.calls] == [keys[10]]  # only the corrupt shard is embedded
    np.testing.assert_array_equal(store.rows(np.arange(N))[0], _expected(keys)[0])


def test_siblings_are_not_read_unless_asked(tmp_path, keys):
    EmbeddingStore.build(CountingTeacher(), keys, tmp_path / "a", shard_size=10, progress=False)
    teacher = CountingTeacher()
    EmbeddingStore.build(teacher, keys, tmp_path / "b", shard_size=10, progress=False)
    assert sum(len(c) for c in teacher.calls) == N
