"""Sharded on-disk store of one teacher's embeddings of one corpus: resumable, checksummed.

Layout of a store directory::

    manifest.json             format, teacher spec and version, dim, dtype, keys hash,
                              finished shards (rows, file names, sha256, n_ok)
    keys.txt                  one key (standardised SMILES) per line, row order
    shard_00000.emb.npy       float16/float32 [rows, dim], NaN where not ok (memory-mappable)
    shard_00000.ok.npy        bool [rows]
    shard_00000.reasons.json  {row in shard: why the teacher could not embed it}

A shard's files are written under temporary names unique to the process and renamed
(``os.replace``, :mod:`molmtd.safeio`); only then is the shard added to the manifest,
itself replaced atomically. So ``kill -9`` at any moment loses at most the shard in
progress, and a build resumed on the same directory never recomputes a finished shard.
When a shard is embedded in several batches (``batch_size``), each finished batch is
kept too, in ``shard_00000.partial/rows_<start>_<stop>.npz`` (atomic, with its keys'
hash), until the shard is written: for a slow teacher (Mordred: ~10k molecules an hour
on 2 cores) an interruption then loses at most one batch, not up to a whole shard.
Several builders (processes, or hosts over a shared file system) build one store
together: each embeds the shards it claims (``shard_00000.claim``, :mod:`molmtd.claims`:
a dead builder's claim is taken over) and skips the finished or claimed ones. The
inter-process lock on the directory (``.lock``) is held only to plan, to claim a shard
and to add a finished shard to the manifest; a builder returns when every shard it was
asked for is built, by it or by the others.

Checksums are verified when a shard is first read (and, for finished shards, when a
build resumes or reopens the store): a corrupt shard is recomputed by the next build,
with a warning, and reading it raises :class:`~molmtd.errors.StoreError` meanwhile.
Rows whose values read back non-finite are masked (ok False), with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.claims import STALE_AFTER_S, is_held, try_claim
from molmtd.errors import ShapeError, StoreError
from molmtd.safeio import (
    TMP_SUFFIX,
    atomic_write,
    atomic_write_text,
    directory_lock,
    remove_stale_temporaries,
)

__all__ = ["EmbeddingStore", "FORMAT_VERSION", "keys_sha256"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_DTYPES = ("float16", "float32")
_F16_MAX = float(np.finfo(np.float16).max)  # 65504
_POLL_S = 0.5  # how often a builder waiting for others' shards looks at the manifest
_STATS_BLOCK = 4096  # rows per block in mean_std: 4096 x 2048 float64 = 64 MiB
# manifest fields that must match for a build to resume in an existing directory
_IDENTITY = ("format_version", "teacher_spec", "teacher_version", "n_molecules", "keys_sha256",
             "dtype", "shard_size")


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def keys_sha256(keys: Sequence[str]) -> str:
    """sha256 of the keys, one per line: the identity of a key list in manifests and caches."""
    h = hashlib.sha256()
    for key in keys:
        h.update(key.encode())
        h.update(b"\n")
    return h.hexdigest()


def _save_npy(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, array)

    atomic_write(path, write)


def _save_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _partial_batch_path(partial: Path, start: int, n: int) -> Path:
    return partial / f"rows_{start}_{start + n}.npz"


def _save_partial_batch(partial: Path, start: int, batch: list[str], emb: np.ndarray,
                        ok: np.ndarray, reasons: dict[int, str]) -> None:
    """Keep one finished batch of an unfinished shard (atomic; named by its rows)."""
    partial.mkdir(exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, emb=emb, ok=ok, keys_sha256=np.array(keys_sha256(batch)),
                     reasons=np.array(json.dumps({str(k): v for k, v in reasons.items()})))

    atomic_write(_partial_batch_path(partial, start, len(batch)), write)


def _load_partial_batch(partial: Path, start: int, batch: list[str], dim: int):
    """A batch kept by an interrupted build, or None (absent, unreadable or not these keys)."""
    path = _partial_batch_path(partial, start, len(batch))
    if not path.is_file():
        return None
    try:
        with np.load(path) as saved:
            emb, ok = saved["emb"], saved["ok"]
            same = str(saved["keys_sha256"]) == keys_sha256(batch)
            reasons = {int(k): v for k, v in json.loads(str(saved["reasons"])).items()}
    except (OSError, ValueError, KeyError) as err:
        log.warning("embedding store: ignoring unreadable batch %s (%s)", path, err)
        return None
    if not same or emb.shape != (len(batch), dim) or ok.shape != (len(batch),):
        log.warning("embedding store: batch %s does not match this build; recomputing it", path)
        return None
    log.info("embedding store: rows %d..%d reused from an interrupted build (%s)",
             start, start + len(batch) - 1, path.parent.name)
    return emb, ok, reasons


def _remove_partial(partial: Path) -> None:
    if partial.is_dir():
        for path in partial.iterdir():
            path.unlink(missing_ok=True)
        partial.rmdir()


# (path, size, mtime_ns, expected sha256) of files verified in this process: a store
# opened again (prepare_data, then setup) is not hashed twice
_VERIFIED: set[tuple[str, int, int, str]] = set()


def _file_matches(path: Path, sha256: str | None) -> bool:
    """Whether ``path`` exists and hashes to ``sha256`` (memoised per file state)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if sha256 is None:  # nothing to check against
        return True
    token = (str(path.resolve()), st.st_size, st.st_mtime_ns, sha256)
    if token in _VERIFIED:
        return True
    if _sha256_file(path) != sha256:
        return False
    _VERIFIED.add(token)
    return True


def _adopt_sibling_shards(directory: Path, manifest: dict, keys: list[str],
                          todo: list[int]) -> set[int]:
    """Link finished shards of sibling stores that hold exactly this store's rows.

    A corpus that extends another (the first 50k rows of the zinc corpus plus new
    molecules; a 250k corpus after its 50k prefix) has the same keys in its leading
    shards. The cache keeps one store per teacher and corpus side by side
    (``teachers/<teacher>/<corpus>``), so a sibling of the same teacher spec, version,
    dtype and shard size whose shard ``s`` holds the same keys, in the same order, holds
    this store's shard ``s``: its files are hard-linked (copied across file systems)
    after their checksums are verified, and the teacher never sees those molecules.
    Shard files are only ever replaced by rename, never written in place, so a shared
    inode cannot change under either store.

    Returns:
        The shard indices adopted (also written to the manifest).
    """
    import os
    import shutil

    adopted: set[int] = set()
    size = int(manifest["shard_size"])
    same = ("teacher_spec", "teacher_version", "dtype", "shard_size", "dim")
    try:
        siblings = sorted(d for d in directory.parent.iterdir() if d.is_dir() and d != directory)
    except OSError:
        return adopted
    for sibling in siblings:
        if not todo or len(adopted) == len(todo):
            break
        try:
            other = json.loads((sibling / "manifest.json").read_text())
            if any(other.get(k) != manifest.get(k) for k in same):
                continue
            entries = {int(e["index"]): e for e in other["shards"]}
            candidates = [s for s in todo if s not in adopted and s in entries]
            if not candidates:
                continue
            with open(sibling / "keys.txt", encoding="utf-8") as fh:
                their_keys = fh.read().split("\n")[:-1]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a store, or one being written: nothing to adopt from it
        for s in candidates:
            entry = entries[s]
            start, stop = s * size, min((s + 1) * size, len(keys))
            if (int(entry["start"]), int(entry["stop"])) != (start, stop) \
                    or their_keys[start:stop] != keys[start:stop]:
                continue
            if not all(_file_matches(sibling / entry[f"{kind}_file"], entry.get(f"{kind}_sha256"))
                       for kind in ("emb", "ok")):
                continue
            for name in (entry["emb_file"], entry["ok_file"], entry.get("reasons_file")):
                if name and (sibling / name).is_file():
                    target = directory / name
                    target.unlink(missing_ok=True)
                    try:
                        os.link(sibling / name, target)
                    except OSError:
                        shutil.copy2(sibling / name, target)
            manifest["shards"].append(dict(entry))
            manifest["shards"].sort(key=lambda x: x["index"])
            _save_text(directory / "manifest.json", json.dumps(manifest, indent=1))
            adopted.add(s)
        if adopted:
            log.info("%s: %d shard(s) %s taken from the sibling store %s (same keys)",
                     manifest["teacher_spec"], len(adopted), sorted(adopted), sibling)
    return adopted


def _finished_shards(directory: Path) -> set[int]:
    manifest = json.loads((directory / "manifest.json").read_text())
    return {int(e["index"]) for e in manifest["shards"]}


def _record_shard(directory: Path, entry: dict) -> None:
    """Add a written shard to the manifest as it is on disk now (call under the lock)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["shards"] = sorted([e for e in manifest["shards"] if e["index"] != entry["index"]]
                                + [entry], key=lambda e: e["index"])
    _save_text(directory / "manifest.json", json.dumps(manifest, indent=1))


def _remove_shard_temporaries(directory: Path, index: int) -> None:
    """Temporary files of shard ``index`` (its files and kept batches) left by a dead writer."""
    stem = f"shard_{index:05d}"
    for tmp in directory.glob(f".{stem}.*{TMP_SUFFIX}"):
        tmp.unlink(missing_ok=True)
    partial = directory / f"{stem}.partial"
    if partial.is_dir():
        remove_stale_temporaries(partial)


def _shard_names(index: int) -> dict[str, str]:
    stem = f"shard_{index:05d}"
    return {"emb_file": f"{stem}.emb.npy", "ok_file": f"{stem}.ok.npy",
            "reasons_file": f"{stem}.reasons.json"}


class EmbeddingStore:
    """One teacher's embeddings of a keyed corpus, read lazily from disk.

    Build with :meth:`build`; open an existing store with ``EmbeddingStore(directory)``
    (reads only ``manifest.json``; shards are memory-mapped on first use).

    Args:
        directory: the store directory.

    Raises:
        StoreError: the directory holds no store or a store of another format version.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        path = self.directory / "manifest.json"
        if not path.is_file():
            raise StoreError(f"{self.directory} holds no embedding store (no manifest.json); "
                             "build one with EmbeddingStore.build(teacher, keys, directory)")
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise StoreError(
                f"embedding store {self.directory} has format version "
                f"{self.manifest.get('format_version')!r}, this molmtd reads {FORMAT_VERSION}; "
                "delete the directory so that it is rebuilt")
        self._shards = {int(s["index"]): s for s in self.manifest["shards"]}
        self._maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._keys: list[str] | None = None

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, teacher, keys: Sequence[str], directory: str | Path, *,
              shard_size: int = 10_000, dtype: str = "float32", batch_size: int | None = None,
              progress: bool = True, rows: int | None = None,
              reuse_siblings: bool = False, shards: Sequence[int] | None = None,
              stale_after: float = STALE_AFTER_S) -> EmbeddingStore:
        """Embed ``keys`` with ``teacher`` into ``directory``; finished shards are kept.

        Args:
            teacher: a :class:`~molmtd.teachers.base.Teacher`.
            keys: standardised SMILES, in corpus order (row ``i`` of the store is ``keys[i]``).
            directory: created if missing; an existing store there is resumed.
            shard_size: molecules per shard file.
            dtype: "float32" or "float16" (half the disk and page cache).
            batch_size: molecules per ``teacher.embed`` call; None = one call per shard.
            progress: show a tqdm bar (progress is logged either way).
            rows: build only the shards that hold rows ``[0, rows)`` (None = all). The
                store keeps the identity of the whole key list, so a later call with a
                larger ``rows`` (or None) resumes it: runs on a prefix of a big corpus
                share its caches while they are being built.
            reuse_siblings: take finished shards that hold exactly the same keys from
                stores of the same teacher beside ``directory`` (hard links after a checksum
                check) instead of embedding them again: a corpus that extends another
                pays only for its new molecules. The distillation cache layout
                (``teachers/<teacher>/<corpus>``) turns it on.
            shards: build only these shard indices (one Dask task per shard); None = every
                shard that ``rows`` needs, waiting for those other builders hold.
            stale_after: seconds without a heartbeat after which another host's claim on
                a shard is taken over (a claim of a dead process on this host at once).

        Returns:
            The store, opened for reading.

        Raises:
            StoreError: the directory holds a store of another teacher spec, teacher
                version, key list, dtype or shard size (the message says what differs);
                or a float16 store would overflow.
            ShapeError: the teacher returned arrays of the wrong shape.
            ValueError: a bad ``dtype``, ``shard_size`` or ``batch_size``, or a key with a
                line break.
        """
        if dtype not in _DTYPES:
            raise ValueError(f"The 'dtype' parameter of EmbeddingStore.build must be one of "
                             f"{_DTYPES}. Got {dtype!r} instead.")
        for name, value in (("shard_size", shard_size), ("batch_size", batch_size)):
            if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
                raise ValueError(f"The {name!r} parameter of EmbeddingStore.build must be a "
                                 f"positive integer. Got {value!r} instead.")
        directory = Path(directory)
        keys = [str(k) for k in keys]
        bad = next((i for i, k in enumerate(keys) if "\n" in k or "\r" in k), None)
        if bad is not None:
            raise ValueError(f"key {bad} ({keys[bad][:60]!r}) contains a line break; keys "
                             "must be standardised SMILES")
        identity = {"format_version": FORMAT_VERSION, "teacher_spec": teacher.spec,
                    "teacher_version": teacher.version, "n_molecules": len(keys),
                    "keys_sha256": keys_sha256(keys), "dtype": dtype,
                    "shard_size": int(shard_size)}
        n_shards = -(-len(keys) // int(shard_size))
        bad_shard = next((s for s in shards or () if not 0 <= int(s) < n_shards), None)
        if bad_shard is not None:
            raise ValueError(f"The 'shards' parameter of EmbeddingStore.build must hold indices "
                             f"in 0..{n_shards - 1}. Got shard {bad_shard} out of range "
                             "instead.")
        if cls._prefix_is_built(directory, identity, rows):
            # nothing to build: a reader of a finished prefix does not wait for a builder
            # that is extending the same store further (checksums are verified on read)
            return cls(directory)
        # the directory lock is held only to plan and to record finished shards; each
        # shard is embedded under its own claim, so N builders divide the work
        with directory_lock(directory, f"the {teacher.spec} embedding store"):
            todo = cls._plan_locked(teacher, keys, directory, identity, shard_size, rows,
                                    reuse_siblings)
        if shards is not None:
            todo = [s for s in todo if s in {int(x) for x in shards}]
        if todo:
            cls._build_claimed(teacher, keys, directory, todo, shard_size, dtype, batch_size,
                               progress, wait=shards is None, stale_after=stale_after)
        return cls(directory)

    @staticmethod
    def _prefix_is_built(directory: Path, identity: dict, rows: int | None) -> bool:
        """Whether every shard that rows ``[0, rows)`` need is listed and matches its checksum."""
        path = directory / "manifest.json"
        if not path.is_file():
            return False
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        if any(manifest.get(k) != identity[k] for k in _IDENTITY):
            return False  # the locked path reports the mismatch
        size = int(identity["shard_size"])
        n_shards = int(manifest["n_shards"])
        wanted = n_shards if rows is None else min(n_shards, -(-max(int(rows), 0) // size))
        entries = {int(x["index"]): x for x in manifest["shards"]}
        return all(i in entries for i in range(wanted)) and all(
            _file_matches(directory / entries[i][f"{kind}_file"], entries[i].get(f"{kind}_sha256"))
            for i in range(wanted) for kind in ("emb", "ok"))

    @classmethod
    def _plan_locked(cls, teacher, keys: list[str], directory: Path, identity: dict,
                     shard_size: int, rows: int | None, reuse_siblings: bool) -> list[int]:
        """Open or create the store, drop corrupt shards, adopt siblings: shards to build."""
        manifest = cls._open_or_create(directory, identity)
        if manifest["dim"] is None:  # a new store: keys first, then the manifest names them
            manifest["dim"] = int(teacher.dim)
            _save_text(directory / "keys.txt", "".join(k + "\n" for k in keys))
            _save_text(directory / "manifest.json", json.dumps(manifest, indent=1))
        n_shards = manifest["n_shards"]
        done = {int(s["index"]) for s in manifest["shards"]}
        for entry in list(manifest["shards"]):
            s = int(entry["index"])
            bad = [entry[f"{kind}_file"] for kind in ("emb", "ok")
                   if not _file_matches(directory / entry[f"{kind}_file"],
                                        entry.get(f"{kind}_sha256"))]
            if bad:
                log.warning("embedding store %s: shard %d (%s) is missing or does not match "
                            "its checksum (corrupt); recomputing it", directory, s,
                            ", ".join(bad))
                manifest["shards"] = [x for x in manifest["shards"] if x["index"] != s]
                done.discard(s)
                _save_text(directory / "manifest.json", json.dumps(manifest, indent=1))
        wanted = n_shards if rows is None else min(n_shards, -(-max(int(rows), 0) // shard_size))
        todo = [s for s in range(wanted) if s not in done]
        if todo and reuse_siblings:
            adopted = _adopt_sibling_shards(directory, manifest, keys, todo)
            todo = [s for s in todo if s not in adopted]
        if not todo:
            log.debug("embedding store %s is complete (%s)", directory, teacher.spec)
            return []
        if teacher.dim != manifest["dim"]:
            raise StoreError(f"embedding store {directory} holds dim {manifest['dim']} but "
                             f"teacher {teacher.spec} now gives dim {teacher.dim}; delete the "
                             "directory or choose another cache dir")
        if done:
            log.info("%s: resuming embedding store %s, %d of %d shards already done",
                     teacher.spec, directory, len(done), n_shards)
        return todo

    @classmethod
    def _build_claimed(cls, teacher, keys: list[str], directory: Path, todo: list[int],
                       shard_size: int, dtype: str, batch_size: int | None, progress: bool,
                       wait: bool, stale_after: float) -> None:
        """Embed the ``todo`` shards this builder can claim; with ``wait``, until all are built.

        A shard another live builder holds is skipped, then looked at again: it is done
        when its builder records it, or taken over when that builder's claim goes stale.
        """
        lock_what = f"the {teacher.spec} embedding store"
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=sum(min(shard_size, len(keys) - s * shard_size) for s in todo),
                       unit="mol", desc=teacher.spec, dynamic_ncols=True)
        t0, n_new, n_shards = time.perf_counter(), 0, -(-len(keys) // shard_size)
        remaining, waited = list(todo), False
        try:
            while remaining:
                progressed = False
                for s in list(remaining):
                    with directory_lock(directory, lock_what):
                        if s in _finished_shards(directory):
                            remaining.remove(s)  # built by another builder
                            continue
                        claim = try_claim(directory, s, stale_after)
                        if claim is None:
                            continue  # another live builder holds it
                        _remove_shard_temporaries(directory, s)  # of a dead writer of s
                    try:
                        start, stop = s * shard_size, min((s + 1) * shard_size, len(keys))
                        partial = directory / f"shard_{s:05d}.partial"
                        emb, ok, reasons = cls._embed_shard(teacher, keys[start:stop], start,
                                                            batch_size, bar, partial)
                        entry = cls._write_shard(directory, s, start, stop, emb, ok, reasons,
                                                 dtype, teacher.spec)
                        with directory_lock(directory, lock_what):
                            _record_shard(directory, entry)
                        _remove_partial(partial)  # the shard holds its batches now
                    finally:
                        claim.release()
                    remaining.remove(s)
                    progressed = True
                    n_new += stop - start
                    rate = n_new / max(time.perf_counter() - t0, 1e-9)
                    log.info("%s: shard %d/%d written (%d of %d embedded, %.0f mol/s)",
                             teacher.spec, s + 1, n_shards, int(ok.sum()), stop - start, rate)
                if remaining and not progressed:
                    if not wait:
                        log.info("%s: shard(s) %s are being built by other builders",
                                 teacher.spec, remaining)
                        return
                    if not waited:
                        log.info("%s: waiting for %d shard(s) other builders hold (%s)",
                                 teacher.spec, len(remaining), directory)
                        waited = True
                    time.sleep(_POLL_S)
        finally:
            if bar is not None:
                bar.close()

    @staticmethod
    def _open_or_create(directory: Path, identity: dict) -> dict:
        path = directory / "manifest.json"
        if path.is_file():
            try:
                manifest = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                raise StoreError(f"embedding store {directory}: manifest.json is unreadable "
                                 f"({err}); delete the directory and build again") from err
            diff = [k for k in _IDENTITY if manifest.get(k) != identity[k]]
            if diff:
                what = "; ".join(f"{k}: store has {manifest.get(k)!r}, requested {identity[k]!r}"
                                 for k in diff)
                raise StoreError(
                    f"embedding store {directory} was built for something else ({what}); "
                    "delete that directory to rebuild it, or choose another cache dir")
            if not (directory / "keys.txt").is_file():
                raise StoreError(f"embedding store {directory} has a manifest but no keys.txt; "
                                 "delete the directory and build again")
            # temporaries left by killed writers; a shard's files are written only by the
            # builder that holds its claim, so those of a held shard are kept
            for tmp in [*directory.glob(f"*{TMP_SUFFIX}"),
                        *directory.glob(f"shard_*.partial/*{TMP_SUFFIX}")]:
                m = re.search(r"shard_(\d+)", tmp.relative_to(directory).as_posix())
                if m is None or not is_held(directory, int(m.group(1))):
                    tmp.unlink(missing_ok=True)
            return manifest
        # dim is asked of the teacher only for a new store or unfinished work: a finished
        # store never asks (for some teachers dim loads a model or a file)
        directory.mkdir(parents=True, exist_ok=True)
        n = identity["n_molecules"]
        manifest = {**identity, "dim": None, "n_shards": -(-n // identity["shard_size"]),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "shards": []}
        return manifest

    @staticmethod
    def _embed_shard(teacher, keys: list[str], offset: int, batch_size: int | None, bar,
                     partial: Path | None = None):
        dim = teacher.dim
        emb = np.full((len(keys), dim), np.nan, dtype=np.float32)
        ok = np.zeros(len(keys), dtype=bool)
        reasons: dict[int, str] = {}
        step = batch_size or max(1, len(keys))
        # batches are checkpointed only when a shard has several of them: a one-batch
        # shard is the shard itself
        keep = partial if partial is not None and step < len(keys) else None
        for b in range(0, len(keys), step):
            batch = keys[b:b + step]
            saved = _load_partial_batch(keep, offset + b, batch, dim) if keep else None
            if saved is None:
                out = teacher.embed(batch)
                if out.embeddings.shape != (len(batch), dim):
                    raise ShapeError(f"teacher {teacher.spec} embeddings for rows "
                                     f"{offset + b}..{offset + b + len(batch) - 1}",
                                     (len(batch), dim), out.embeddings.shape)
                saved = (np.asarray(out.embeddings, dtype=np.float32),
                         np.asarray(out.ok, dtype=bool), dict(out.reasons))
                if keep:
                    _save_partial_batch(keep, offset + b, batch, *saved)
            emb[b:b + len(batch)], ok[b:b + len(batch)] = saved[0], saved[1]
            reasons.update({b + int(i): r for i, r in saved[2].items()})
            if bar is not None:
                bar.update(len(batch))
        # a non-finite value would poison every loss it enters: mask the row instead
        broken = ok & ~np.isfinite(emb).all(axis=1)
        if broken.any():
            log.warning("%s: %d molecules got non-finite embeddings (first: row %d); they "
                        "are masked", teacher.spec, int(broken.sum()),
                        offset + int(np.flatnonzero(broken)[0]))
            for i in np.flatnonzero(broken):
                reasons[int(i)] = "teacher returned non-finite values"
            ok &= ~broken
        emb[~ok] = np.nan
        for i in np.flatnonzero(~ok):
            reasons.setdefault(int(i), "teacher gave no reason")
        return emb, ok, reasons

    @staticmethod
    def _write_shard(directory: Path, index: int, start: int, stop: int, emb: np.ndarray,
                     ok: np.ndarray, reasons: dict[int, str], dtype: str, spec: str) -> dict:
        if dtype == "float16":
            big = float(np.abs(emb[ok]).max(initial=0.0))
            if big > _F16_MAX:
                row = start + int(np.flatnonzero(ok & (np.abs(emb) > _F16_MAX).any(1))[0])
                raise StoreError(
                    f"teacher {spec} produced |value| {big:.4g} (first at row {row}), beyond "
                    f"float16's range (+-{_F16_MAX:.0f}); build this store with "
                    "dtype='float32' (recipe: store.dtype: float32)")
        names = _shard_names(index)
        _save_npy(directory / names["emb_file"], emb.astype(dtype))
        _save_npy(directory / names["ok_file"], ok)
        _save_text(directory / names["reasons_file"],
                   json.dumps({str(k): v for k, v in sorted(reasons.items())}))
        return {"index": index, "start": start, "stop": stop,
                "files": [names["emb_file"], names["ok_file"]], **names,
                "emb_sha256": _sha256_file(directory / names["emb_file"]),
                "ok_sha256": _sha256_file(directory / names["ok_file"]),
                "n_ok": int(ok.sum())}

    # -- reading --------------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """Canonical spec of the teacher that built the store."""
        return self.manifest["teacher_spec"]

    @property
    def version(self) -> str:
        """The teacher's version string at build time."""
        return self.manifest["teacher_version"]

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def dtype(self) -> str:
        """On-disk dtype ("float16" or "float32"); :meth:`rows` always returns float32."""
        return self.manifest["dtype"]

    @property
    def shard_size(self) -> int:
        return int(self.manifest["shard_size"])

    def __len__(self) -> int:
        return int(self.manifest["n_molecules"])

    @property
    def n_ok(self) -> int:
        """Molecules the teacher embedded, over finished shards."""
        return sum(int(s["n_ok"]) for s in self._shards.values())

    @property
    def is_complete(self) -> bool:
        """Whether every shard is built."""
        return len(self._shards) == int(self.manifest["n_shards"])

    @property
    def keys(self) -> list[str]:
        """The keys, in row order (read from keys.txt once)."""
        if self._keys is None:
            text = (self.directory / "keys.txt").read_text()
            self._keys = text.split("\n")[:-1] if text else []
            if len(self._keys) != len(self):
                raise StoreError(f"embedding store {self.directory}: keys.txt has "
                                 f"{len(self._keys)} keys, the manifest {len(self)}; delete "
                                 "the directory and build again")
        return self._keys

    def _shard(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index not in self._maps:
            entry = self._shards.get(index)
            if entry is None:
                raise StoreError(f"embedding store {self.directory}: shard {index} is not "
                                 "built yet; run the build again (it resumes)")
            for kind in ("emb", "ok"):
                path = self.directory / entry[f"{kind}_file"]
                if not _file_matches(path, entry.get(f"{kind}_sha256")):
                    raise StoreError(
                        f"embedding store {self.directory} ({self.spec}): shard {index} "
                        f"({path.name}) is missing or does not match its checksum (corrupt); "
                        "build the store again (EmbeddingStore.build, or rerun molmtd "
                        "distill): it recomputes that shard")
            emb = np.load(self.directory / entry["emb_file"], mmap_mode="r")
            ok = np.load(self.directory / entry["ok_file"])
            expected = (int(entry["stop"]) - int(entry["start"]), self.dim)
            if emb.shape != expected or ok.shape != expected[:1]:
                raise StoreError(f"embedding store {self.directory}: shard {index} has shape "
                                 f"{emb.shape}, the manifest says {expected}; delete the "
                                 "directory and build again")
            finite = np.ones(len(ok), dtype=bool)
            for b in range(0, len(ok), _STATS_BLOCK):  # bounded memory for wide teachers
                finite[b:b + _STATS_BLOCK] = np.isfinite(emb[b:b + _STATS_BLOCK]).all(axis=1)
            broken = ok & ~finite
            if broken.any():
                log.warning("embedding store %s (%s): %d rows of shard %d read back with "
                            "non-finite values (first: row %d); they are masked",
                            self.directory, self.spec, int(broken.sum()), index,
                            int(entry["start"]) + int(np.flatnonzero(broken)[0]))
                ok = ok & finite
            self._maps[index] = (emb, ok)
        return self._maps[index]

    def rows(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings and ok mask of arbitrary rows (any order, repeats allowed).

        Shapes:
            indices: ``[k]`` ints in ``[0, len)`` -> (float32 ``[k, dim]``, NaN where not
            ok; bool ``[k]``).

        Raises:
            IndexError: an index out of range.
            StoreError: a row lies in a shard that is not built.
        """
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            bad = indices[(indices < 0) | (indices >= len(self))][0]
            raise IndexError(f"row {bad} out of range for embedding store of {len(self)} rows")
        out = np.empty((len(indices), self.dim), dtype=np.float32)
        ok = np.empty(len(indices), dtype=bool)
        shard_of = indices // self.shard_size
        for s in np.unique(shard_of):
            where = np.flatnonzero(shard_of == s)
            emb, mask = self._shard(int(s))
            local = indices[where] - s * self.shard_size
            order = np.argsort(local, kind="stable")  # ascending reads from the memmap
            out[where[order]] = emb[local[order]]
            ok[where] = mask[local]
        out[~ok] = np.nan  # masked rows never carry values (e.g. a row read back as inf)
        return out, ok

    def ok_mask(self) -> np.ndarray:
        """Bool ``[n]``: whether the teacher embedded each molecule (False in unbuilt shards)."""
        mask = np.zeros(len(self), dtype=bool)
        for s, entry in self._shards.items():
            mask[entry["start"]:entry["stop"]] = self._shard(s)[1]
        return mask

    def reasons(self) -> dict[int, str]:
        """Row -> why the teacher could not embed that molecule, over finished shards."""
        out: dict[int, str] = {}
        for entry in sorted(self._shards.values(), key=lambda e: e["index"]):
            path = self.directory / entry["reasons_file"]
            if path.is_file():
                out.update({entry["start"] + int(k): v
                            for k, v in json.loads(path.read_text()).items()})
        return out

    def mean_std(self, indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and (population) std over the ok rows among ``indices``.

        Streams over blocks of rows in float64, merging block statistics with Chan et al.'s
        pairwise update, so a corpus larger than memory is fine. A constant dimension
        gets std 0 (never NaN); callers decide how to scale it.

        Shapes:
            indices: ``[k]`` rows, or None for all -> (mean ``[dim]``, std ``[dim]``).

        Raises:
            StoreError: no ok row among ``indices``, or a needed shard is not built.
        """
        wanted = None
        if indices is not None:
            wanted = np.zeros(len(self), dtype=bool)
            wanted[np.asarray(indices, dtype=np.int64)] = True
        count, mean, m2 = 0, np.zeros(self.dim), np.zeros(self.dim)
        for s in range(int(self.manifest["n_shards"])):
            start = s * self.shard_size
            stop = min(start + self.shard_size, len(self))
            if wanted is not None and not wanted[start:stop].any():
                continue
            emb, ok = self._shard(s)
            rows = np.flatnonzero(ok if wanted is None else ok & wanted[start:stop])
            for b in range(0, len(rows), _STATS_BLOCK):  # bounded memory for wide teachers
                x = np.asarray(emb[rows[b:b + _STATS_BLOCK]], dtype=np.float64)
                n_b, mean_b = len(x), x.mean(axis=0)
                m2_b = np.square(x - mean_b).sum(axis=0)
                delta = mean_b - mean
                total = count + n_b
                mean = mean + delta * (n_b / total)
                m2 = m2 + m2_b + np.square(delta) * (count * n_b / total)
                count = total
        if count == 0:
            raise StoreError(f"embedding store {self.directory} ({self.spec}): no embedded "
                             "rows among the requested ones to compute statistics from")
        return mean, np.sqrt(np.maximum(m2, 0.0) / count)

    def verify(self) -> None:
        """Recompute every finished shard's checksums (and the keys hash).

        Raises:
            StoreError: naming the first shard (or keys.txt) that does not match.
        """
        if keys_sha256(self.keys) != self.manifest["keys_sha256"]:
            raise StoreError(f"embedding store {self.directory}: keys.txt does not match the "
                             "manifest; delete the directory and build again")
        for s in sorted(self._shards):
            entry = self._shards[s]
            for kind in ("emb", "ok"):
                path = self.directory / entry[f"{kind}_file"]
                if not path.is_file() or _sha256_file(path) != entry[f"{kind}_sha256"]:
                    raise StoreError(
                        f"embedding store {self.directory}: shard {s} ({path.name}) is "
                        "missing or corrupt; delete the directory (or that shard's entry in "
                        "manifest.json and its files) and build again")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_maps"] = {}  # memmaps reopen in the receiving process
        return state

    def __repr__(self) -> str:
        done = "" if self.is_complete else \
            f", {len(self._shards)}/{self.manifest['n_shards']} shards built"
        return f"EmbeddingStore({self.spec!r}, n={len(self)}, dim={self.dim}{done})"
