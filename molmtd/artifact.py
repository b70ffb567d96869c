"""The distilled featurizer on disk: safetensors weights, a JSON config and a model card.

Loading never runs code from the artifact: weights are read only with safetensors, the
config only as JSON; a file in another format (a pickle put in place of the weights) is
refused with :class:`~molmtd.errors.ArtifactError`, never unpickled. Writing is atomic
and ``config.json`` is written last: a directory with a config holds a whole artifact.

Version skew: an artifact of another ``format_version`` is refused with a message naming
both molmtd versions. Unknown fields in the sections that decide the output
(``student``, ``graph_features``, ``standardize``) are refused the same way, naming the
field; unknown top-level fields are metadata and are ignored with a warning.

An artifact is found by path, or by name among the released featurizers: any folder
listed in ``$MOLMTD_FEATURIZERS``, then the repository's ``featurizers/`` folder (in a
clone or an editable install), then ``molmtd/_released/`` (in an installed wheel:
setup.py copies every ``featurizers/<name>/`` there at build time).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molmtd.errors import ArtifactError
from molmtd.safeio import atomic_write, atomic_write_text
from molmtd.teachers.base import TeacherOutput

__all__ = [
    "Artifact",
    "save_artifact",
    "load_artifact",
    "find_artifact",
    "released_featurizers",
    "make_random_artifact",
    "FORMAT_VERSION",
    "CONFIG_FIELDS",
    "CORE_FIELDS",
    "METADATA_FIELDS",
]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
_MIN_PARALLEL = 4000  # molecules per embed call before n_jobs > 1 starts worker processes
#: "embedding": the distilled embedding (what the heads were trained on);
#: "layers": every GNN layer's pooled states, concatenated, before any projection: what a
#: jk="cat" student's heads read (GNNStudent.layer_embeddings)
READOUTS = ("embedding", "layers")
#: "auto": the readout the artifact's config recommends (its "readout" field, written at
#: release from the evaluation), else "embedding"
AUTO_READOUT = "auto"
CARD = "card.md"
#: top-level fields save_artifact writes itself; they decide the output
CORE_FIELDS = frozenset({"format_version", "molmtd_version", "student", "graph_features",
                         "standardize"})
#: top-level metadata fields a writer may pass as ``save_artifact(extra=...)``. The one list
#: both sides read: save_artifact refuses any other, so the reader never meets a field its
#: own version wrote as "unknown"
METADATA_FIELDS = frozenset({
    "name", "teachers", "teacher_labels", "corpus", "objective", "validation", "global_step",
    "recipe", "embedding_dim", "selected_by", "fit_seconds", "precision", "readout",
    "compression"})
#: top-level config fields this version writes (others are reported as unknown)
CONFIG_FIELDS = CORE_FIELDS | METADATA_FIELDS


#: released featurizers inside an installed wheel (built from featurizers/ by setup.py)
PACKAGED_DIR = Path(__file__).resolve().parent / "_released"


def _search_dirs() -> list[Path]:
    """$MOLMTD_FEATURIZERS, the clone's featurizers/, the wheel's molmtd/_released/."""
    dirs = [Path(p) for p in os.environ.get("MOLMTD_FEATURIZERS", "").split(os.pathsep) if p]
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file():  # a source tree, not site-packages
        dirs.append(root / "featurizers")
    dirs.append(PACKAGED_DIR)
    return dirs


def released_featurizers() -> dict[str, Path]:
    """Name -> directory of every featurizer found in the search folders."""
    found: dict[str, Path] = {}
    for d in _search_dirs():
        if d.is_dir():
            for sub in sorted(d.iterdir()):
                if (sub / CONFIG).is_file() and sub.name not in found:
                    found[sub.name] = sub
    return found


def find_artifact(path_or_name: str | Path) -> Path:
    """Resolve a featurizer path or released name to its directory.

    Raises:
        FileNotFoundError: neither a featurizer directory nor a known name; lists the names.
    """
    p = Path(path_or_name)
    if (p / CONFIG).is_file():
        return p
    released = released_featurizers()
    if str(path_or_name) in released:
        return released[str(path_or_name)]
    names = ", ".join(sorted(released)) or "none found"
    raise FileNotFoundError(
        f"featurizer {str(path_or_name)!r} is neither a directory holding {CONFIG} nor a "
        f"released featurizer name (released: {names}). Train one with "
        f"`molmtd distill recipes/quickstart.yaml --out runs/quickstart` and pass "
        f"runs/quickstart/featurizer, or add its parent folder to $MOLMTD_FEATURIZERS.")


def save_artifact(directory: str | Path, student, *, standardize: dict[str, Any],
                  extra: dict[str, Any] | None = None, card: str | None = None) -> Path:
    """Write ``model.safetensors``, ``config.json`` and ``card.md`` to ``directory``.

    Args:
        directory: the artifact folder (created; an existing artifact there is replaced).
        student: the :class:`~molmtd.student.GNNStudent` whose weights are saved.
        standardize: the keyword arguments of :func:`molmtd.molecules.standardize_many`.
        extra: top-level metadata; every key must be one of :data:`METADATA_FIELDS`.
        card: the model card's markdown, if any.

    Raises:
        ValueError: a key of ``extra`` is not in :data:`METADATA_FIELDS` (a field the
            reader would warn about as unknown); nothing is written.
    """
    from safetensors.torch import save_file

    from molmtd import __version__
    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS

    unknown = sorted(set(extra or {}) - METADATA_FIELDS)
    if unknown:
        raise ValueError(f"save_artifact: config field(s) {', '.join(unknown)} are not in "
                         "molmtd.artifact.METADATA_FIELDS; add them there so that load_artifact "
                         "knows them, or leave them out")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # "not an artifact" until config.json is written again, last
    (directory / CONFIG).unlink(missing_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in student.state_dict().items()}
    atomic_write(directory / WEIGHTS, lambda tmp: save_file(state, str(tmp)))
    config = {
        "format_version": FORMAT_VERSION,
        "molmtd_version": __version__,
        "student": student.config(),
        "graph_features": {"atom_feature_dims": list(ATOM_FEATURE_DIMS),
                           "bond_feature_dims": list(BOND_FEATURE_DIMS)},
        "standardize": dict(standardize),
        **(extra or {}),
    }
    text = json.dumps(config, indent=2, default=_json_default)
    if card is not None:
        atomic_write_text(directory / CARD, card)
    atomic_write_text(directory / CONFIG, text)
    return directory


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


class Artifact:
    """A loaded featurizer: raw SMILES in, float32 embeddings out (NaN rows where invalid).

    Args:
        directory: the artifact folder.
        device: torch device for the student.
        batch_size: molecules per forward pass.
        readout: "embedding" (the distilled embedding, ``out_dim``), "layers" (every
            layer's pooled states before the projection, ``layers_dim`` wide; see
            :meth:`~molmtd.student.GNNStudent.layer_embeddings`) or "auto" (the config's
            recommended ``readout``, else "embedding").
        precision: "fp32", or "int8" (CPU only: the student's message-passing MLPs run
            with dynamic int8 quantisation, faster and close to, not equal to, fp32;
            see :mod:`molmtd.quantization`).
    """

    def __init__(self, directory: str | Path, device: str = "cpu", batch_size: int = 256,
                 readout: str = AUTO_READOUT, precision: str = "fp32"):
        from safetensors.torch import load_file

        from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
        from molmtd.quantization import PRECISIONS, quantize_student
        from molmtd.student import GNNStudent

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, "
                             f"got {precision!r}")
        if precision == "int8" and str(device) != "cpu":
            raise ValueError(f"precision='int8' runs on the CPU only (dynamic int8 "
                             f"quantisation), got device={device!r}; use precision='fp32'")
        self.directory = Path(directory)
        self.config = _read_config(self.directory)
        features = self.config["graph_features"]
        if (features["atom_feature_dims"] != list(ATOM_FEATURE_DIMS)
                or features["bond_feature_dims"] != list(BOND_FEATURE_DIMS)):
            raise ArtifactError(f"featurizer {self.directory} was trained with other graph "
                                "features than this molmtd version computes; use the molmtd "
                                f"version {self.config.get('molmtd_version')} that wrote it")
        try:
            self.student = GNNStudent.from_config(self.config["student"])
        except (TypeError, ValueError) as err:
            raise ArtifactError(f"featurizer {self.directory}: its student config cannot be "
                                f"built by this molmtd ({err}); {_versions(self.config)}") from err
        self.student.load_state_dict(_load_weights(self.directory / WEIGHTS, load_file))
        self.student.eval().to(device)
        if precision == "int8":
            self.student = quantize_student(self.student)
        self.precision = precision
        self.device = device
        self.batch_size = batch_size
        self.readout = readout

    @property
    def recommended_readout(self) -> str:
        """The readout this featurizer's release recommends ("embedding" if none)."""
        return str(self.config.get("readout", "embedding"))

    @property
    def readout(self) -> str:
        """The readout in use, "embedding" or "layers" ("auto" is resolved when set)."""
        return self._readout

    @readout.setter
    def readout(self, value: str) -> None:
        if value == AUTO_READOUT:
            value = self.recommended_readout
        if value not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS + (AUTO_READOUT,))},"
                             f" got {value!r}")
        self._readout = value

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.directory.name))

    @property
    def dim(self) -> int:
        if self.readout == "layers":
            return int(self.student.layers_dim)
        return int(self.student.out_dim)

    def embed(self, smiles: Sequence[str], n_jobs: int = 1) -> TeacherOutput:
        """Standardise, featurise and embed raw SMILES; failures are masked, never raised.

        Args:
            smiles: raw SMILES.
            n_jobs: processes for standardisation and graph building (-1 = all cores);
                used from ``_MIN_PARALLEL`` molecules on, where they pay for their start.
        """
        import torch

        from molmtd.graphs import graph_batches_from_smiles
        from molmtd.molecules import standardize_many

        n = len(smiles)
        out = np.full((n, self.dim), np.nan, dtype=np.float32)
        ok = np.zeros(n, dtype=bool)
        # a process pool costs ~1 s to start: below this many molecules one process wins
        workers = _n_workers(n_jobs, self.precision) if n >= _MIN_PARALLEL else 1
        if workers > 1:
            reasons = self._embed_overlapped(list(smiles), workers, out, ok)
            return TeacherOutput(out, ok, dict(sorted(reasons.items())))
        keys, reasons = standardize_many(list(smiles), **self.config["standardize"])
        valid = np.asarray([i for i, k in enumerate(keys) if k is not None], dtype=np.int64)
        batches, graph_reasons = graph_batches_from_smiles(
            [keys[i] for i in valid], self.batch_size)
        for j, reason in graph_reasons.items():
            reasons[int(valid[j])] = reason
        with torch.inference_mode():
            for positions, batch in batches:
                self._forward(batch, valid[positions], out, ok)
        return TeacherOutput(out, ok, {int(k): v for k, v in reasons.items()})

    def _forward(self, batch, rows: np.ndarray, out: np.ndarray, ok: np.ndarray) -> None:
        batch = batch.to(self.device)
        emb = (self.student.layer_embeddings(batch) if self.readout == "layers"
               else self.student.forward_batch(batch))
        out[rows] = emb.float().cpu().numpy()
        ok[rows] = True

    def _embed_overlapped(self, smiles: list, workers: int, out: np.ndarray,
                          ok: np.ndarray) -> dict[int, str]:
        """Embed with standardisation and graph building overlapped with the student.

        ``workers`` processes standardise and build graphs while this one runs the
        student on the chunks already done (before, the three stages ran one after the
        other). Batches are the same as in the one-process path: consecutive valid
        molecules, ``batch_size`` at a time, so rows are equal to it.

        joblib's ``return_as="generator"`` yields chunk results in order as they finish
        (the loky pool is reused across calls). The student runs on one torch thread
        meanwhile: the workers already take every core, and an OpenMP team of 2 on a
        busy core waits at each barrier (scatter_add measured 17x slower on 2 threads
        than on 1 with two other processes running).
        """
        import torch
        from joblib import Parallel, delayed

        from molmtd.graphs import _collate

        tasks = (delayed(_prepare_chunk)(smiles[s:s + _CHUNK], s, self.config["standardize"])
                 for s in range(0, len(smiles), _CHUNK))
        reasons: dict[int, str] = {}
        xs, edges, attrs, rows = [], [], [], []
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                for chunk_reasons, positions, block in Parallel(
                        n_jobs=workers, return_as="generator")(tasks):
                    reasons.update(chunk_reasons)
                    num_atoms = block.num_atoms[block.ok]
                    num_edges = block.num_edges[block.ok]
                    atom_ptr = np.concatenate([[0], np.cumsum(num_atoms)])
                    edge_ptr = np.concatenate([[0], np.cumsum(num_edges)])
                    for k in range(len(positions)):
                        a0, a1, e0, e1 = atom_ptr[k], atom_ptr[k + 1], edge_ptr[k], edge_ptr[k + 1]
                        xs.append(block.x[a0:a1])
                        edges.append(block.edge_index[:, e0:e1])
                        attrs.append(block.edge_attr[e0:e1])
                    rows.extend(positions.tolist())
                    while len(rows) >= self.batch_size:
                        b = self.batch_size
                        self._forward(_collate(xs[:b], edges[:b], attrs[:b]),
                                      np.asarray(rows[:b], dtype=np.int64), out, ok)
                        del xs[:b], edges[:b], attrs[:b], rows[:b]
                if rows:
                    self._forward(_collate(xs, edges, attrs), np.asarray(rows, dtype=np.int64),
                                  out, ok)
        finally:
            torch.set_num_threads(threads)
        return reasons

    def __repr__(self) -> str:
        return f"Artifact({str(self.directory)!r}, dim={self.dim})"


_CHUNK = 250  # molecules per worker task of the overlapped path (~0.25 s of work): small
# chunks fill the pipeline sooner (idle, n_jobs=-1, 10k molecules: 838 mol/s at 250,
# 790 at 500, 752 at 1000; benchmarks/RESULTS.md, 2026-11-30 idle entry)


def _n_workers(n_jobs: int, precision: str = "fp32") -> int:
    if n_jobs is None or n_jobs < 0:
        from joblib import cpu_count  # the cores this process may use (cgroups included)

        cores = cpu_count()
        # On two cores the overlapped path runs the student on one thread, and since graph building
        # got 2x faster that thread bounds it: molmtd-base, 4000 molecules, idle, alternating in
        # one process, 1,024-1,079 mol/s against 1,258-1,306 in one process with two torch threads
        # (benchmarks/RESULTS.md, 2026-12-02-max-pooling). So "all cores" means one process there;
        # an explicit n_jobs=2 still starts workers. An int8 student is 2.3x faster, so graph
        # building bounds instead, and the workers win: 1,580-1,815 mol/s against 1,083-1,456
        # (2026-12-02-heldout-base-max-int8).
        return cores if cores > 2 or precision == "int8" else 1
    return max(1, n_jobs)


def _prepare_chunk(smiles: list, start: int, options: dict):
    """Worker task: standardise and featurise one chunk of raw SMILES.

    Returns:
        ``({position: reason}, positions, block)``: failures under input positions
        (``start + k``); ``positions`` int64, the inputs that have a graph, in order;
        the graphs of those molecules (``molmtd.graphs._Block``, failed rows empty).
    """
    from molmtd.graphs import _featurize
    from molmtd.molecules import standardize_many

    keys, local = standardize_many(smiles, **options)
    valid = np.asarray([i for i, k in enumerate(keys) if k is not None], dtype=np.int64)
    block = _featurize([keys[i] for i in valid], 1)
    reasons = {start + i: reason for i, reason in local.items()}
    for j, reason in block.failures.items():
        reasons[start + int(valid[j])] = reason
    return reasons, start + valid[block.ok], block


def _versions(config: dict) -> str:
    from molmtd import __version__

    return (f"it was written by molmtd {config.get('molmtd_version', 'unknown')}, this is "
            f"molmtd {__version__}; load it with the molmtd version that wrote it")


def _read_config(directory: Path) -> dict:
    """config.json, checked for format version and fields this version does not know.

    Raises:
        ArtifactError: unreadable JSON, another format version, or an unknown field in a
            section that decides the output; the message names both versions.
    """
    from molmtd.molecules import STANDARDIZE_DEFAULTS

    path = directory / CONFIG
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"featurizer {directory}: {CONFIG} is unreadable ({err})") from err
    if not isinstance(config, dict):
        raise ArtifactError(f"featurizer {directory}: {CONFIG} is not a JSON object")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise ArtifactError(f"featurizer {directory}: format_version {version!r} is not "
                            f"supported (this molmtd reads {FORMAT_VERSION}); "
                            f"{_versions(config)}")
    for section in ("student", "graph_features", "standardize"):
        if not isinstance(config.get(section), dict):
            raise ArtifactError(f"featurizer {directory}: {CONFIG} has no {section!r} section; "
                                f"{_versions(config)}")
    known = {"graph_features": {"atom_feature_dims", "bond_feature_dims"},
             "standardize": set(STANDARDIZE_DEFAULTS)}
    for section, fields in known.items():
        unknown = sorted(set(config[section]) - fields)
        if unknown:
            raise ArtifactError(f"featurizer {directory}: field {section}.{unknown[0]} is "
                                f"unknown to this molmtd; {_versions(config)}")
    if config.get("readout", "embedding") not in READOUTS:
        raise ArtifactError(f"featurizer {directory}: its recommended readout "
                            f"{config['readout']!r} is not one of {', '.join(READOUTS)}; "
                            f"{_versions(config)}")
    extra = sorted(set(config) - CONFIG_FIELDS)
    if extra:
        log.warning("featurizer %s: ignoring config field(s) %s unknown to molmtd %s (written "
                    "by molmtd %s); they are metadata, the embedding does not depend on them",
                    directory, ", ".join(extra), _this_version(),
                    config.get("molmtd_version", "unknown"))
    return config


def _this_version() -> str:
    from molmtd import __version__

    return __version__


def _load_weights(path: Path, load_file) -> dict:
    """The state dict of a safetensors file; anything else is refused, never unpickled."""
    if not path.is_file():
        raise ArtifactError(f"featurizer {path.parent}: {path.name} is missing (molmtd loads "
                            "weights only from safetensors; .pt/.bin/.ckpt files are ignored)")
    try:
        return load_file(str(path))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise ArtifactError(
            f"featurizer {path.parent}: {path.name} is not a valid safetensors file "
            f"({type(err).__name__}: {err}). molmtd reads weights only as safetensors and "
            "never unpickles a file (a pickle can run code); write the artifact again with "
            "molmtd (save_artifact) or obtain it from a trusted source") from err


def load_artifact(path_or_name: str | Path, device: str = "cpu", batch_size: int = 256,
                  readout: str = AUTO_READOUT, precision: str = "fp32") -> Artifact:
    """Load a featurizer by path or released name (see :func:`find_artifact`)."""
    return Artifact(find_artifact(path_or_name), device=device, batch_size=batch_size,
                    readout=readout, precision=precision)


def make_random_artifact(directory: str | Path, seed: int = 0, hidden_dim: int = 32,
                         num_layers: int = 2) -> Path:
    """Write a small untrained (but real) artifact; for tests and examples."""
    import torch

    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
    from molmtd.molecules import STANDARDIZE_DEFAULTS
    from molmtd.student import GNNStudent

    torch.manual_seed(seed)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=num_layers,
                         hidden_dim=hidden_dim)
    return save_artifact(directory, student, standardize=dict(STANDARDIZE_DEFAULTS),
                         extra={"name": Path(directory).name, "teachers": []},
                         card="# Random molmtd featurizer\n\nUntrained; for tests only.\n")
