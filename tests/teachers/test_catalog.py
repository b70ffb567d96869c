"""The teacher catalogue: records, availability, cached dims and measured throughput."""

from __future__ import annotations

import json

import numpy as np
import pytest

from molmtd.teachers import catalog
from molmtd.teachers.base import Teacher, TeacherInfo, TeacherOutput

KEYS = {"name", "family", "description", "available", "reason", "fix", "spec", "version",
        "dim", "throughput_mol_s", "requires"}


class Counting(Teacher):
    """A cheap teacher that counts its embed calls and model loads."""

    name, family = "counting", "fingerprint"
    embeds = 0
    loads = 0

    def __init__(self, size: int = 4, n_jobs: int = 1):
        self.size = size
        self.n_jobs = n_jobs

    @property
    def dim(self) -> int:
        type(self).loads += 1
        return self.size

    def embed(self, smiles):
        type(self).embeds += 1
        return TeacherOutput(np.zeros((len(smiles), self.size), np.float32),
                             np.ones(len(smiles), bool))


class Missing(Teacher):
    name, family = "missing", "gnn"

    @classmethod
    def available(cls):
        return False, "foo is not installed: pip install 'molmtd[foo]'"

    @property
    def version(self):
        raise ImportError("foo is not installed: pip install 'molmtd[foo]'")

    @property
    def dim(self):
        raise AssertionError("must not load an unavailable teacher")

    def embed(self, smiles):
        raise AssertionError("must not run an unavailable teacher")


class NeedsPath(Teacher):
    name, family = "needs-path", "file"

    def __init__(self, path: str):
        self.path = path

    @property
    def dim(self):
        raise AssertionError

    def embed(self, smiles):
        raise AssertionError


@pytest.fixture()
def fake_registry(monkeypatch):
    infos = [TeacherInfo(c.name, c.family, c.__doc__ or "", c)
             for c in (Counting, Missing, NeedsPath)]
    monkeypatch.setattr(catalog, "list_teachers", lambda: infos)
    Counting.embeds = Counting.loads = 0


def test_records_availability_and_requirements(fake_registry, tmp_path):
    rows = {r["name"]: r for r in catalog.describe_teachers(cache_path=tmp_path / "c.json")}
    assert set(rows) == {"counting", "missing", "needs-path"}
    assert all(set(r) == KEYS for r in rows.values())
    c = rows["counting"]
    assert (c["available"], c["dim"], c["spec"]) == (True, 4, "counting:size=4")
    assert c["throughput_mol_s"] is None
    m = rows["missing"]
    assert m["available"] is False and "foo is not installed" in m["reason"]
    assert m["fix"] == "pip install 'molmtd[foo]'" and m["dim"] is None
    n = rows["needs-path"]
    assert n["requires"] == ["path"] and n["dim"] is None and n["spec"] is None
    assert Counting.embeds == 0  # nothing measured unless asked


def test_measure_once_then_cached(fake_registry, tmp_path):
    cache = tmp_path / "sub" / "throughput.json"
    smiles = ["CCO"] * 50
    rows = {r["name"]: r for r in catalog.describe_teachers(measure=True, cache_path=cache,
                                                            molecules=smiles)}
    rate = rows["counting"]["throughput_mol_s"]
    assert isinstance(rate, float) and rate > 0
    assert Counting.embeds == 2  # warm-up + timed run
    data = json.loads(cache.read_text())
    entry = data["entries"][f"counting:size=4|{Counting(4).version}"]
    assert entry["throughput_mol_s"] == rate and entry["dim"] == 4 and entry["n_molecules"] == 50
    # second listing: read from the cache, nothing embedded or loaded again
    Counting.loads = 0
    again = {r["name"]: r for r in catalog.describe_teachers(measure=True, cache_path=cache,
                                                             molecules=smiles)}
    assert again["counting"]["throughput_mol_s"] == rate
    assert Counting.embeds == 2 and Counting.loads == 0


def test_unreadable_cache_is_ignored(fake_registry, tmp_path):
    cache = tmp_path / "c.json"
    cache.write_text("{not json")
    rows = catalog.describe_teachers(cache_path=cache)
    assert {r["name"] for r in rows} == {"counting", "missing", "needs-path"}
    assert json.loads(cache.read_text())["format"] == 1  # rewritten


def test_real_registry_lists_every_family(tmp_path, monkeypatch):
    """Every built-in teacher is listed; model-backed dims come from the cache (no loading)."""
    from molmtd.teachers import get_teacher
    from molmtd.teachers.gnn import ChempropTeacher

    cache = tmp_path / "c.json"
    chemprop = get_teacher("chemprop")
    if chemprop.available()[0]:  # seed the cache so the checkpoint is not loaded here
        cache.write_text(json.dumps({"format": 1, "entries": {
            f"{chemprop.spec}|{chemprop.version}": {"dim": 300}}}))
    monkeypatch.setattr(ChempropTeacher, "_load", lambda self: pytest.fail("loaded chemprop"))
    rows = {r["name"]: r for r in catalog.describe_teachers(cache_path=cache)}
    assert {"ecfp", "maccs", "chemprop", "minimol", "pyg", "chemnet", "hf", "files"} <= set(rows)
    assert rows["ecfp"]["family"] == "fingerprint" and rows["ecfp"]["dim"] == 2048
    assert rows["minimol"]["family"] == "gnn" and rows["minimol"]["dim"] == 512
    assert rows["chemnet"]["family"] == "smiles" and rows["chemnet"]["dim"] == 512
    assert rows["hf"]["requires"] == ["model"] and rows["hf"]["dim"] is None
    assert rows["pyg"]["requires"] == ["module", "weights"]
    if rows["chemprop"]["available"]:
        assert rows["chemprop"]["dim"] == 300
        assert rows["chemprop"]["spec"] == "chemprop:checkpoint=admet_regression/0"
