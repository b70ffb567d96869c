"""Streaming embed: a molecule file of any size -> a parquet dataset of part files.

Layout of an output directory ``OUT.parquet/``::

    _molmtd_run.json            what the run embeds: input (name, size, fingerprint),
                                column, part size, source (teacher or featurizer)
    part-000000.parquet         rows [0, part_size): position, smiles, ok, reason, embedding
    part-000001.parquet         rows [part_size, 2 * part_size) ...
    _molmtd_done-0-of-1.json    written when shard 0 of 1 has written all its parts

Part ``p`` always holds input rows ``[p * part_size, (p + 1) * part_size)``, so a part's
name says which rows it holds, whoever wrote it. ``--shard i/n`` (SLURM array task ``i``
of ``n``, or a Dask task) writes the parts with ``p % n == i``: a deterministic share that
keeps global positions. Each part is written whole under a temporary name and renamed
(:mod:`molmtd.safeio`), so a killed run leaves only finished parts (and a hidden
temporary file, which readers ignore and the next run removes); ``resume`` skips them.
``pyarrow.dataset.dataset(OUT)`` and ``pandas.read_parquet(OUT)`` read the parts in
position order and ignore the ``_``/``.`` files. Memory holds one part at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtd.errors import OutputExistsError
from molmtd.readers import input_fingerprint, iter_molecule_chunks
from molmtd.safeio import TMP_SUFFIX, atomic_write, atomic_write_text, directory_lock
from molmtd.teachers.base import TeacherOutput

__all__ = ["Shard", "parse_shard", "embed_to_parts", "part_name", "RUN_FILE", "PART_SIZE"]

log = logging.getLogger(__name__)

RUN_FILE = "_molmtd_run.json"
PART_SIZE = 10_000
_FORMAT_VERSION = 1
_PART = re.compile(r"^part-(\d{6})\.parquet$")
_PART_TMP = re.compile(r"^\.part-(\d{6})\.parquet\..*" + re.escape(TMP_SUFFIX) + "$")
_EXAMPLES = 10


@dataclass(frozen=True)
class Shard:
    """Share ``index`` of ``count``: the parts ``p`` with ``p % count == index``."""

    index: int = 0
    count: int = 1

    def owns(self, part: int) -> bool:
        return part % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str | Shard | None) -> Shard:
    """``"i/n"`` -> :class:`Shard` (``0 <= i < n``); None -> the whole input.

    Raises:
        ValueError: not two integers ``i/n`` with ``0 <= i < n`` (the message shows the fix).
    """
    if text is None:
        return Shard()
    if isinstance(text, Shard):
        shard = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if m is None:
            raise ValueError(f"--shard {text!r}: expected INDEX/COUNT such as 0/4 (shards are "
                             "numbered from 0)")
        shard = Shard(int(m.group(1)), int(m.group(2)))
    if shard.count < 1 or not 0 <= shard.index < shard.count:
        last = max(shard.count - 1, 0)
        raise ValueError(
            f"--shard {shard.index}/{shard.count}: the index must be in 0..{last} for "
            f"{shard.count} shards (numbered from 0); in a SLURM array use "
            "--array=0-(N-1) and --shard $SLURM_ARRAY_TASK_ID/N")
    return shard


def part_name(part: int) -> str:
    """File name of part ``part``."""
    return f"part-{part:06d}.parquet"


def _done_name(shard: Shard) -> str:
    return f"_molmtd_done-{shard.index}-of-{shard.count}.json"


def _run_identity(input_path: Path, column: str | None, part_size: int, source: dict) -> dict:
    return {"format_version": _FORMAT_VERSION, "input": input_path.name,
            "input_bytes": input_path.stat().st_size,
            "input_fingerprint": input_fingerprint(input_path), "column": column,
            "part_size": int(part_size), "source": source}


def _run_id(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()
                          ).hexdigest()[:16]


def _existing_parts(out: Path) -> dict[int, Path]:
    return {int(m.group(1)): p for p in out.iterdir() if (m := _PART.match(p.name))}


def _prepare_output(out: Path, identity: dict, shard: Shard, resume: bool,
                    overwrite: bool) -> None:
    """Check (under the directory's lock) that ``out`` is this run's, then claim it.

    Raises:
        OutputExistsError: ``out`` is a file, holds another run's parts, or holds this
            shard's parts without ``resume``/``overwrite``.
    """
    if out.exists() and not out.is_dir():
        if not overwrite:
            raise OutputExistsError(
                f"{out} exists and is a file (an older single-file output?); a streaming "
                "embed writes a directory of parts there. Use --overwrite to replace it, or "
                "choose another -o")
        out.unlink()
    with directory_lock(out, "the embedding output"):
        run_path = out / RUN_FILE
        parts = _existing_parts(out)
        stored = None
        if run_path.is_file():
            try:
                stored = json.loads(run_path.read_text())
            except (OSError, ValueError):
                stored = {"unreadable": str(run_path)}
        foreign = (stored is not None and stored != json.loads(json.dumps(identity))) or \
            (stored is None and bool(parts))
        if foreign:
            if not overwrite:
                what = ("no record of the run that wrote them" if stored is None else
                        ", ".join(f"{k}: {stored.get(k)!r} there, {identity[k]!r} now"
                                  for k in identity if stored.get(k) != identity[k]))
                raise OutputExistsError(
                    f"{out} holds {len(parts)} part(s) of another run ({what}); --resume "
                    "continues only the same run. Choose another -o, or use --overwrite to "
                    "delete those parts")
            log.warning("%s: deleting %d part(s) of another run (--overwrite)", out, len(parts))
            for p in out.iterdir():
                if _PART.match(p.name) or p.name.startswith("_molmtd_"):
                    p.unlink()
            parts = {}
        mine = sorted(p for p in parts if shard.owns(p))
        if mine and not resume:
            if not overwrite:
                raise OutputExistsError(
                    f"{out} already holds {len(mine)} part(s) of this run (shard {shard}); "
                    "use --resume to continue it (finished parts are kept), or --overwrite "
                    "to embed them again")
            log.warning("%s: deleting %d finished part(s) of shard %s (--overwrite)", out,
                        len(mine), shard)
            for p in mine:
                parts[p].unlink()
        (out / _done_name(shard)).unlink(missing_ok=True)
        for tmp in out.iterdir():  # left by a killed writer of one of this shard's parts
            m = _PART_TMP.match(tmp.name)
            if m and shard.owns(int(m.group(1))):
                tmp.unlink(missing_ok=True)
        if stored is None or foreign:
            atomic_write_text(run_path, json.dumps(identity, indent=1, default=str))


def _part_table(raw: list[str], start: int, result: TeacherOutput, metadata: dict):
    import pyarrow as pa

    n, dim = result.embeddings.shape
    emb = np.ascontiguousarray(result.embeddings, dtype=np.float32)
    table = pa.table({
        "position": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "smiles": pa.array([str(s) for s in raw], type=pa.string()),
        "ok": pa.array(result.ok.astype(bool)),
        "reason": pa.array([result.reasons.get(i) for i in range(n)], type=pa.string()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), dim),
    })
    return table.replace_schema_metadata({b"molmtd": json.dumps(metadata, default=str).encode()})


def _finished_part(path: Path, run_id: str, rows: int):
    """The (ok, reason) columns of a finished part of this run, or None to recompute it."""
    import pyarrow.parquet as pq

    try:
        meta = json.loads(pq.read_schema(path).metadata[b"molmtd"])
        if meta.get("run") != run_id or pq.read_metadata(path).num_rows != rows:
            log.warning("%s does not belong to this run or has the wrong row count; "
                        "embedding it again", path)
            return None
        return pq.read_table(path, columns=["ok", "reason"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.warning("%s is unreadable (%s); embedding it again", path, err)
        return None


def embed_to_parts(input_path: str | Path, output_dir: str | Path, *,
                   embed: Callable[[list[str]], TeacherOutput], source: dict,
                   column: str | None = None, part_size: int = PART_SIZE,
                   shard: str | Shard | None = None, resume: bool = False,
                   overwrite: bool = False) -> dict:
    """Embed a molecule file part by part into a parquet dataset (see the module docstring).

    Args:
        input_path: a molecule file (formats of :func:`molmtd.readers.iter_molecule_chunks`).
        output_dir: the dataset directory (created).
        embed: raw SMILES -> :class:`TeacherOutput` aligned with them (invalid rows masked
            with reasons).
        source: what embeds (teacher spec and version, or featurizer, readout, dim): stored
            in the run record and each part's schema metadata.
        column: SMILES column of a table.
        part_size: input rows per part file (memory holds one part).
        shard: ``"i/n"`` or a :class:`Shard`: write only the parts ``p`` with
            ``p % n == i``; None = all.
        resume: keep this run's finished parts and embed only the others.
        overwrite: delete parts in the way (this shard's, or all of another run's).

    Returns:
        A summary of this shard: rows, embedded, invalid, parts written and reused, dim,
        the source, and up to 10 ``invalid_examples`` (position, smiles, reason).

    Raises:
        OutputExistsError: the output holds parts and neither ``resume`` nor ``overwrite``
            was given, or another run's parts (see the message for the fix).
        InputFileError: the input ends early or is corrupt (parts written so far are kept).
        ValueError: a bad shard spec or part size; FileNotFoundError: no input file.
    """
    import pyarrow.parquet as pq

    input_path, out = Path(input_path), Path(output_dir)
    shard = parse_shard(shard)
    if not isinstance(part_size, (int, np.integer)) or part_size < 1:
        raise ValueError(f"part_size must be a positive integer, got {part_size!r}")
    if not input_path.is_file():
        raise FileNotFoundError(f"no such molecule file: {input_path}")
    identity = _run_identity(input_path, column, part_size, source)
    run_id = _run_id(identity)
    chunks = iter_molecule_chunks(input_path, column, part_size)  # checks the column first
    _prepare_output(out, identity, shard, resume, overwrite)
    summary = {"input": str(input_path), "output": str(out), "format": "parquet",
               "shard": str(shard), "rows": 0, "embedded": 0, "invalid": 0,
               "parts_written": 0, "parts_reused": 0, **source, "invalid_examples": []}
    n_parts = 0
    for part, raw in enumerate(chunks):
        n_parts = part + 1
        if not shard.owns(part):
            continue
        start = part * part_size
        path = out / part_name(part)
        table = _finished_part(path, run_id, len(raw)) if path.is_file() else None
        if table is not None:
            ok = table.column("ok").to_numpy(zero_copy_only=False)
            reasons = {i: r for i, r in enumerate(table.column("reason").to_pylist())
                       if r is not None}
            summary["parts_reused"] += 1
        else:
            result = embed(raw)
            meta = {**source, "run": run_id, "part": part, "first_position": start}
            table = _part_table(raw, start, result, meta)
            atomic_write(path, lambda tmp, t=table: pq.write_table(t, str(tmp)))
            ok, reasons = result.ok, result.reasons
            summary["parts_written"] += 1
            log.info("%s: part %d written (rows %d..%d, %d invalid)", out, part, start,
                     start + len(raw) - 1, int((~ok).sum()))
        summary["rows"] += len(raw)
        summary["embedded"] += int(ok.sum())
        summary["invalid"] += int((~ok).sum())
        for i in np.flatnonzero(~ok)[:_EXAMPLES - len(summary["invalid_examples"])]:
            summary["invalid_examples"].append(
                {"position": start + int(i), "smiles": raw[int(i)],
                 "reason": reasons.get(int(i), "")})
        del table
    if n_parts == 0 and shard.owns(0):  # an empty input: one empty part keeps the schema
        dim = int(source.get("dim", 0))
        empty = TeacherOutput(np.zeros((0, dim), np.float32), np.zeros(0, bool), {})
        table = _part_table([], 0, empty, {**source, "run": run_id, "part": 0,
                                           "first_position": 0})
        atomic_write(out / part_name(0), lambda tmp: pq.write_table(table, str(tmp)))
    record = {k: v for k, v in summary.items() if k != "invalid_examples"}
    atomic_write_text(out / _done_name(shard), json.dumps(record, indent=1, default=str))
    log.info("%s: shard %s done: %d rows, %d parts written, %d reused", out, shard,
             summary["rows"], summary["parts_written"], summary["parts_reused"])
    return summary
