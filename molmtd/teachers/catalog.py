"""The teacher catalogue behind ``molmtd teachers``: family, dimension, availability, throughput.

Throughput is measured only when asked (``measure=True``), once per teacher spec and
version, on the first 1,000 molecules of the bundled MOSES corpus, and kept in a JSON
cache (default ``~/.cache/molmtd/teacher_throughput.json``; the folder can be moved with
``MOLMTD_CACHE_DIR``). Dimensions that need a model to be loaded are cached there too.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from molmtd.paths import default_cache_dir
from molmtd.teachers.base import Teacher, TeacherInfo, list_teachers

__all__ = ["describe_teachers", "measure_throughput", "default_cache_path"]

log = logging.getLogger(__name__)

_FORMAT = 1
_N_MEASURE = 1000


def default_cache_path() -> Path:
    """Where measured throughputs (and loaded dimensions) are cached."""
    return default_cache_dir() / "teacher_throughput.json"


def _read_cache(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable teacher cache %s (%s)", path, err)
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    return dict(data.get("entries", {}))


def _write_cache(path: Path, entries: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    from molmtd.safeio import atomic_write_text

    # atomic, unique temporary name: a concurrent reader sees the old or the new file
    atomic_write_text(path, json.dumps({"format": _FORMAT, "entries": entries}, indent=1,
                                       sort_keys=True))


def _moses_sample(n: int) -> list[str]:
    import gzip

    from molmtd.corpus import bundled_corpus_path

    out = []
    with gzip.open(bundled_corpus_path("moses"), "rt") as fh:
        next(fh)  # header
        for line in fh:
            out.append(line.split(",")[0].strip())
            if len(out) == n:
                break
    return out


def measure_throughput(teacher: Teacher, smiles: Sequence[str]) -> float:
    """Molecules per second of ``teacher.embed(smiles)``, after a warm-up that loads the model."""
    smiles = list(smiles)
    teacher.embed(smiles[:8])
    start = time.perf_counter()
    teacher.embed(smiles)
    return len(smiles) / max(time.perf_counter() - start, 1e-9)


def _required_params(info: TeacherInfo) -> list[str]:
    sig = inspect.signature(info.factory.__init__)
    return [p.name for p in sig.parameters.values()
            if p.name != "self" and p.default is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _fix(reason: str) -> str | None:
    at = reason.find("pip install")
    return reason[at:].strip() if at >= 0 else None


def describe_teachers(measure: bool = False, cache_path: str | Path | None = None,
                      molecules: Sequence[str] | None = None) -> list[dict]:
    """One record per registered teacher, sorted by family then name.

    Each record has: ``name``, ``family``, ``description``, ``available`` (bool),
    ``reason`` and ``fix`` (why it cannot run here and the command that fixes it, else
    None), ``spec`` and ``version`` of its default configuration, ``dim``,
    ``throughput_mol_s`` and ``requires`` (parameters without defaults; teachers that
    have some, e.g. ``hf:model=...``, get no dim or throughput here).

    ``dim`` is read without loading a model where the teacher knows it (fingerprints,
    MiniMol, ChemNet); otherwise the model is loaded once (if available) and the value
    cached. Throughput comes from the cache, and is measured for available teachers
    that lack it when ``measure`` is True.

    Args:
        measure: time each available default teacher on 1,000 MOSES molecules (those
            already cached for the same spec and version are not measured again).
        cache_path: the JSON cache (default :func:`default_cache_path`).
        molecules: SMILES to measure on instead of the MOSES sample.
    """
    path = Path(cache_path) if cache_path is not None else default_cache_path()
    cache = _read_cache(path)
    changed = False
    sample: list[str] | None = list(molecules) if molecules is not None else None
    rows = []
    for info in list_teachers():
        available, reason = info.available()
        row: dict = {"name": info.name, "family": info.family, "description": info.description,
                     "available": bool(available), "reason": reason or None,
                     "fix": _fix(reason) if reason else None, "spec": None, "version": None,
                     "dim": None, "throughput_mol_s": None,
                     "requires": _required_params(info)}
        rows.append(row)
        if row["requires"]:
            continue
        teacher = info.factory()
        row["spec"] = teacher.spec
        try:
            row["version"] = teacher.version
        except Exception as err:  # a missing back-end or checkpoint: report, keep listing
            _unavailable(row, err)
            continue
        key = f"{teacher.spec}|{row['version']}"
        entry = dict(cache.get(key, {}))
        if entry.get("dim") is None:
            try:
                entry["dim"] = int(teacher.dim)
            except Exception as err:  # the model could not be loaded here
                _unavailable(row, err)
                continue
        row["dim"] = entry["dim"]
        if measure and row["available"] and entry.get("throughput_mol_s") is None:
            if sample is None:
                sample = _moses_sample(_N_MEASURE)
            log.info("measuring %s on %d molecules", teacher.spec, len(sample))
            try:
                entry["throughput_mol_s"] = round(measure_throughput(teacher, sample), 1)
            except Exception as err:
                _unavailable(row, err)
                continue
            entry.update(n_molecules=len(sample), cpu_count=os.cpu_count(),
                         machine=platform.machine(),
                         measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        row["throughput_mol_s"] = entry.get("throughput_mol_s")
        if entry != cache.get(key):
            cache[key] = {"spec": teacher.spec, "version": row["version"], **entry}
            changed = True
    if changed:
        try:
            _write_cache(path, cache)
        except OSError as err:
            log.warning("could not write teacher cache %s (%s)", path, err)
    return rows


def _unavailable(row: dict, err: Exception) -> None:
    row["available"] = False
    row["reason"] = f"{type(err).__name__}: {err}"
    row["fix"] = _fix(str(err))
