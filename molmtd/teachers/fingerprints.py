"""Fingerprint and descriptor teachers: molfeat calculators and RDKit descriptors.

Every teacher wraps a one-molecule *calculator* (molfeat's split); :meth:`embed` parses
the SMILES, runs the calculator over chunks of molecules, in worker processes
(``dm.parallelized``) when the batch is big enough to pay for them, and returns float32
rows aligned with the input. A molecule that cannot be parsed or featurised is masked
with its reason; it never fails the batch.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from molmtd.errors import InvalidMoleculeError, TeacherSpecError
from molmtd.teachers.base import Teacher, TeacherOutput, register_teacher

__all__ = [
    "FingerprintTeacher",
    "ECFP",
    "ECFPCount",
    "FCFP",
    "FCFPCount",
    "MACCS",
    "AtomPair",
    "AtomPairCount",
    "Topological",
    "TopologicalCount",
    "Avalon",
    "AvalonCount",
    "ErG",
    "RDKitPath",
    "Pharmacophore2DTeacher",
    "PhyschemDescriptors",
]

log = logging.getLogger(__name__)

# Bump when the way molmtd turns calculator output into embeddings changes (caches key on it).
_IMPL_VERSION = 1


def _n_workers(n_jobs: int | None) -> int:
    if n_jobs is None or n_jobs < 0:
        return os.cpu_count() or 1
    return max(1, int(n_jobs))


def _check_positive_int(teacher: str, name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise TeacherSpecError(
            f"The {name!r} parameter of teacher {teacher!r} must be an integer >= {minimum}. "
            f"Got {value!r} instead."
        )
    return int(value)


class _GeneratorFP:
    """One-molecule fingerprint from an RDKit generator built once per process.

    molfeat's ``FPCalculator`` rebuilds the RDKit fingerprint generator on every call,
    which is about 4x the cost of the fingerprint itself (measured ~590 vs ~120 us per
    MOSES molecule for ECFP4). This wrapper takes the generator *definition* (method and
    parameters) from the molfeat calculator and builds the generator once; the output is
    the same array (tests compare it with ``FPCalculator.__call__``).
    """

    def __init__(self, calc):
        self.calc = calc
        self._gen = None

    def __len__(self) -> int:
        return len(self.calc)

    def _generator(self):
        from molfeat.calc.fingerprints import FP_GENERATORS

        params = dict(self.calc.params)
        inv = params.get("atomInvariantsGenerator")
        if hasattr(inv, "_generator"):  # molfeat's picklable wrapper of the FCFP invariants
            params["atomInvariantsGenerator"] = inv._generator
        return FP_GENERATORS[self.calc.method](**params)

    def __call__(self, mol) -> np.ndarray:
        if self._gen is None:
            self._gen = self._generator()
        if self.calc.counting:
            return self._gen.GetCountFingerprintAsNumPy(mol)
        return self._gen.GetFingerprintAsNumPy(mol)

    def __getstate__(self):
        return {"calc": self.calc, "_gen": None}  # RDKit generators do not pickle


def _chunk_size(n: int, workers: int, min_chunk: int) -> int:
    """Chunk length for ``n`` molecules on ``workers`` processes.

    Up to 4 chunks per worker (uneven molecules balance out), at least ``min_chunk``
    molecules each, at most 1000 (memory per message), and, where there are several, a
    chunk count that is a multiple of ``workers``: 5 chunks on 2 workers leave one worker a
    third chunk while the other idles (physchem at 500 molecules ran at 0.84-0.87 of
    datamol's per-molecule pool for that reason).
    """
    chunks = max(1, min(4 * workers, n // min_chunk))
    if chunks >= workers:
        chunks -= chunks % workers
    at_most_1000 = -(-n // 1000)
    if chunks < at_most_1000:
        chunks = -(-at_most_1000 // workers) * workers
    return -(-n // chunks)


def _embed_chunk(calc, smiles: list, dim: int, dtype: str,
                 max_heavy_atoms: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Featurise one chunk (runs in a worker process): raw values, ok mask, reasons."""
    import datamol as dm
    from rdkit import Chem

    from molmtd.molecules import to_mol

    out = np.zeros((len(smiles), dim), dtype=dtype)
    ok = np.zeros(len(smiles), dtype=bool)
    reasons: dict[int, str] = {}
    with dm.without_rdkit_log():
        for i, s in enumerate(smiles):
            # RDKit's parser directly: half the cost of to_mol, which wraps each call in
            # logger toggles; to_mol runs only on failures, to name the reason
            mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s.strip() else None
            if mol is None:
                try:
                    mol = to_mol(s, position=i)
                except InvalidMoleculeError as err:
                    reasons[i] = err.reason
                    continue
            if max_heavy_atoms is not None and mol.GetNumHeavyAtoms() > max_heavy_atoms:
                reasons[i] = (f"too large for this teacher ({mol.GetNumHeavyAtoms()} heavy "
                              f"atoms > {max_heavy_atoms}): its calculator takes minutes on "
                              "molecules this size")
                continue
            try:
                out[i] = calc(mol)
                ok[i] = True
            except Exception as err:  # the calculator failing on one molecule masks only it
                reasons[i] = f"featurisation failed: {type(err).__name__}: {err}"
    return out, ok, reasons


def _embed_chunk_sparse(*args) -> tuple:
    """:func:`_embed_chunk` in a worker, its values sent back as a CSR matrix.

    A worker's result is pickled to the parent: a dense chunk of 1000 ECFP counts is 8 MB,
    of which ~2% is non-zero, and shipping it cost more than the second core gained
    (ecfp-count on 2 cores was 1.10x one core on 10k molecules). Dense descriptor values
    (physchem, mordred) come back as they are.
    """
    from scipy import sparse

    out, ok, reasons = _embed_chunk(*args)
    if out.size and np.count_nonzero(out) < 0.25 * out.size:
        out = sparse.csr_matrix(out)
    return out, ok, reasons


class FingerprintTeacher(Teacher):
    """Shared machinery: a lazily built calculator, chunked (parallel) embedding.

    Subclasses define ``__init__`` (storing their parameters and ``n_jobs``) and
    ``_build_calculator``; they may set ``_raw_dtype`` (what workers send back) and
    ``_min_parallel`` (fewest molecules worth starting worker processes for).
    """

    _raw_dtype: str = "float32"
    # molecules with more heavy atoms are masked with a reason (None = no limit): for
    # calculators whose cost explodes with size (measured on 2 cores: RDKit's Ipc/AvgIpc
    # ~6 s at 100 atoms and ~80 s at 500; pharm2d 200 s on a 630-atom molecule)
    _max_heavy_atoms: int | None = None
    # Worker processes start once (loky keeps them alive between calls) but each must import
    # RDKit and molfeat first (seconds); below this many molecules one process is faster for
    # a cheap calculator. Measured on 2 cores: on
    # 20k MOSES SMILES warm workers give 1.7-1.9x (ecfp-count 3391 -> 5640 mol/s), but a cold
    # start on 2k molecules fell to 184 mol/s, so cheap calculators go parallel only on big calls.
    _min_parallel: int = 10000
    # fewest molecules per worker task: large enough that a cheap calculator's task
    # outweighs its message; a slow one (Mordred, ~150 ms per molecule) sets it lower so
    # that a call of a few hundred molecules still splits over the workers
    _min_chunk: int = 100
    n_jobs: int = -1

    def _build_calculator(self):
        raise NotImplementedError

    def _calculator(self):
        calc = self.__dict__.get("_calc")
        if calc is None:
            calc = self._calc = self._build_calculator()
        return calc

    @property
    def dim(self) -> int:
        return len(self._calculator())

    @property
    def version(self) -> str:
        import molfeat
        import rdkit

        return f"rdkit={rdkit.__version__};molfeat={molfeat.__version__};impl={_IMPL_VERSION}"

    def _postprocess(self, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """Raw calculator values of the ok rows -> float32 embeddings."""
        return values.astype(np.float32)

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        """Embed a batch of standardised SMILES.

        Shapes:
            smiles: ``[n]`` -> embeddings float32 ``[n, dim]`` (NaN rows where not ok),
            ok bool ``[n]``.
        """
        smiles = list(smiles)
        calc, dim = self._calculator(), self.dim
        n, workers = len(smiles), _n_workers(self.n_jobs)
        parallel = workers > 1 and n >= self._min_parallel
        chunk = _chunk_size(n, workers, self._min_chunk) if parallel else max(n, 1)
        tasks = [(calc, smiles[s:s + chunk], dim, self._raw_dtype, self._max_heavy_atoms)
                 for s in range(0, n, chunk)]
        if parallel and len(tasks) > 1:
            import datamol as dm

            parts = dm.parallelized(_embed_chunk_sparse, tasks,
                                    n_jobs=min(workers, len(tasks)), scheduler="processes",
                                    arg_type="args")
        else:
            parts = [_embed_chunk(*t) for t in tasks]
        if not parts:
            return TeacherOutput(np.zeros((0, dim), np.float32), np.zeros(0, bool))
        raw = np.empty((n, dim), dtype=self._raw_dtype)
        for k, part in enumerate(parts):  # CSR parts are densified straight into place
            rows = raw[k * chunk:k * chunk + part[0].shape[0]]
            if hasattr(part[0], "toarray"):
                part[0].toarray(out=rows)
            else:
                rows[...] = part[0]
        ok = np.concatenate([p[1] for p in parts])
        reasons = {k * chunk + i: r for k, p in enumerate(parts) for i, r in p[2].items()}
        emb = self._postprocess(raw, ok)
        emb[~ok] = np.nan
        return TeacherOutput(emb, ok, reasons)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_calc", None)  # rebuilt on demand (RDKit objects inside do not pickle)
        return state


# -- molfeat FPCalculator fingerprints --------------------------------------------------


class _FPCalculatorTeacher(FingerprintTeacher):
    """A molfeat ``FPCalculator`` fingerprint; ``method`` is molfeat's id."""

    method: str = ""
    _raw_dtype = "uint8"  # bits; count fingerprints override with float32

    def _calculator_kwargs(self) -> dict:
        return {}

    def _build_calculator(self):
        from molfeat.calc import FPCalculator
        from molfeat.calc.fingerprints import FP_GENERATORS

        calc = FPCalculator(self.method, **self._calculator_kwargs())
        return _GeneratorFP(calc) if calc.method in FP_GENERATORS else calc


class _SizedFP(_FPCalculatorTeacher):
    """A hashed fingerprint folded to ``size`` bits or counts."""

    def __init__(self, size: int = 2048, n_jobs: int = -1):
        self.size = size
        self.n_jobs = n_jobs

    def _calculator_kwargs(self) -> dict:
        return {"length": _check_positive_int(self.name, "size", self.size)}


class _MorganFP(_FPCalculatorTeacher):
    """Morgan fingerprint (circular environments up to ``radius`` bonds), ``size`` long."""

    def __init__(self, radius: int = 2, size: int = 2048, n_jobs: int = -1):
        self.radius = radius
        self.size = size
        self.n_jobs = n_jobs

    def _calculator_kwargs(self) -> dict:
        return {"length": _check_positive_int(self.name, "size", self.size),
                "radius": _check_positive_int(self.name, "radius", self.radius, minimum=0)}


class _FixedFP(_FPCalculatorTeacher):
    """A fingerprint whose length is part of its definition."""

    def __init__(self, n_jobs: int = -1):
        self.n_jobs = n_jobs


@register_teacher("ecfp", "fingerprint", "ECFP (Morgan) bits; radius=2 is ECFP4")
class ECFP(_MorganFP):
    """ECFP: Morgan fingerprint bits (RDKit ``GetMorganGenerator``); radius=2 is ECFP4."""

    method = "ecfp"


@register_teacher("ecfp-count", "fingerprint", "ECFP (Morgan) counts")
class ECFPCount(_MorganFP):
    """ECFP counts: how often each folded Morgan environment occurs."""

    method = "ecfp-count"
    _raw_dtype = "float32"


@register_teacher("fcfp", "fingerprint", "FCFP (feature-invariant Morgan) bits")
class FCFP(_MorganFP):
    """FCFP: Morgan fingerprint over pharmacophoric atom features (donor, acceptor, ...)."""

    method = "fcfp"


@register_teacher("fcfp-count", "fingerprint", "FCFP (feature-invariant Morgan) counts")
class FCFPCount(_MorganFP):
    """FCFP counts."""

    method = "fcfp-count"
    _raw_dtype = "float32"


@register_teacher("maccs", "fingerprint", "MACCS structural keys (167 bits)")
class MACCS(_FixedFP):
    """The 166 MACCS structural keys (RDKit, 167 bits; bit 0 is unused)."""

    method = "maccs"


@register_teacher("atompair", "fingerprint", "atom-pair bits (count-simulated)")
class AtomPair(_SizedFP):
    """Atom pairs (atom types and topological distance), hashed bits with count simulation."""

    method = "atompair"


@register_teacher("atompair-count", "fingerprint", "atom-pair counts")
class AtomPairCount(_SizedFP):
    """Atom-pair counts, hashed to ``size``."""

    method = "atompair-count"
    _raw_dtype = "float32"


@register_teacher("topological", "fingerprint", "topological-torsion bits (count-simulated)")
class Topological(_SizedFP):
    """Topological torsions (paths of 4 atoms), hashed bits with count simulation."""

    method = "topological"


@register_teacher("topological-count", "fingerprint", "topological-torsion counts")
class TopologicalCount(_SizedFP):
    """Topological-torsion counts, hashed to ``size``."""

    method = "topological-count"
    _raw_dtype = "float32"


@register_teacher("avalon", "fingerprint", "Avalon bits (512 by default)")
class Avalon(_SizedFP):
    """Avalon fingerprint bits; 512 is the Avalon toolkit's (and molfeat's) default size."""

    method = "avalon"

    def __init__(self, size: int = 512, n_jobs: int = -1):
        super().__init__(size=size, n_jobs=n_jobs)


@register_teacher("avalon-count", "fingerprint", "Avalon counts (512 by default)")
class AvalonCount(_SizedFP):
    """Avalon fingerprint counts."""

    method = "avalon-count"
    _raw_dtype = "float32"

    def __init__(self, size: int = 512, n_jobs: int = -1):
        super().__init__(size=size, n_jobs=n_jobs)


@register_teacher("erg", "fingerprint", "extended reduced graph (ErG, 315 values)")
class ErG(_FixedFP):
    """ErG: fuzzy pharmacophore-pair distances over the reduced graph (315 real values)."""

    method = "erg"
    _raw_dtype = "float32"


@register_teacher("rdkit", "fingerprint", "RDKit path fingerprint bits (paths of 1-7 bonds)")
class RDKitPath(_SizedFP):
    """RDKit (Daylight-like) path fingerprint: branched subgraphs of 1-7 bonds, hashed."""

    method = "rdkit"


# -- 2D pharmacophores ------------------------------------------------------------------


@register_teacher("pharm2d", "fingerprint", "2D pharmacophore pairs/triplets (molfeat)")
class Pharmacophore2DTeacher(FingerprintTeacher):
    """2D pharmacophore fingerprint (molfeat ``Pharmacophore2D``), folded to ``size`` bits.

    Args:
        factory: feature definitions: "pmapper" (default; molfeat's default, 19355-bit
            signature of 2-3 point pharmacophores), "gobbi" (Gobbi & Poppinger 1998,
            39972 bits, ~1.7x slower), "default" (RDKit BaseFeatures) or "cats" (189
            pair counts, ~4x faster).
        size: folded length.
        n_jobs: worker processes; -1 = all cores.

    Molecules with more than 100 heavy atoms are masked with a reason (the enumeration
    of pharmacophore triplets takes seconds at 200 atoms and minutes at 600).
    """

    _raw_dtype = "float32"
    _min_parallel = 100  # ~10 ms per molecule: workers pay off almost at once
    _max_heavy_atoms = 100  # pair/triplet enumeration: 6 s at 200 atoms, 200 s at 630

    def __init__(self, factory: str = "pmapper", size: int = 2048, n_jobs: int = -1):
        self.factory = factory
        self.size = size
        self.n_jobs = n_jobs

    def _build_calculator(self):
        from molfeat.calc import Pharmacophore2D

        if self.factory not in ("pmapper", "gobbi", "default", "cats"):
            raise TeacherSpecError(
                f"The 'factory' parameter of teacher 'pharm2d' must be one of 'pmapper', "
                f"'gobbi', 'default', 'cats'. Got {self.factory!r} instead.")
        size = _check_positive_int("pharm2d", "size", self.size)
        return Pharmacophore2D(factory=self.factory, length=size)


# -- RDKit 2D descriptors ---------------------------------------------------------------


class _RDKitDescriptors:
    """Picklable calculator: every RDKit 2D descriptor (``Descriptors.descList``), float64.

    RDKit's own ``CalcMolDescriptors`` rather than molfeat's ``RDKitDescriptors2D``: the
    latter standardises each molecule again (twice) although molmtd keys are already
    standardised, which costs ~45% more time (measured 17.6 vs 12.3 ms per MOSES molecule).
    """

    def __init__(self):
        from rdkit.Chem import Descriptors

        self.names = [name for name, _ in Descriptors.descList]

    def __len__(self) -> int:
        return len(self.names)

    def __call__(self, mol) -> np.ndarray:
        from rdkit.Chem import Descriptors

        values = Descriptors.CalcMolDescriptors(mol, missingVal=float("nan"))
        return np.array([values[n] for n in self.names], dtype=np.float64)


@register_teacher("physchem", "descriptor", "RDKit 2D physicochemical descriptors")
class PhyschemDescriptors(FingerprintTeacher):
    """Every RDKit 2D descriptor (``rdkit.Chem.Descriptors.descList``, 217 in RDKit 2026.03).

    Molecules with more than 100 heavy atoms are masked with a reason: RDKit's ``Ipc`` and
    ``AvgIpc`` take seconds at 100 atoms and minutes at 500.

    Values are made finite so that standardisation and losses stay finite:

    - non-finite values become 0 (the count is logged): RDKit returns NaN when a
      descriptor is undefined, e.g. the BCUT2D family for atoms without Gasteiger
      parameters or for single-atom molecules;
    - ``Ipc`` is replaced by sign(x)·log(1+|x|): it grows exponentially with molecule size
      (median 3.7e4 but up to 2.4e17 on MOSES, beyond float32 for large molecules).
      Every other descriptor stays within a few thousand on drug-like molecules and is
      kept as is (teacher embeddings are standardised per dimension downstream).

    Args:
        n_jobs: worker processes; -1 = all cores.
    """

    _raw_dtype = "float64"  # Ipc can exceed float32 before the log transform
    _min_parallel = 100  # ~10 ms per molecule
    _max_heavy_atoms = 100  # Ipc/AvgIpc: seconds at 100 heavy atoms, minutes at 500
    _log_columns = ("Ipc",)

    def __init__(self, n_jobs: int = -1):
        self.n_jobs = n_jobs

    def _build_calculator(self):
        return _RDKitDescriptors()

    @property
    def version(self) -> str:
        import rdkit

        return f"rdkit={rdkit.__version__};impl={_IMPL_VERSION}"

    @property
    def columns(self) -> list[str]:
        """Descriptor names, in embedding order."""
        return list(self._calculator().names)

    def _postprocess(self, values: np.ndarray, ok: np.ndarray) -> np.ndarray:
        names = self._calculator().names
        for name in self._log_columns:
            j = names.index(name)
            values[:, j] = np.sign(values[:, j]) * np.log1p(np.abs(values[:, j]))
        bad = ~np.isfinite(values) & ok[:, None]
        if bad.any():
            worst = np.bincount(np.nonzero(bad)[1], minlength=len(names))
            top = ", ".join(f"{names[j]} ({worst[j]})" for j in np.argsort(-worst)[:3]
                            if worst[j])
            log.info("physchem: %d non-finite descriptor values in %d molecules set to 0 "
                     "(most in %s)", int(bad.sum()), int(bad.any(1).sum()), top)
        values[~np.isfinite(values)] = 0.0
        return values.astype(np.float32)
