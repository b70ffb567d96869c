"""The Dask route: streaming embeds and teacher stores as Dask tasks, one per shard.

Both jobs reuse the single-process code paths, so their results are the same files:

* :func:`embed_file_dask`: task ``i`` of ``n`` runs :func:`molmtd.embedding.embed_file`
  with ``shard="i/n"`` (the parts ``p % n == i``) into one parquet dataset.
* :func:`build_store_dask`: the store is created here (keys, manifest), then task ``s``
  runs :meth:`molmtd.store.EmbeddingStore.build` with ``shards=[s]``; per-shard claims
  keep two tasks (a retried one, or a builder outside Dask) off the same shard.

Any ``distributed.Client`` works: a ``LocalCluster`` on one machine, or a
``dask_jobqueue.SLURMCluster`` / ``PBSCluster`` whose workers are batch jobs on a
shared file system (``pip install 'molmtd[dask]'``). Dask rather than Ray: its
jobqueue clusters start workers through the scheduler the user already has, with no
extra daemon, and a task here is a plain function over files (no actor state).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

__all__ = ["embed_file_dask", "build_store_dask"]

log = logging.getLogger(__name__)


def _n_tasks(client, n_tasks: int | None) -> int:
    if n_tasks is None:
        n_tasks = max(sum(client.nthreads().values()), 1)  # one task per worker thread
    if n_tasks < 1:
        raise ValueError(f"n_tasks must be >= 1, got {n_tasks}")
    return int(n_tasks)


def embed_file_dask(client, input_path: str | Path, output_path: str | Path, *,
                    n_tasks: int | None = None, **embed_kwargs) -> dict:
    """Embed a molecule file into a parquet dataset with ``n_tasks`` Dask tasks.

    Args:
        client: a ``distributed.Client``.
        input_path: the molecule file (readable by every worker).
        output_path: the ``.parquet`` dataset directory (on a file system every worker
            writes to).
        n_tasks: shards, one task each (default: the cluster's worker threads).
        **embed_kwargs: :func:`molmtd.embedding.embed_file` options (``teacher`` or
            ``featurizer``, ``column``, ``part_size``, ``resume``, ``overwrite``, ...).

    Returns:
        The summed summary of the shards (rows, embedded, invalid, parts written/reused)
        and the first shard's source fields.

    Raises:
        ValueError: a ``.npy`` output or a ``shard`` argument (the tasks are the shards);
            the errors of ``embed_file`` raised in a task.
    """
    from molmtd.embedding import embed_file

    if Path(output_path).suffix.lower() != ".parquet":
        raise ValueError(f"{output_path}: the Dask route writes a parquet dataset; use "
                         "-o OUT.parquet")
    if "shard" in embed_kwargs:
        raise ValueError("embed_file_dask makes the shards itself (one per task); drop shard=")
    n = _n_tasks(client, n_tasks)
    futures = [client.submit(embed_file, str(input_path), str(output_path),
                             shard=f"{i}/{n}", pure=False, key=f"molmtd-embed-{i}-of-{n}",
                             **embed_kwargs) for i in range(n)]
    summaries = client.gather(futures)
    total = {k: v for k, v in summaries[0].items() if k != "shard"}
    for key in ("rows", "embedded", "invalid", "parts_written", "parts_reused"):
        total[key] = sum(s[key] for s in summaries)
    examples = sorted((e for s in summaries for e in s["invalid_examples"]),
                      key=lambda e: e["position"])
    total["invalid_examples"] = examples[:10]
    total["tasks"] = n
    return total


@functools.lru_cache(maxsize=4)
def _worker_teacher(spec: str, runtime: tuple):
    from molmtd.teachers.base import get_teacher

    return get_teacher(spec, **dict(runtime))  # one model per worker process, reused


@functools.lru_cache(maxsize=4)
def _worker_keys(directory: str, keys_sha256: str) -> list[str]:
    from molmtd.store import EmbeddingStore

    return EmbeddingStore(directory).keys


def _build_one_shard(spec: str, runtime: tuple, directory: str, keys_sha256: str, index: int,
                     shard_size: int, dtype: str, batch_size: int | None) -> int:
    from molmtd.store import EmbeddingStore

    EmbeddingStore.build(_worker_teacher(spec, runtime), _worker_keys(directory, keys_sha256),
                         directory, shard_size=shard_size, dtype=dtype, batch_size=batch_size,
                         progress=False, shards=[index])
    return index


def build_store_dask(client, teacher: str, keys: Sequence[str], directory: str | Path, *,
                     shard_size: int = 10_000, dtype: str = "float32",
                     batch_size: int | None = None, **runtime):
    """Build one teacher's :class:`~molmtd.store.EmbeddingStore` with one Dask task per shard.

    Args:
        client: a ``distributed.Client`` whose workers see ``directory``.
        teacher: the teacher spec (each worker builds its own teacher from it, once).
        keys: standardised SMILES in corpus order.
        directory: the store directory (created, or resumed: finished shards are kept).
        shard_size: molecules per shard, as in :meth:`EmbeddingStore.build`.
        dtype: "float32" or "float16", as there.
        batch_size: molecules per ``teacher.embed`` call, as there.
        **runtime: teacher runtime options (``n_jobs``, ``device``, ``batch_size``).

    Returns:
        The finished store.

    Raises:
        StoreError: the directory holds another store, or a shard is still missing after
            every task ran (a task failed: the error is raised from its future first).
    """
    from molmtd.errors import StoreError
    from molmtd.store import EmbeddingStore
    from molmtd.teachers.base import get_teacher

    directory = Path(directory)
    local = get_teacher(teacher, **runtime)
    # here: create (or check and resume) the store, keys and manifest; build no shard
    store = EmbeddingStore.build(local, keys, directory, shard_size=shard_size, dtype=dtype,
                                 progress=False, shards=[])
    todo = [s for s in range(int(store.manifest["n_shards"])) if s not in store._shards]
    key = tuple(sorted(runtime.items()))
    futures = [client.submit(_build_one_shard, local.spec, key, str(directory),
                             store.manifest["keys_sha256"], s, shard_size, dtype, batch_size,
                             pure=False, key=f"molmtd-shard-{directory.name}-{s}")
               for s in todo]
    client.gather(futures)
    store = EmbeddingStore(directory)
    if not store.is_complete:
        raise StoreError(f"embedding store {directory}: {store!r} after every task ran; run "
                         "build_store_dask again (it resumes)")
    log.info("%s: %d shard(s) built by Dask tasks into %s", local.spec, len(todo), directory)
    return store
