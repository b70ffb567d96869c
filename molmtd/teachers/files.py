"""The ``files`` teacher: embeddings the user computed elsewhere, keyed by SMILES in a file."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.errors import TeacherSpecError
from molmtd.teachers.base import Teacher, TeacherOutput, register_teacher

__all__ = ["FileTeacher"]

log = logging.getLogger(__name__)

_SUFFIXES = (".parquet", ".csv", ".npz")


@register_teacher("files", "file", "precomputed embeddings from a .parquet/.csv/.npz file")
class FileTeacher(Teacher):
    """Embeddings read from ``path``, matched to molecules by standardised SMILES.

    The file is read once, on the first ``embed`` or ``dim``; its SMILES are standardised
    with :func:`molmtd.molecules.standardize_smiles` (default options) so that they match
    corpus keys. Molecules absent from the file are masked with reason "not in <path>".

    Formats:
        - ``.parquet`` / ``.csv``: a SMILES column (``column``; default: the column named
          "smiles", any case) and either numeric embedding columns (all the other columns)
          or one list-valued column (arrays in parquet, "[0.1, 0.2]" text in CSV).
        - ``.npz``: arrays ``smiles`` (``[n]`` strings) and ``embeddings`` (``[n, dim]``).

    Rows whose SMILES cannot be standardised are skipped (logged); rows with non-finite
    values are kept but masked ("non-finite values in <path>").

    Args:
        path: the file.
        column: name of the SMILES column (tables only).
        n_jobs: processes used to standardise the file's SMILES; -1 = all cores.
    """

    def __init__(self, path: str, column: str | None = None, n_jobs: int = -1):
        self.path = path
        self.column = column
        self.n_jobs = n_jobs

    # -- loading --------------------------------------------------------------------------
    def _table(self) -> tuple[dict[str, int], np.ndarray]:
        table = self.__dict__.get("_loaded")
        if table is None:
            table = self._loaded = self._read()
        return table

    def _file(self) -> Path:
        path = Path(str(self.path)).expanduser()
        if path.suffix.lower() not in _SUFFIXES:
            raise TeacherSpecError(f"files teacher: {self.path!r} must be .parquet, .csv or "
                                   ".npz")
        if not path.is_file():
            raise FileNotFoundError(f"files teacher: no file {path} (path={self.path!r})")
        return path

    def _read_arrays(self, path: Path) -> tuple[list, np.ndarray]:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as z:
                missing = [k for k in ("smiles", "embeddings") if k not in z.files]
                if missing:
                    raise TeacherSpecError(f"files teacher: {path} lacks array(s) {missing}; "
                                           f"it has {z.files}")
                smiles = [s.decode() if isinstance(s, bytes) else s for s in z["smiles"].tolist()]
                return smiles, np.asarray(z["embeddings"], dtype=np.float32)
        import pandas as pd

        df = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        col = self.column
        if col is None:
            col = next((c for c in df.columns if str(c).lower() == "smiles"), None)
        if col is None or col not in df.columns:
            raise TeacherSpecError(
                f"files teacher: {path} has no SMILES column "
                f"{self.column if self.column is not None else 'smiles'!r}; columns: "
                f"{list(df.columns)[:20]}; name it with files:path=...,column=NAME")
        rest = df.drop(columns=[col])
        numeric = [c for c in rest.columns if pd.api.types.is_numeric_dtype(rest[c])]
        others = [c for c in rest.columns if c not in numeric]
        if len(others) == 1 and not numeric:
            emb = self._list_column(path, rest[others[0]])
        elif others:
            raise TeacherSpecError(
                f"files teacher: non-numeric column(s) {others[:10]} in {path}; the file must "
                "hold the SMILES column plus either numeric embedding columns or one "
                "list-valued column (drop the others)")
        elif not numeric:
            raise TeacherSpecError(f"files teacher: {path} has no embedding columns besides "
                                   f"{col!r}")
        else:
            emb = rest[numeric].to_numpy(dtype=np.float32)
        return df[col].tolist(), emb

    @staticmethod
    def _list_column(path: Path, values) -> np.ndarray:
        import json

        rows = []
        for i, v in enumerate(values):
            if isinstance(v, str):
                try:
                    v = json.loads(v)
                except ValueError:
                    raise TeacherSpecError(f"files teacher: row {i} of column {values.name!r} "
                                           f"in {path} is not a list of numbers: {v[:60]!r}"
                                           ) from None
            rows.append(np.asarray(v, dtype=np.float32).reshape(-1))
        lengths = {len(r) for r in rows}
        if len(lengths) > 1:
            raise TeacherSpecError(f"files teacher: column {values.name!r} of {path} holds "
                                   f"vectors of lengths {sorted(lengths)[:5]}; all must match")
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)

    def _read(self) -> tuple[dict[str, int], np.ndarray]:
        from molmtd.molecules import standardize_many

        path = self._file()
        smiles, emb = self._read_arrays(path)
        if emb.ndim != 2 or emb.shape[0] != len(smiles) or emb.shape[1] == 0:
            raise TeacherSpecError(f"files teacher: {path} has {len(smiles)} SMILES but "
                                   f"embeddings of shape {emb.shape}; expected "
                                   f"({len(smiles)}, dim)")
        keys, invalid = standardize_many(smiles, n_jobs=self.n_jobs)
        if invalid:
            first = ", ".join(f"row {i}: {r}" for i, r in list(invalid.items())[:3])
            log.warning("files teacher: skipped %d of %d rows of %s whose SMILES are invalid "
                        "(%s)", len(invalid), len(smiles), path, first)
        index: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key is None:
                continue
            j = index.setdefault(key, i)
            if j != i and not np.array_equal(emb[j], emb[i], equal_nan=True):
                raise TeacherSpecError(
                    f"files teacher: rows {j} ({smiles[j]!r}) and {i} ({smiles[i]!r}) of "
                    f"{path} are the same molecule after standardisation ({key}) but have "
                    "different embeddings; keep one row per molecule")
        log.info("files teacher: %d molecules of dim %d from %s", len(index), emb.shape[1],
                 path)
        return index, emb

    # -- Teacher --------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self._table()[1].shape[1])

    @property
    def version(self) -> str:
        """sha256 of the file's bytes (first 16 hex digits), computed once."""
        digest = self.__dict__.get("_sha")
        if digest is None:
            h = hashlib.sha256()
            with open(self._file(), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            digest = self._sha = h.hexdigest()[:16]
        return digest

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        """Look up each standardised SMILES in the file.

        Shapes:
            smiles: ``[n]`` -> embeddings float32 ``[n, dim]`` (NaN rows where not ok),
            ok bool ``[n]``.
        """
        index, emb = self._table()
        out = np.full((len(smiles), emb.shape[1]), np.nan, dtype=np.float32)
        ok = np.zeros(len(smiles), dtype=bool)
        reasons: dict[int, str] = {}
        for i, s in enumerate(smiles):
            row = index.get(s)
            if row is None:
                reasons[i] = f"not in {self.path}"
            elif not np.isfinite(emb[row]).all():
                reasons[i] = f"non-finite values in {self.path}"
            else:
                out[i], ok[i] = emb[row], True
        return TeacherOutput(out, ok, reasons)
