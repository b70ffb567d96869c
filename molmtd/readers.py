"""Read a molecule file in chunks of raw SMILES, in input order, in constant memory.

The chunked twin of :func:`molmtd.corpus.read_molecules`: the same formats and the same
row rules (first token of a .smi line, header line, empty rows kept as ""), so row ``i``
here is position ``i`` there. Each format uses its library's streaming reader: Python's
line iterator (.smi/.txt), pandas' ``read_csv(chunksize=...)`` (CSV/TSV), pyarrow's
``ParquetFile.iter_batches`` and RDKit's ``ForwardSDMolSupplier`` (SDF); gzip is read as
a stream. A file that ends early (a truncated gzip) raises :class:`InputFileError` naming
the rows read so far, after every complete chunk before it has been yielded.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path

from molmtd.corpus import _cells, _first_token, _format, _pick_column
from molmtd.errors import InputFileError

__all__ = ["iter_molecule_chunks", "input_fingerprint", "count_rows"]

log = logging.getLogger(__name__)

_STREAM_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)


def _truncated(path: Path, rows: int, err: Exception) -> InputFileError:
    return InputFileError(
        f"{path}: the file ends early or is corrupt after {rows} rows ({type(err).__name__}: "
        f"{err}); a truncated gzip cannot be read to its end. Fetch or compress the file "
        "again (check it with `gzip -t`), then rerun with --resume: parts already written "
        "are kept")


def _batched(records: Iterator[str], size: int, path: Path) -> Iterator[list[str]]:
    """``records`` in lists of ``size`` (the last one shorter).

    A stream error while reading becomes :func:`_truncated`, naming the rows read before it.
    """
    chunk: list[str] = []
    rows = 0
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) == size:
                rows += size
                yield chunk
                chunk = []
    except _STREAM_ERRORS as err:
        raise _truncated(path, rows + len(chunk), err) from err
    if chunk:
        yield chunk


def _smi_chunks(path: Path, gz: bool, size: int) -> Iterator[list[str]]:
    # text mode: lines end at \n, \r\n or \r, as in read_molecules; undecodable bytes
    # become U+FFFD so that the row is reported, not the file
    opener = gzip.open(path, "rt", encoding="utf-8", errors="replace") if gz else \
        open(path, encoding="utf-8", errors="replace")

    def records(fh) -> Iterator[str]:
        for i, line in enumerate(fh):
            text = _first_token(line.rstrip("\n"))
            if i == 0 and text.lower() == "smiles":  # a header line
                continue
            yield text

    with opener as fh:
        yield from _batched(records(fh), size, path)


def _csv_column(path: Path, sep: str, column: str | None) -> str:
    import pandas as pd

    try:
        header = list(pd.read_csv(path, sep=sep, nrows=0).columns)
    except _STREAM_ERRORS as err:
        raise _truncated(path, 0, err) from err
    return _pick_column(header, column, path)


def _csv_chunks(path: Path, sep: str, col: str, size: int) -> Iterator[list[str]]:
    import pandas as pd

    rows = 0
    try:
        for df in pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                              skip_blank_lines=False, usecols=[col], chunksize=size):
            rows += len(df)
            yield _cells(df[col].tolist())
    except _STREAM_ERRORS as err:
        raise _truncated(path, rows, err) from err


def _parquet_chunks(pf, col: str, size: int) -> Iterator[list[str]]:
    for batch in pf.iter_batches(batch_size=size, columns=[col]):
        yield _cells(batch.column(0).to_pylist())


def _sdf_chunks(path: Path, gz: bool, size: int) -> Iterator[list[str]]:
    import datamol as dm
    from rdkit import Chem

    def records(fh) -> Iterator[str]:
        # unsanitised, as in read_molecules: the standardiser reports why a record is bad
        for mol in Chem.ForwardSDMolSupplier(fh, sanitize=False, removeHs=False):
            try:
                yield "" if mol is None else Chem.MolToSmiles(mol)
            except Exception:  # noqa: BLE001 - RDKit cannot write it: report it unreadable
                yield ""

    with dm.without_rdkit_log(), (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
        yield from _batched(records(fh), size, path)


def iter_molecule_chunks(path: str | Path, column: str | None = None,
                         chunk_size: int = 10_000) -> Iterator[list[str]]:
    """Raw SMILES of a file in chunks of ``chunk_size`` rows (the last one shorter).

    Args:
        path: .smi/.txt/.smiles/.csv/.tsv/.parquet/.sdf, each also ``.gz`` (not parquet).
        column: the SMILES column of a table (default: the one named "smiles", any case).
        chunk_size: rows per chunk.

    Yields:
        Lists of raw texts; concatenated, they equal ``read_molecules(path, column)``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown format, or no such / no "smiles" column (lists the columns).
        InputFileError: the file ends early or is corrupt (a truncated gzip).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such molecule file: {path}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    suffix, gz = _format(path)
    if suffix in (".smi", ".txt", ".smiles"):
        return _smi_chunks(path, gz, chunk_size)
    # a table's column is checked now, before any output is created
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        return _csv_chunks(path, sep, _csv_column(path, sep, column), chunk_size)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise InputFileError(f"{path} is not a readable parquet file ({err}); write it "
                                 "again, or give the molecules as .smi/.csv") from err
        return _parquet_chunks(pf, _pick_column(pf.schema_arrow.names, column, path),
                               chunk_size)
    if suffix == ".sdf":
        return _sdf_chunks(path, gz, chunk_size)
    raise ValueError(f"{path}: unknown molecule file format {suffix!r}; use .smi, .txt, .csv, "
                     ".tsv, .parquet or .sdf (optionally .gz)")


def count_rows(path: str | Path, column: str | None = None) -> int:
    """Number of data rows of a molecule file (parquet: from its footer; others: one pass)."""
    path = Path(path)
    if _format(path)[0] == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        _pick_column(pf.schema_arrow.names, column, path)
        return int(pf.metadata.num_rows)
    return sum(len(c) for c in iter_molecule_chunks(path, column, 100_000))


def input_fingerprint(path: str | Path) -> str:
    """Cheap identity of an input file: its size and the sha256 of its first and last MiB.

    Hashing a whole screening library at every array task would cost minutes; a changed
    file almost always changes its size or its ends.
    """
    import hashlib

    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(size - (1 << 20))
            h.update(fh.read(1 << 20))
    return h.hexdigest()
