"""The Dask route on a 2-worker LocalCluster gives the same files as the single-process path."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("distributed")

from molmtd.dask_jobs import build_store_dask, embed_file_dask  # noqa: E402
from molmtd.embedding import embed_file  # noqa: E402
from molmtd.store import EmbeddingStore  # noqa: E402
from molmtd.teachers import get_teacher  # noqa: E402

KEYS = [f"{'C' * (1 + i // 10)}{'O' * (1 + i % 10)}" for i in range(95)]


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def _hashes(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.glob("part-*.parquet"))}


def test_embed_on_dask_equals_the_single_process_run(client, tmp_path):
    path = tmp_path / "lib.smi"
    path.write_text("\n".join([*KEYS, "not_a_smiles", ""]) + "\n")
    one, dask_out = tmp_path / "one.parquet", tmp_path / "dask.parquet"
    embed_file(path, one, teacher="ecfp:size=64", part_size=10)
    summary = embed_file_dask(client, path, dask_out, teacher="ecfp:size=64", part_size=10)
    assert summary["tasks"] == 2 and summary["rows"] == 97 and summary["invalid"] == 2
    assert summary["parts_written"] == 10
    assert [e["position"] for e in summary["invalid_examples"]] == [95, 96]
    assert _hashes(dask_out) == _hashes(one) and len(_hashes(one)) == 10
    again = embed_file_dask(client, path, dask_out, teacher="ecfp:size=64", part_size=10,
                            resume=True)
    assert (again["parts_reused"], again["parts_written"]) == (10, 0)
    with pytest.raises(ValueError, match="parquet dataset"):
        embed_file_dask(client, path, tmp_path / "x.npy", teacher="ecfp:size=64")


def test_store_on_dask_equals_the_single_process_store(client, tmp_path):
    alone = EmbeddingStore.build(get_teacher("ecfp:size=32"), KEYS, tmp_path / "alone",
                                 shard_size=10, progress=False)
    store = build_store_dask(client, "ecfp:size=32", KEYS, tmp_path / "dask", shard_size=10)
    assert store.is_complete
    strip = ("created",)
    a = {k: v for k, v in alone.manifest.items() if k not in strip}
    b = {k: v for k, v in json.loads((tmp_path / "dask" / "manifest.json").read_text()).items()
         if k not in strip}
    assert a == b  # same shards, files and checksums
    np.testing.assert_array_equal(store.rows(np.arange(len(KEYS)))[0],
                                  alone.rows(np.arange(len(KEYS)))[0])
    assert not list((tmp_path / "dask").glob("*.claim"))
    # a second call finds every shard built and submits nothing
    assert build_store_dask(client, "ecfp:size=32", KEYS, tmp_path / "dask",
                            shard_size=10).is_complete
