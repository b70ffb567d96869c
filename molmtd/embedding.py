"""Embed a molecule file with a teacher or a distilled featurizer: one output row per input row.

Output formats:
    * ``.npy``: float32 ``[n_inputs, dim]``; rows of invalid molecules are NaN.
    * ``.parquet``: a parquet dataset, i.e. a directory of part files written one at a
      time (:mod:`molmtd.streaming`: constant memory, ``resume``, ``shard``), read whole
      by ``pandas.read_parquet(OUT)`` or ``pyarrow.dataset.dataset(OUT)``. Columns:
      ``position`` (int64, 0-based input row), ``smiles`` (the raw input text), ``ok``
      (bool), ``reason`` (why the row is empty, else null) and ``embedding`` (one
      fixed-size list<float32> column of length ``dim``; NaN for invalid rows). One list
      column keeps wide embeddings (MiniMol's 512, ECFP's 2048) as one contiguous array
      that pandas and pyarrow read back without reshaping: ``np.stack(df["embedding"])``.
      The schema metadata ``molmtd`` holds the source (teacher spec or featurizer), its
      version and ``dim`` as JSON. :func:`write_embeddings` still writes one parquet
      file from an in-memory result.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.artifact import AUTO_READOUT, READOUTS
from molmtd.errors import OutputExistsError
from molmtd.safeio import atomic_write
from molmtd.teachers.base import TeacherOutput

__all__ = ["embed_file", "embed_smiles", "write_embeddings"]

log = logging.getLogger(__name__)

_FORMATS = (".npy", ".parquet")
_CHUNK = 10_000


def _check_output(output_path: Path) -> str:
    suffix = output_path.suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"output {output_path}: unknown format {suffix!r}; use .npy or .parquet")
    return suffix


def embed_smiles(raw: Sequence[str], teacher, *, n_jobs: int = 1,
                 chunk_size: int = _CHUNK) -> TeacherOutput:
    """Standardise raw SMILES and embed the valid ones with a teacher, aligned with ``raw``.

    Each distinct standardised molecule is embedded once; rows of invalid inputs are NaN
    with the standardisation reason, rows the teacher cannot embed carry its reason.

    Shapes:
        returned embeddings: float32 ``[len(raw), teacher.dim]``.
    """
    from molmtd.molecules import standardize_many

    raw = list(raw)
    keys, reasons = standardize_many(raw, n_jobs=n_jobs)
    positions: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            positions.setdefault(key, []).append(i)
    unique = list(positions)
    dim = int(teacher.dim)
    out = np.full((len(raw), dim), np.nan, dtype=np.float32)
    ok = np.zeros(len(raw), dtype=bool)
    reasons = {int(k): v for k, v in reasons.items()}
    for start in range(0, len(unique), chunk_size):
        chunk = unique[start:start + chunk_size]
        res = teacher.embed(chunk)
        for j, key in enumerate(chunk):
            rows = positions[key]
            if res.ok[j]:
                out[rows] = res.embeddings[j]
                ok[rows] = True
            else:
                for r in rows:
                    reasons[r] = res.reasons.get(j, "the teacher could not embed it")
        log.info("embedded %d / %d distinct molecules", min(start + chunk_size, len(unique)),
                 len(unique))
    return TeacherOutput(out, ok, dict(sorted(reasons.items())))


def _make_embedder(teacher, featurizer, batch_size: int | None, device: str | None,
                   n_jobs: int, chunk_size: int, readout: str, precision: str):
    """A teacher or featurizer as (raw SMILES -> aligned TeacherOutput, source metadata)."""
    from molmtd.devices import resolve_device

    device = resolve_device(device)
    if teacher is not None:
        from molmtd.teachers.base import get_teacher

        t = get_teacher(teacher, batch_size=batch_size, device=device, n_jobs=n_jobs)
        source = {"teacher": t.spec, "version": t.version, "dim": int(t.dim)}
        return (lambda raw: embed_smiles(raw, t, n_jobs=n_jobs, chunk_size=chunk_size)), source
    from molmtd.artifact import load_artifact

    kwargs = {k: v for k, v in (("batch_size", batch_size), ("device", device)) if v is not None}
    artifact = load_artifact(featurizer, readout=readout, precision=precision, **kwargs)
    dim = int(artifact.dim)
    source = {"featurizer": str(featurizer), "version": str(getattr(artifact, "directory", "")),
              "readout": getattr(artifact, "readout", readout), "dim": dim,
              "precision": precision}

    def embed(raw: list[str]) -> TeacherOutput:
        parts, reasons = [], {}
        for start in range(0, len(raw), chunk_size):
            chunk = raw[start:start + chunk_size]
            # the artifact standardises with its own options; workers only when asked
            res = artifact.embed(chunk) if n_jobs == 1 else artifact.embed(chunk, n_jobs=n_jobs)
            parts.append(res)
            reasons.update({start + int(k): v for k, v in res.reasons.items()})
        emb = (np.concatenate([p.embeddings for p in parts]) if parts
               else np.zeros((0, dim), np.float32))
        ok = np.concatenate([p.ok for p in parts]) if parts else np.zeros(0, bool)
        return TeacherOutput(emb.astype(np.float32, copy=False), ok, reasons)

    return embed, source


def _npy_limit_bytes() -> int:
    # half the memory available now: the .npy path holds the whole output (and the input)
    env = os.environ.get("MOLMTD_NPY_MAX_BYTES")
    if env:
        return int(env)
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # not POSIX: no limit known
        return 1 << 62


def _check_fits_in_memory(input_path, column: str | None, dim: int, output_path: Path,
                          limit: int | None) -> None:
    from molmtd.readers import count_rows

    limit = _npy_limit_bytes() if limit is None else limit
    rows = count_rows(input_path, column)
    need = rows * dim * 4
    if need > limit:
        raise ValueError(
            f"{output_path}: a .npy output holds all {rows} rows x {dim} float32 values in "
            f"memory ({need / 2**30:.2f} GiB), more than the {limit / 2**30:.2f} GiB allowed "
            "(half the available memory, or $MOLMTD_NPY_MAX_BYTES); write a parquet dataset "
            f"instead: -o {output_path.with_suffix('.parquet')} (streamed in constant "
            "memory, resumable, --shard i/n)")


def write_embeddings(output_path: str | Path, raw: Sequence[str], result: TeacherOutput,
                     metadata: dict | None = None) -> Path:
    """Write ``result`` (aligned with ``raw``) to .npy or .parquet, atomically.

    Raises:
        ValueError: unknown output format, or ``raw`` and ``result`` of different lengths.
    """
    output_path = Path(output_path)
    suffix = _check_output(output_path)
    n, dim = result.embeddings.shape
    if len(raw) != n:
        raise ValueError(f"{len(raw)} input rows but {n} embedding rows")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    emb = np.ascontiguousarray(result.embeddings, dtype=np.float32)
    if suffix == ".npy":
        def write(tmp):
            with open(tmp, "wb") as fh:  # a file object: np.save would append ".npy"
                np.save(fh, emb)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({
            "position": pa.array(np.arange(n, dtype=np.int64)),
            "smiles": pa.array([str(s) for s in raw], type=pa.string()),
            "ok": pa.array(result.ok.astype(bool)),
            "reason": pa.array([result.reasons.get(i) for i in range(n)], type=pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1)), dim),
        })
        meta = {b"molmtd": json.dumps(metadata or {}, default=str).encode()}

        def write(tmp):
            pq.write_table(table.replace_schema_metadata(meta), str(tmp))
    # unique temporary name per process and call, then rename; ENOSPC -> DiskFullError
    atomic_write(output_path, write)
    return output_path


def embed_file(input_path: str | Path, output_path: str | Path, *, teacher=None,
               featurizer: str | None = None, column: str | None = None,
               batch_size: int | None = None, n_jobs: int = 1, device: str | None = None,
               chunk_size: int = _CHUNK, readout: str = "auto",
               precision: str = "fp32", part_size: int | None = None,
               shard: str | None = None, resume: bool = False, overwrite: bool = False,
               npy_max_bytes: int | None = None) -> dict:
    """Embed every molecule of a file and write one row per input row, in input order.

    A ``.parquet`` output is streamed (:mod:`molmtd.streaming`): a directory of part files
    written one at a time in constant memory, resumable, shardable over array tasks. A
    ``.npy`` output is built in memory and written once; it is refused when it would not
    fit (the error points to parquet).

    Args:
        input_path: .smi/.txt/.csv/.tsv/.parquet/.sdf, also gzipped (see
            :func:`molmtd.readers.iter_molecule_chunks`).
        output_path: .npy or .parquet (see the module docstring for the layout).
        teacher: a teacher spec, e.g. ``"ecfp:radius=2"`` or ``"chemprop"`` (or a Teacher);
            inputs are standardised with molmtd's defaults first.
        featurizer: a distilled featurizer path or released name (it standardises with
            the options it was trained with).
        column: the SMILES column of a table.
        batch_size: molecules per forward pass, for teachers and featurizers that take it.
        device: torch device ("cuda" falls back to the CPU with a warning when absent).
        n_jobs: processes for standardisation (and the teacher, when it accepts it).
        chunk_size: molecules embedded per call (bounds memory; progress is logged).
        readout: for a featurizer, "auto" (the one its release recommends, else
            "embedding"), "embedding" (the distilled embedding) or "layers" (every GNN
            layer's mean-pooled states, concatenated); teachers have only their own.
        precision: for a featurizer, "fp32" or "int8" (CPU; see
            :class:`~molmtd.artifact.Artifact`).
        part_size: parquet only: input rows per part file (default 10,000).
        shard: parquet only: ``"i/n"``, write only share ``i`` of ``n`` of the parts.
        resume: parquet only: keep the finished parts of an interrupted run.
        overwrite: replace an existing output.
        npy_max_bytes: the largest .npy output allowed (default: half the available
            memory, or ``$MOLMTD_NPY_MAX_BYTES``).

    Returns:
        A summary: input, output, rows, embedded, invalid, dim, the source spec and its
        version, and up to 10 ``invalid_examples`` (position, smiles, reason); for parquet
        also the shard and the parts written and reused.

    Raises:
        ValueError: neither or both of teacher/featurizer, an unknown output format or
            readout or precision, a readout other than "embedding" or a precision other
            than "fp32" with a teacher, a bad shard, shard/resume with .npy, or a .npy
            output too large for memory.
        OutputExistsError: the output exists (the message names --resume and --overwrite).
        InputFileError: the input ends early (truncated gzip) or is unreadable.
        FileNotFoundError: the input file does not exist.
        TeacherSpecError, TeacherUnavailableError: a bad or unavailable teacher.
    """
    if (teacher is None) == (featurizer is None):
        raise ValueError("embed_file: give exactly one of teacher=SPEC or featurizer=PATH_OR_NAME")
    if readout not in READOUTS + (AUTO_READOUT,):
        raise ValueError(f"readout must be one of {', '.join(READOUTS + (AUTO_READOUT,))}, "
                         f"got {readout!r}")
    if teacher is not None and readout not in ("embedding", AUTO_READOUT):
        raise ValueError(f"readout {readout!r} applies to a distilled featurizer; a teacher "
                         "has only its own embedding")
    if teacher is not None and precision != "fp32":
        raise ValueError(f"precision {precision!r} applies to a distilled featurizer; teachers "
                         "run at their own precision")
    output_path = Path(output_path)
    suffix = _check_output(output_path)
    input_path = Path(input_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"no such molecule file: {input_path}")
    if suffix == ".parquet":
        from molmtd.streaming import PART_SIZE, embed_to_parts, parse_shard

        parse_shard(shard)  # a bad spec fails before any model loads
        embed, source = _make_embedder(teacher, featurizer, batch_size, device, n_jobs,
                                       chunk_size, readout, precision)
        return embed_to_parts(input_path, output_path, embed=embed, source=source,
                              column=column, part_size=part_size or PART_SIZE, shard=shard,
                              resume=resume, overwrite=overwrite)
    if shard is not None or resume or part_size is not None:
        raise ValueError("--shard, --resume and --part-size apply to a parquet dataset "
                         f"output; write -o {output_path.with_suffix('.parquet')} instead of "
                         ".npy")
    if output_path.exists() and not overwrite:
        raise OutputExistsError(f"{output_path} exists; use --overwrite to replace it "
                                "(--resume applies to parquet dataset outputs)")
    embed, source = _make_embedder(teacher, featurizer, batch_size, device, n_jobs, chunk_size,
                                   readout, precision)
    _check_fits_in_memory(input_path, column, int(source["dim"]), output_path, npy_max_bytes)
    from molmtd.corpus import read_molecules

    raw = read_molecules(input_path, column=column)
    log.info("read %d molecules from %s", len(raw), input_path)
    result = embed(raw)
    write_embeddings(output_path, raw, result, metadata=source)
    bad = [i for i in range(len(raw)) if not result.ok[i]]
    summary = {
        "input": str(input_path), "output": str(output_path),
        "format": output_path.suffix.lower().lstrip("."),
        "rows": len(raw), "embedded": int(result.ok.sum()), "invalid": len(bad),
        **source,
        "invalid_examples": [{"position": i, "smiles": raw[i],
                              "reason": result.reasons.get(i, "")} for i in bad[:10]],
    }
    log.info("wrote %s: %d rows, %d invalid", output_path, len(raw), len(bad))
    return summary
