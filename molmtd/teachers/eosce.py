"""The Ersilia Compound Embeddings teacher: a bioactivity-aware embedding shipped in a wheel.

The ``eosce`` wheel (0.2.0, Ersilia Open Source Initiative, GPL-3.0) ships ``efp.onnx``: an
MLP from a 2,048-bit Morgan count fingerprint (radius 2) to 1,024 dimensions. Ersilia
trained it by transfer learning to reproduce embeddings that condense physicochemical
and bioactivity information: a prototypical network trained on FS-Mol's ChEMBL assays,
over GROVER, Mordred and ECFP inputs (model card of Ersilia's ``eos2gw4``). It is the
only wheel-shipped model trained on assay labels that the package search of
``docs/bioactivity-teachers.md`` found usable offline.

eosce pins rdkit 2023.9.5, joblib 1.2.0 and click 8.1.7, so it is installed with
``pip install --no-deps eosce==0.2.0`` (the Makefile does) and none of its Python code
is imported here: the ONNX file is located with :mod:`importlib` and run with
onnxruntime (the MiniMol teacher's back-end), which also keeps the GPL code out of the
process. Importing this module costs nothing.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.errors import ShapeError, TeacherUnavailableError
from molmtd.teachers.base import TeacherOutput, register_teacher

# shared with the GNN teachers: optional imports, NaN-row assembly, pickling without models
from molmtd.teachers.gnn import (
    _LazyTeacher,
    _map_chunks,
    _output,
    _require,
    _resolve_jobs,
    _sha256_file,
    _version,
)

__all__ = ["EosceTeacher", "EOSCE_DIM", "EOSCE_TRAINED_ON"]

log = logging.getLogger(__name__)

#: width of the embedding (the ONNX output ``embedding_list``)
EOSCE_DIM = 1024
# the ONNX input ``morgan_list``: what eosce computes with RDKit's GetCountFPs defaults
_FP_SIZE, _RADIUS = 2048, 2
# eosce writes the counts into an int8 array: a count above 127 makes its featurisation
# raise (OverflowError) for the whole call, so such molecules were never in its training
# data and are masked here
_MAX_COUNT = 127
# Morgan counts take well under a millisecond a molecule: below this many molecules a
# process pool costs more to start than it saves
_MIN_PARALLEL = 20000

#: Labelled tasks behind the embedding, as they can be named. FS-Mol's ~5,000 ChEMBL
#: assays (protein targets, binding and functional) have no TDC id and no molmtd
#: benchmark task carries their labels by name, so this matches none of them; it records
#: the source for ``molmtd evaluate`` and the recipe card.
EOSCE_TRAINED_ON = frozenset({"FS-Mol_ChEMBL_assays"})


def _package_dir() -> Path | None:
    # find_spec locates the wheel without importing it (its imports pull joblib and click)
    spec = importlib.util.find_spec("eosce")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def _onnx_file() -> Path:
    """The model file inside the installed eosce wheel.

    Raises:
        TeacherUnavailableError: eosce is not installed or lacks ``efp.onnx``.
    """
    root = _package_dir()
    if root is None or not (root / "efp.onnx").is_file():
        raise TeacherUnavailableError(
            "the eosce teacher needs the eosce wheel's efp.onnx, which is not installed: "
            "pip install --no-deps eosce==0.2.0 (its own pins would downgrade RDKit)")
    return root / "efp.onnx"


def _morgan_counts(args: tuple) -> list:
    """The model's input row (float32 ``[2048]``) or a failure reason, per SMILES.

    Same values as ``eosce.utils.smiles_to_morgan`` (RDKit's ``GetCountFPs`` with its
    default Morgan generator: radius 2, 2,048 bits, chirality ignored).
    """
    _, smiles = args
    import datamol as dm
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=_RADIUS, fpSize=_FP_SIZE)
    out: list = []
    with dm.without_rdkit_log():
        for s in smiles:
            if not s:
                out.append("empty input")
                continue
            mol = Chem.MolFromSmiles(s)
            if mol is None:
                out.append("unparseable SMILES")
                continue
            if mol.GetNumAtoms() == 0:
                out.append("no atoms")
                continue
            counts = generator.GetCountFingerprintAsNumPy(mol)
            top = int(counts.max())
            if top > _MAX_COUNT:
                out.append(f"a Morgan substructure occurs {top} times: eosce's featurisation "
                           f"stores counts as int8 (at most {_MAX_COUNT})")
                continue
            out.append(counts.astype(np.float32))
    return out


@register_teacher("eosce", "fingerprint",
                  "Ersilia Compound Embeddings: Morgan counts -> 1024-d, trained on FS-Mol "
                  "ChEMBL bioactivity (eosce wheel, ONNX)")
class EosceTeacher(_LazyTeacher):
    """The 1,024-d Ersilia Compound Embedding: ``ErsiliaCompoundEmbeddings().transform``.

    The input is the molecule's Morgan count fingerprint (radius 2, 2,048 bits, as
    float32); the output is ``efp.onnx``'s ``embedding_list``. The
    library's own call fails the whole batch on one unparseable SMILES (RDKit returns None)
    or one Morgan count above 127; here those molecules are masked with a reason and the
    rest embedded. The output depends on the molecular graph only (not on atom order).

    Args:
        batch_size: molecules per ONNX call.
        device: "cpu", or "cuda" for onnxruntime's CUDA provider when installed.
        n_jobs: onnxruntime threads and, from 20,000 molecules, featurisation processes
            (-1 = all cores).
    """

    def __init__(self, batch_size: int = 512, device: str = "cpu", n_jobs: int = -1):
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("onnxruntime") is None:
            return False, "onnxruntime not installed: pip install 'molmtd[eosce]'"
        if _package_dir() is None:
            return False, ("eosce not installed: pip install --no-deps eosce==0.2.0 "
                           "(its own pins would downgrade RDKit)")
        return True, ""

    def trained_on(self) -> frozenset[str]:
        return EOSCE_TRAINED_ON

    @property
    def dim(self) -> int:
        return EOSCE_DIM

    @property
    def version(self) -> str:
        if getattr(self, "_version", None) is None:
            self._version = (f"eosce={_version('eosce')},rdkit={_version('rdkit')},"
                             f"onnxruntime={_version('onnxruntime')},"
                             f"model={_sha256_file(_onnx_file())}")
        return self._version

    def _load(self):
        if getattr(self, "_model", None) is not None:
            return self._model
        path = _onnx_file()
        ort = _require("onnxruntime", "eosce")
        options = ort.SessionOptions()
        options.intra_op_num_threads = _resolve_jobs(self.n_jobs)
        providers = ["CPUExecutionProvider"]
        if str(self.device).startswith("cuda"):
            providers.insert(0, "CUDAExecutionProvider")
        session = ort.InferenceSession(str(path), options, providers=providers)
        (inp,), (out,) = session.get_inputs(), session.get_outputs()
        if inp.shape[-1] != _FP_SIZE or out.shape[-1] != EOSCE_DIM:  # another eosce release
            raise ShapeError(f"eosce model {path}", f"[n, {_FP_SIZE}] -> [n, {EOSCE_DIM}]",
                             (tuple(inp.shape), tuple(out.shape)))
        self._names = (inp.name, out.name)
        self._model = session
        log.info("loaded Ersilia compound embeddings from %s", path)
        return session

    def _forward(self, rows: np.ndarray) -> np.ndarray:
        """One ONNX call.

        Shapes:
            rows: ``[n, 2048]`` float32 Morgan counts; output: ``[n, 1024]`` float32.
        """
        inp, out = self._names
        return self._model.run([out], {inp: rows})[0]

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        smiles = list(smiles)
        self._load()
        items = _map_chunks(_morgan_counts, smiles, None, self.n_jobs, _MIN_PARALLEL)
        reasons = {i: it for i, it in enumerate(items) if isinstance(it, str)}
        rows = [i for i, it in enumerate(items) if not isinstance(it, str)]
        parts = [self._forward(np.stack([items[i] for i in rows[s:s + self.batch_size]]))
                 for s in range(0, len(rows), self.batch_size)]
        values = np.concatenate(parts) if parts else np.zeros((0, EOSCE_DIM), np.float32)
        return _output(len(smiles), EOSCE_DIM, rows, values, reasons)
