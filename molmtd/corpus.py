"""Corpora: read molecules from files or bundled sets, standardise, dedupe, sample, report.

A built corpus lives in a folder: ``corpus.parquet`` (key, position, raw),
``invalid.csv`` (position, raw, reason for every rejected or duplicate row examined) and
``corpus.json`` (settings, counts and fingerprint; written last, so its presence means
the build finished).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molmtd.molecules import STANDARDIZE_DEFAULTS, _check_options, standardize_many
from molmtd.safeio import atomic_write, directory_lock, remove_stale_temporaries

__all__ = [
    "Corpus",
    "read_molecules",
    "build_corpus",
    "bundled_corpora",
    "bundled_corpus_path",
    "corpus_fingerprint",
]

log = logging.getLogger(__name__)

_FORMAT_VERSION = 1
_BUNDLED = {
    "moses": ("train.csv.gz", "MOSES training split: 1.58M ZINC-derived molecules (molsets 0.3.1)"),
    "moses-test": ("test.csv.gz", "MOSES test split: 176k ZINC-derived molecules (molsets 0.3.1)"),
}
_UNREADABLE_SDF = "unreadable SDF record"


def bundled_corpora() -> dict[str, str]:
    """Name -> description of the corpora that ship inside installed wheels."""
    return {name: desc for name, (_, desc) in _BUNDLED.items()}


def bundled_corpus_path(name: str) -> Path:
    """Path of a bundled corpus file (a CSV with a ``SMILES`` column).

    Raises:
        KeyError: unknown name (lists the known ones).
        FileNotFoundError: the wheel that carries it is not installed (says how to install).
    """
    if name not in _BUNDLED:
        raise KeyError(f"unknown bundled corpus {name!r}; known: {', '.join(_BUNDLED)}")
    # find_spec locates the package without importing it (molsets' own imports are broken)
    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"bundled corpus {name!r} ships in the molsets wheel, which is not installed: "
            "pip install --no-deps molsets==0.3.1")
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "data" / _BUNDLED[name][0]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall it with "
                                "pip install --no-deps --force-reinstall molsets==0.3.1")
    return path


def _format(path: Path) -> tuple[str, bool]:
    name = path.name.lower()
    gz = name.endswith(".gz")
    return Path(name[:-3] if gz else name).suffix, gz


def _pick_column(columns: list[str], column: str | None, path: Path) -> str:
    if column is not None:
        if column not in columns:
            raise ValueError(f"{path}: no column {column!r}; columns are {columns}. "
                             "Pass the SMILES column's name (CLI: --column)")
        return column
    for c in columns:
        if str(c).lower() == "smiles":
            return c
    raise ValueError(f"{path}: no column named 'smiles'; columns are {columns}. "
                     "Pass column=... (CLI: --column; recipe: corpus.column) to choose the "
                     "SMILES column")


def _cells(values) -> list[str]:
    return ["" if v is None or pd.isna(v) else str(v) for v in values]  # missing cell -> ""


def _first_token(line: str) -> str:
    return line.strip(" \t").replace("\t", " ").split(" ", 1)[0]


def read_molecules(path: str | Path, column: str | None = None) -> list[str]:
    """Raw SMILES texts of a file, one per data row, in input order (position = index).

    Formats, each also gzip-compressed (``.smi.gz``, ``.csv.gz``, ``.sdf.gz``, ...):

    - ``.smi`` / ``.txt``: the first token of each line (tokens are separated by spaces
      or tabs; lines end at LF, CRLF or CR only); an empty line is an input
      (returned as ""); a first token "smiles" (any case) is a header.
    - ``.csv`` / ``.tsv`` / ``.parquet``: the ``column`` column, by default the one named
      "smiles" in any case; an empty cell is returned as "".
    - ``.sdf``: the SMILES of each record, read without sanitising (so a chemically
      invalid record is reported by the standardiser with its reason); "" where RDKit
      cannot read the record at all.

    Args:
        path: the file.
        column: the SMILES column of a table.

    Returns:
        One string per data row (header excluded).

    Raises:
        FileNotFoundError: no such file.
        ValueError: unknown format, or no such / no "smiles" column (lists the columns).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such molecule file: {path}")
    suffix, gz = _format(path)
    if suffix in (".smi", ".txt", ".smiles"):
        # lines end only at \n, \r\n or \r (not at str.splitlines' form feeds or unicode
        # separators, which would shift every later position); tokens end at a space or a
        # tab; undecodable bytes become U+FFFD, so that row is reported, not the file
        with (gzip.open(path, "rt", encoding="utf-8", errors="replace") if gz
              else open(path, encoding="utf-8", errors="replace")) as fh:
            text = fh.read()
        lines = text.split("\n")
        if lines and lines[-1] == "":  # the file's last line break
            lines.pop()
        texts = [_first_token(ln) for ln in lines]
        if texts and texts[0].lower() == "smiles":  # a header line
            texts = texts[1:]
        return texts
    if suffix in (".csv", ".tsv"):
        df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str,
                         keep_default_na=False, skip_blank_lines=False)
        return _cells(df[_pick_column(list(df.columns), column, path)].tolist())
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        col = _pick_column(names, column, path)
        return _cells(pd.read_parquet(path, columns=[col])[col].tolist())
    if suffix == ".sdf":
        import datamol as dm
        from rdkit import Chem

        texts = []
        with dm.without_rdkit_log(), (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            # unsanitised, so that the standardiser reports why a record is invalid;
            # the forward supplier reads from a (gzip) stream
            for mol in Chem.ForwardSDMolSupplier(fh, sanitize=False, removeHs=False):
                try:
                    texts.append("" if mol is None else Chem.MolToSmiles(mol))
                except Exception:  # noqa: BLE001 - RDKit cannot write it: report it unreadable
                    texts.append("")
        return texts
    raise ValueError(f"{path}: unknown molecule file format {suffix!r}; use .smi, .txt, .csv, "
                     ".tsv, .parquet or .sdf (optionally .gz)")


@dataclass
class Corpus:
    r"""Standardised, deduplicated molecules with their input positions.

    Attributes:
        keys: standardised canonical SMILES, sorted by input position.
        positions: int64 input position of each key, aligned with ``keys``.
        invalid: rejected or duplicate rows among those examined (position, raw, reason).
        fingerprint: sha256 hex of the keys joined by "\\n"; caches built from the
            corpus are keyed by it.
        directory: where it is stored.
    """

    keys: list[str]
    positions: np.ndarray
    invalid: pd.DataFrame
    fingerprint: str
    directory: Path

    def __len__(self) -> int:
        return len(self.keys)


def corpus_fingerprint(keys: list[str]) -> str:
    """sha256 hex of the keys joined by newlines."""
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()  # ~1 GB/s: 10 ms for the 10 MB MOSES file
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _settings(source: str | Path, column: str | None, max_molecules: int | None, seed: int,
              options: dict) -> tuple[Path, dict]:
    # what decides the corpus: the file's content (not its path or mtime, so a moved or
    # copied cache stays valid), how it is read, and the sampling and standardisation
    if str(source) in _BUNDLED:
        path = bundled_corpus_path(str(source))
        column = _pick_column(["SMILES"], column, path)
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(
                f"no such molecule file: {path} (bundled corpora: {', '.join(_BUNDLED)})")
    suffix, gz = _format(path)
    settings = {"format_version": _FORMAT_VERSION, "format": suffix + (".gz" if gz else ""),
                "file_sha256": _file_sha256(path), "column": column,
                "max_molecules": max_molecules, "seed": seed, "options": options}
    return path, json.loads(json.dumps(settings))  # as it reads back from JSON


def _try_load(out_dir: Path, settings: dict) -> Corpus | None:
    meta_path = out_dir / "corpus.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        log.warning("corpus: %s is unreadable; rebuilding", meta_path)
        return None
    stored = {k: meta.get(k) for k in settings}
    if stored != settings:
        changed = sorted(k for k in settings if stored[k] != settings[k])
        log.info("corpus: settings changed (%s); rebuilding %s", ", ".join(changed), out_dir)
        return None
    try:
        table = pd.read_parquet(out_dir / "corpus.parquet")
        invalid = pd.read_csv(out_dir / "invalid.csv", keep_default_na=False,
                              dtype={"position": np.int64, "raw": str, "reason": str})
    except (OSError, ValueError) as err:  # missing or truncated files
        log.warning("corpus: %s is incomplete (%s); rebuilding", out_dir, err)
        return None
    keys = table["key"].tolist()
    if corpus_fingerprint(keys) != meta.get("fingerprint"):
        log.warning("corpus: %s does not match its fingerprint; rebuilding", out_dir)
        return None
    log.info("corpus: reusing %s (%d molecules, built with the same settings)",
             out_dir, len(keys))
    return Corpus(keys, table["position"].to_numpy(np.int64), invalid, meta["fingerprint"],
                  out_dir)


class _RawColumn:
    """The raw SMILES of a source, read once; ``take`` turns only the needed rows into str.

    The bundled MOSES file stays a pyarrow array: a 5k sample then never builds 1.58M
    Python strings.
    """

    def __init__(self, values):
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def take(self, positions) -> list[str]:
        if isinstance(self.values, list):
            return [self.values[int(i)] for i in positions]
        return _cells(self.values.take(np.asarray(positions, dtype=np.int64)).to_pylist())


def _read_source(path: Path, column: str | None, bundled: bool) -> _RawColumn:
    if bundled:  # a known clean CSV: pyarrow's reader is ~3x faster than pandas' default
        import pyarrow.csv as pacsv

        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={column: "string"}, include_columns=[column]))
        return _RawColumn(table.column(column))
    return _RawColumn(read_molecules(path, column))


# chunk sizes of the sampling loop: large enough for parallel work to pay off, small
# enough that a sample never standardises much more than it needs
_MIN_CHUNK = 256
_MAX_CHUNK = 100_000


def _next_chunk(need: int, examined: int, found: int) -> int:
    # rows expected to yield `need` new keys at the yield seen so far (invalid and
    # duplicate rows lower it), plus a 5% margin; with no key found yet, the chunk grows
    # with the rows already examined
    rate = max(found, 1) / examined if examined else 1.0
    return int(min(max(need / rate * 1.05, _MIN_CHUNK), _MAX_CHUNK))


def build_corpus(source: str | Path, out_dir: str | Path, *, column: str | None = None,
                 max_molecules: int | None = None, seed: int = 0,
                 standardize: dict | None = None, n_jobs: int = 1) -> Corpus:
    """Standardise and deduplicate a corpus (optionally a seeded sample) into ``out_dir``.

    Rows are examined in a seeded random order (``numpy.random.default_rng(seed)``), or
    in file order without ``max_molecules``, in chunks, until ``max_molecules`` distinct
    valid keys have been seen; rejected and duplicate rows are thus replaced by further
    candidates, and a 5k sample never standardises the whole file. Among the examined
    rows, the first position of each key wins; the others are reported as
    "duplicate of input N". The corpus is sorted by input position, so the same file,
    settings and seed give the same corpus (whatever ``n_jobs``). If ``out_dir`` holds a
    corpus built with the same settings from a file with the same content (sha256), it is
    loaded instead of rebuilt.

    Args:
        source: a bundled corpus name (see :func:`bundled_corpora`) or a file path
            (formats of :func:`read_molecules`).
        out_dir: folder for ``corpus.parquet``, ``invalid.csv`` and ``corpus.json``.
        column: SMILES column of a table.
        max_molecules: sample size; None keeps every valid unique molecule.
        seed: sampling seed.
        standardize: options of :func:`molmtd.molecules.standardize_smiles`; missing
            ones take :data:`molmtd.molecules.STANDARDIZE_DEFAULTS`.
        n_jobs: standardisation processes; -1 = all cores.

    Returns:
        The corpus.

    Raises:
        FileNotFoundError: missing file or bundled corpus.
        ValueError: bad ``max_molecules``, unknown format or missing column.
        TypeError: unknown standardisation option.
    """
    out_dir = Path(out_dir)
    if max_molecules is not None and max_molecules < 1:
        raise ValueError(f"max_molecules must be >= 1 or None, got {max_molecules}")
    _check_options(standardize or {})
    options = {**STANDARDIZE_DEFAULTS, **(standardize or {})}
    path, settings = _settings(source, column, max_molecules, seed, options)
    # one builder per corpus folder: a second process waits, then loads the finished corpus
    with directory_lock(out_dir, "the corpus"):
        cached = _try_load(out_dir, settings)
        if cached is not None:
            return cached
        return _build(source, path, settings, out_dir, max_molecules, seed, options, n_jobs)


def _build(source, path: Path, settings: dict, out_dir: Path, max_molecules: int | None,
           seed: int, options: dict, n_jobs: int) -> Corpus:
    suffix, _ = _format(path)
    raw = _read_source(path, settings["column"], str(source) in _BUNDLED)
    n = len(raw)
    order = np.random.default_rng(seed).permutation(n) if max_molecules else np.arange(n)
    target = n if max_molecules is None else max_molecules
    seen: set[str] = set()
    examined_pos: list[np.ndarray] = []
    examined_key: list[str | None] = []
    examined_raw: list[str] = []
    reasons: dict[int, str] = {}  # position -> why it is not in the corpus
    done = 0
    while len(seen) < target and done < n:
        size = _next_chunk(target - len(seen), done, len(seen))
        batch = order[done:done + size]
        texts = raw.take(batch)
        keys, bad = standardize_many(texts, n_jobs=n_jobs, **options)
        stop = len(batch)
        for j, key in enumerate(keys):
            if key is not None:
                seen.add(key)
                if len(seen) >= target:
                    stop = j + 1  # the examined rows end at the one completing the sample
                    break
        for j, reason in bad.items():
            if j < stop:
                reasons[int(batch[j])] = (_UNREADABLE_SDF if suffix == ".sdf" and texts[j] == ""
                                          else reason)
        examined_pos.append(batch[:stop])
        examined_key += keys[:stop]
        examined_raw += texts[:stop]
        done += stop
        if len(seen) < target and done < n:  # more to do: show progress
            log.info("corpus: %d/%d molecules from %d of %d rows examined", len(seen), target,
                     done, n)
    if not seen:
        log.warning("corpus: no valid molecule among the %d rows of %s", n, source)
    elif max_molecules is not None and len(seen) < max_molecules:
        log.warning("corpus: only %d valid unique molecules in %s (asked for %d)",
                    len(seen), source, max_molecules)

    positions_all = np.concatenate(examined_pos) if examined_pos else np.zeros(0, np.int64)
    raw_at = dict(zip(positions_all.tolist(), examined_raw, strict=True))
    first: dict[str, int] = {}  # key -> smallest examined position (insertion = position order)
    for i in np.argsort(positions_all, kind="stable").tolist():
        key, pos = examined_key[i], int(positions_all[i])
        if key is None:
            continue
        if key in first:
            reasons[pos] = f"duplicate of input {first[key]}"
        else:
            first[key] = pos
    keys = list(first)
    positions = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    bad_pos = sorted(reasons)
    invalid = pd.DataFrame({"position": np.asarray(bad_pos, dtype=np.int64),
                            "raw": [raw_at[p] for p in bad_pos],
                            "reason": [reasons[p] for p in bad_pos]})

    fingerprint = corpus_fingerprint(keys)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out_dir)  # left by a build killed mid-write (we hold the lock)
    (out_dir / "corpus.json").unlink(missing_ok=True)  # "not finished" until rewritten
    table = pd.DataFrame({"key": keys, "position": positions,
                          "raw": [raw_at[p] for p in positions.tolist()]})
    _atomic(out_dir / "corpus.parquet", lambda p: table.to_parquet(p, index=False))
    _atomic(out_dir / "invalid.csv", lambda p: invalid.to_csv(p, index=False))
    n_dup = sum(r.startswith("duplicate of input ") for r in reasons.values())
    counts = {"rows": n, "examined": done, "molecules": len(keys),
              "invalid": len(reasons) - n_dup, "duplicates": n_dup}
    meta = {"source": str(source), "path": str(path.resolve()), **settings, "counts": counts,
            "fingerprint": fingerprint}
    _atomic(out_dir / "corpus.json", lambda p: Path(p).write_text(json.dumps(meta, indent=1)))
    log.info("corpus: %d molecules from %d of %d rows examined (%d invalid, %d duplicates) -> %s",
             len(keys), done, n, counts["invalid"], n_dup, out_dir)
    return Corpus(keys, positions, invalid, fingerprint, out_dir)


def _atomic(final: Path, write) -> None:
    atomic_write(final, write)  # unique temporary name per process and call, then rename
