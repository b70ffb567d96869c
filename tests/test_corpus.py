"""Corpora: every input format, invalid report, dedupe, seeded sampling, caching, MOSES."""

from __future__ import annotations

import gzip
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import molmtd.corpus as corpus_mod
from molmtd.corpus import (
    build_corpus,
    bundled_corpora,
    bundled_corpus_path,
    corpus_fingerprint,
    read_molecules,
)

DATA = Path(__file__).parent / "data"
C200 = "C" * 200

# the rows of tests/data/messy.csv (column "structure"), with what must become of them
ROWS = ["CCO", "", "not_a_smiles", "CC(=O)[O-].[Na+]", "OCC", "c1cccc1", C200, "c1ccccc1O",
        "C[NH3+]", "CC(=O)O", "[H][H]"]
KEPT = {0: "CCO", 3: "CC(=O)O", 6: C200, 7: "Oc1ccccc1", 8: "CN"}
REJECTED = {1: "empty input", 2: "unparseable SMILES", 4: "duplicate of input 0",
            5: "sanitization failed: ", 9: "duplicate of input 3", 10: "no heavy atoms"}


def _write(fmt: str, directory: Path) -> tuple[Path, str | None]:
    """The messy rows in one format; returns the path and the column to pass."""
    df = pd.read_csv(DATA / "messy.csv", dtype=str, keep_default_na=False)
    assert df["structure"].tolist() == ROWS
    path = directory / f"messy.{fmt}"
    if fmt == "smi":
        path.write_text("smiles\n" + "".join(f"{s} name{i}\n" if s else "\n"
                                             for i, s in enumerate(ROWS)))
        return path, None
    if fmt == "smi.gz":
        with gzip.open(path, "wt") as fh:
            fh.write("".join(f"{s}\n" for s in ROWS))
        return path, None
    if fmt in ("csv", "csv.gz"):
        df.to_csv(path, index=False)
        return path, "structure"
    if fmt == "tsv":
        df.rename(columns={"structure": "Smiles"}).to_csv(path, sep="\t", index=False)
        return path, None  # auto-detected, case-insensitive
    if fmt == "parquet":
        df.assign(structure=[s or None for s in ROWS]).to_parquet(path)
        return path, "structure"
    raise AssertionError(fmt)


def _check_report(corpus, rows=ROWS, kept=KEPT, rejected=REJECTED):
    assert corpus.keys == list(kept.values())
    assert corpus.positions.tolist() == list(kept)
    assert corpus.positions.dtype == np.int64
    assert corpus.invalid["position"].tolist() == list(rejected)
    assert corpus.invalid["raw"].tolist() == [rows[p] for p in rejected]
    for reason, want in zip(corpus.invalid["reason"], rejected.values(), strict=True):
        assert reason.startswith(want), (reason, want)
    assert corpus.fingerprint == corpus_fingerprint(corpus.keys)
    assert len(corpus) == len(kept)


@pytest.mark.parametrize("fmt", ["smi", "smi.gz", "csv", "csv.gz", "tsv", "parquet"])
def test_every_format_reports_each_invalid_row(fmt, tmp_path):
    path, column = _write(fmt, tmp_path)
    assert read_molecules(path, column) == ROWS
    corpus = build_corpus(path, tmp_path / "out", column=column)
    _check_report(corpus)
    # what was persisted is what was returned
    table = pd.read_parquet(tmp_path / "out" / "corpus.parquet")
    assert table.columns.tolist() == ["key", "position", "raw"]
    assert table["key"].tolist() == corpus.keys
    assert table["raw"].tolist() == [ROWS[p] for p in KEPT]
    report = pd.read_csv(tmp_path / "out" / "invalid.csv", keep_default_na=False)
    assert report.columns.tolist() == ["position", "raw", "reason"]
    assert report["reason"].tolist() == corpus.invalid["reason"].tolist()
    meta = json.loads((tmp_path / "out" / "corpus.json").read_text())
    assert meta["fingerprint"] == corpus.fingerprint
    assert meta["counts"] == {"rows": 11, "examined": 11, "molecules": 5, "invalid": 4,
                              "duplicates": 2}


def test_hand_made_files(tmp_path):
    smi = read_molecules(DATA / "messy.smi")  # header "SMILES name", then 8 rows
    assert smi[:4] == ["CCO", "", "not_a_smiles", "CC(=O)[O-].[Na+]"] and len(smi) == 8
    corpus = build_corpus(DATA / "messy.smi", tmp_path / "smi")
    assert dict(zip(corpus.positions.tolist(), corpus.keys, strict=True)) == {
        0: "CCO", 3: "CC(=O)O", 6: C200, 7: "Oc1ccccc1"}
    short = corpus.invalid["reason"].str[:20]
    assert dict(zip(corpus.invalid["position"], short, strict=True)) == {
        1: "empty input", 2: "unparseable SMILES", 4: "duplicate of input 0",
        5: "sanitization failed:"}


def test_sdf_with_unreadable_record(tmp_path):
    raw = read_molecules(DATA / "messy.sdf")
    assert len(raw) == 7 and raw[1] == ""
    gz = tmp_path / "messy.sdf.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write((DATA / "messy.sdf").read_bytes())
    assert read_molecules(gz) == raw
    corpus = build_corpus(gz, tmp_path / "out")
    assert dict(zip(corpus.positions.tolist(), corpus.keys, strict=True)) == {
        0: "CCO", 2: "CC(=O)O", 5: C200, 6: "Oc1ccccc1"}
    reasons = dict(zip(corpus.invalid["position"], corpus.invalid["reason"], strict=True))
    assert list(reasons) == [1, 3, 4]
    assert reasons[1] == "unreadable SDF record"
    assert reasons[3] == "duplicate of input 0"
    assert reasons[4].startswith("sanitization failed:") and "valence" in reasons[4]


def test_max_heavy_atoms_rejects_long_chain(tmp_path):
    path, column = _write("csv", tmp_path)
    corpus = build_corpus(path, tmp_path / "out", column=column,
                          standardize={"max_heavy_atoms": 100})
    kept = {p: k for p, k in KEPT.items() if p != 6}
    rejected = dict(sorted({**REJECTED, 6: "too many heavy atoms (200 > max_heavy_atoms=100)"}
                           .items()))
    _check_report(corpus, kept=kept, rejected=rejected)


def test_column_errors(tmp_path):
    path, _ = _write("csv", tmp_path)
    with pytest.raises(ValueError, match=r"no column named 'smiles'.*'id', 'structure'.*column="):
        read_molecules(path)
    with pytest.raises(ValueError, match=r"no column 'smi'"):
        read_molecules(path, column="smi")
    with pytest.raises(FileNotFoundError, match="nope.smi"):
        read_molecules(tmp_path / "nope.smi")
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        build_corpus(tmp_path / "nope.csv", tmp_path / "out")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(ValueError, match="unknown molecule file format '.xlsx'"):
        read_molecules(tmp_path / "x.xlsx")
    with pytest.raises(TypeError, match="unknown standardization option"):
        build_corpus(path, tmp_path / "out", column="structure", standardize={"salts": True})


@pytest.fixture
def moses_file(moses_smiles, tmp_path):
    """600 rows: 500 MOSES molecules, 50 invalid, 50 duplicates, shuffled deterministically."""
    rows = moses_smiles + ["bad_smiles"] * 50 + moses_smiles[:50]
    rows = [rows[i] for i in np.random.default_rng(123).permutation(len(rows))]
    path = tmp_path / "mols.smi"
    path.write_text("\n".join(rows) + "\n")
    return path, rows


def test_seeded_sampling(moses_file, tmp_path):
    path, rows = moses_file
    a = build_corpus(path, tmp_path / "a", max_molecules=100, seed=1)
    b = build_corpus(path, tmp_path / "b", max_molecules=100, seed=1)
    c = build_corpus(path, tmp_path / "c", max_molecules=100, seed=2)
    assert len(a) == 100 and len(set(a.keys)) == 100
    assert a.keys == b.keys and a.fingerprint == b.fingerprint
    assert a.keys != c.keys and a.fingerprint != c.fingerprint
    assert a.positions.tolist() == sorted(a.positions.tolist())
    # the sample never examines everything, and every key comes from its raw row
    meta = json.loads((tmp_path / "a" / "corpus.json").read_text())
    assert 100 <= meta["counts"]["examined"] < len(rows)
    from molmtd.molecules import standardize_many

    again, _ = standardize_many([rows[p] for p in a.positions])
    assert again == a.keys
    # rejected rows are reported and replaced, not counted
    for pos, reason in zip(a.invalid["position"], a.invalid["reason"], strict=True):
        assert pos not in set(a.positions.tolist())
        if rows[pos] == "bad_smiles":
            assert reason == "unparseable SMILES"
        else:
            first = int(reason.removeprefix("duplicate of input "))
            assert first < pos and first in set(a.positions.tolist())
            assert rows[first] == rows[pos]


def test_sample_larger_than_valid_set(moses_file, tmp_path):
    path, rows = moses_file
    corpus = build_corpus(path, tmp_path / "all", max_molecules=10_000, seed=0)
    full = build_corpus(path, tmp_path / "full")
    assert corpus.keys == full.keys and len(full) == 500
    assert (full.invalid["reason"] == "unparseable SMILES").sum() == 50
    assert full.invalid["reason"].str.startswith("duplicate of input").sum() == 50


def test_reload_without_recomputation(moses_file, tmp_path, monkeypatch, caplog):
    path, _ = moses_file
    first = build_corpus(path, tmp_path / "out", max_molecules=50, seed=3)

    def boom(*args, **kwargs):
        raise AssertionError("standardised again")

    monkeypatch.setattr(corpus_mod, "standardize_many", boom)
    with caplog.at_level("INFO", logger="molmtd.corpus"):
        again = build_corpus(path, tmp_path / "out", max_molecules=50, seed=3)
    assert "reusing" in caplog.text
    assert again.keys == first.keys and again.fingerprint == first.fingerprint
    assert again.positions.tolist() == first.positions.tolist()
    pd.testing.assert_frame_equal(again.invalid, first.invalid, check_dtype=False)
    # different settings rebuild (and would call the standardiser)
    with pytest.raises(AssertionError, match="standardised again"):
        build_corpus(path, tmp_path / "out", max_molecules=50, seed=4)
    with pytest.raises(AssertionError, match="standardised again"):
        build_corpus(path, tmp_path / "out", max_molecules=50, seed=3,
                     standardize={"stereo": False})


def test_changed_file_rebuilds(tmp_path):
    path = tmp_path / "m.smi"
    path.write_text("CCO\nCCN\n")
    assert build_corpus(path, tmp_path / "out").keys == ["CCO", "CCN"]
    time.sleep(0.01)
    path.write_text("CCO\nCCN\nCCC\n")
    assert build_corpus(path, tmp_path / "out").keys == ["CCO", "CCN", "CCC"]


def test_unfinished_build_is_not_reused(tmp_path):
    path = tmp_path / "m.smi"
    path.write_text("CCO\nCCN\n")
    build_corpus(path, tmp_path / "out")
    (tmp_path / "out" / "corpus.json").unlink()  # as if the build died before the end
    shutil.copy(DATA / "messy.csv", tmp_path / "out" / "corpus.parquet")  # garbage
    assert build_corpus(path, tmp_path / "out").keys == ["CCO", "CCN"]
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_bundled_moses_sample(tmp_path):
    assert set(bundled_corpora()) == {"moses", "moses-test"}
    assert bundled_corpus_path("moses").name == "train.csv.gz"
    start = time.perf_counter()
    corpus = build_corpus("moses", tmp_path / "moses", max_molecules=200, seed=0)
    elapsed = time.perf_counter() - start
    assert len(corpus) == 200 and len(set(corpus.keys)) == 200
    assert corpus.positions.max() > 10_000  # sampled from the whole 1.58M rows
    assert elapsed < 30
    with gzip.open(bundled_corpus_path("moses"), "rt") as fh:
        assert next(fh).strip() == "SMILES"
    assert "molsets" in bundled_corpora()["moses"]


def test_missing_molsets_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(corpus_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps molsets==0\.3\.1"):
        build_corpus("moses", tmp_path / "out", max_molecules=5)
    with pytest.raises(KeyError, match="moses-test"):
        bundled_corpus_path("zinc")


def test_parallel_build_equals_serial(moses_file, tmp_path):
    path, _ = moses_file
    serial = build_corpus(path, tmp_path / "serial", max_molecules=300, seed=5, n_jobs=1)
    parallel = build_corpus(path, tmp_path / "parallel", max_molecules=300, seed=5, n_jobs=2)
    assert parallel.keys == serial.keys and len(serial) == 300
    assert parallel.positions.tolist() == serial.positions.tolist()
    pd.testing.assert_frame_equal(parallel.invalid, serial.invalid)


def test_sampling_mostly_invalid_file_grows_its_chunks(tmp_path, monkeypatch):
    # 3000 rows, 8 of them valid: a 5-molecule sample must look far past the first chunk
    valid = {137: "CCO", 602: "CCN", 1500: "CCC", 1501: "CCCl", 2200: "c1ccccc1",
             2300: "CCBr", 2999: "CCS", 10: "CCO"}
    rows = [valid.get(i, f"bad{i}") for i in range(3000)]
    path = tmp_path / "sparse.smi"
    path.write_text("\n".join(rows) + "\n")
    calls = []
    real = corpus_mod.standardize_many

    def counting(items, **kwargs):
        calls.append(len(items))
        return real(items, **kwargs)

    monkeypatch.setattr(corpus_mod, "standardize_many", counting)
    corpus = build_corpus(path, tmp_path / "out", max_molecules=5, seed=0)
    assert len(corpus) == 5 and set(corpus.keys) <= set(valid.values())
    assert len(calls) <= 3  # grown from the yield seen, not 256 rows at a time
    # the sample is the first 5 distinct valid keys in the seeded order, each at the
    # earliest position examined
    order = np.random.default_rng(0).permutation(len(rows)).tolist()
    examined_rows, seen = [], set()
    for p in order:
        examined_rows.append(p)
        if p in valid:
            seen.add(valid[p])
            if len(seen) == 5:
                break
    first: dict[str, int] = {}
    for p in sorted(p for p in examined_rows if p in valid):
        first.setdefault(valid[p], p)
    assert list(zip(corpus.keys, corpus.positions.tolist(), strict=True)) == list(first.items())
    counts = json.loads((tmp_path / "out" / "corpus.json").read_text())["counts"]
    assert counts["examined"] == len(examined_rows) <= sum(calls)
    assert len(corpus.invalid) == len(examined_rows) - 5
    assert set(corpus.invalid["reason"]) <= {"unparseable SMILES", "duplicate of input 10"}


def test_cache_follows_content_not_path(moses_file, tmp_path, monkeypatch):
    path, _ = moses_file
    first = build_corpus(path, tmp_path / "out", max_molecules=20, seed=0)
    moved = tmp_path / "elsewhere" / "renamed.smi"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    monkeypatch.setattr(corpus_mod, "standardize_many",
                        lambda *a, **k: pytest.fail("standardised again"))
    assert build_corpus(moved, tmp_path / "out", max_molecules=20, seed=0).keys == first.keys
    meta = json.loads((tmp_path / "out" / "corpus.json").read_text())
    assert meta["source"] == str(path) and meta["column"] is None
    assert meta["options"]["largest_fragment"] is True and meta["seed"] == 0


def test_bundled_moses_test_split_and_column(tmp_path):
    corpus = build_corpus("moses-test", tmp_path / "t", max_molecules=20, seed=1)
    assert len(corpus) == 20
    with pytest.raises(ValueError, match=r"no column 'smi'.*\['SMILES'\]"):
        build_corpus("moses-test", tmp_path / "u", column="smi", max_molecules=20)


def test_corpus_of_an_older_format_version_is_rebuilt_not_misread(tmp_path, caplog):
    import json

    from molmtd.corpus import build_corpus

    src = tmp_path / "in.smi"
    src.write_text("CCO\nc1ccccc1\nCCN\n")
    first = build_corpus(src, tmp_path / "c")
    meta_path = tmp_path / "c" / "corpus.json"
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = 0
    meta["fingerprint"] = "0" * 64  # an old layout would be misread if trusted
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level("INFO", logger="molmtd.corpus"):
        again = build_corpus(src, tmp_path / "c")
    assert "settings changed (format_version)" in caplog.text
    assert again.keys == first.keys and again.fingerprint == first.fingerprint
    assert json.loads(meta_path.read_text())["format_version"] == 1


@pytest.mark.slow  # two interpreters importing RDKit: ~20 s on 2 shared cores
def test_concurrent_corpus_builds_share_one_folder(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "in.smi"
    src.write_text("".join(f"{'C' * (i % 30 + 1)}O\n" for i in range(300)))
    script = ("import sys; from molmtd.corpus import build_corpus; "
              "c = build_corpus(sys.argv[1], sys.argv[2]); print(c.fingerprint)")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(src), str(tmp_path / "c")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    assert outs[0][0] == outs[1][0]
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.endswith(".tmp")]
