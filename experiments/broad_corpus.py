r"""A corpus that covers chemistry MOSES filtered out: MOSES rows plus screening-library molecules.

docs/EXPERIMENTS.md (2026-12-01-corpus-coverage): MOSES has no azo N=N bond (0 in 20k rows; its
filters remove it), and every photoswitch molecule is an azo compound: the held-out task where the
student trails MiniMol most (scaffold R2 0.43 vs 0.67). Clintox, the next one, is drugs with
elements and charges MOSES lacks. This writes the first --moses rows of a built corpus followed by
the unlabelled molecules of two screening collections that ship in RDKit's wheel: NCI's first 5,000
compounds (rdkit/Data/NCI/first_5K.smi; dyes, metals, charged species) and the WEHI library
(rdkit/Data/Pains/test_data/wehi_mols.csv, 10,000 screening compounds, PAINS among them),
standardised with molmtd's own key and deduplicated, with every molecule of a report task removed
(no test molecule enters distillation). No label of anything is read. The output is a one-column
CSV that a recipe reads as ``corpus.source``. ``--source pubchem``
(2026-12-02-release-draws-pubchem) takes the ~71,000 CAS-registered PubChem compounds of the
``chemicals`` wheel instead: industrial chemicals, dyes (azo compounds among them), drugs and
natural products, a wider sample of what MOSES filtered out. The base may also be a corpus CSV
written by this script or by brics_corpus.py (column smiles; --moses 0 keeps all of its rows),
which gives both widenings in one corpus.

    .venv/bin/python experiments/broad_corpus.py ~/.cache/molmtd/corpora/<id>/corpus.parquet \
        ~/.cache/molmtd/corpora-src/moses50k-screen15k.csv --moses 50000
    .venv/bin/python experiments/broad_corpus.py ~/.cache/molmtd/corpora-src/moses50k-brics15k.csv \
        ~/.cache/molmtd/corpora-src/moses50k-brics15k-screen14k.csv --moses 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

from brics_corpus import _key  # molmtd's standardised key, None where molmtd rejects it


def screening_smiles() -> dict[str, list[str]]:
    """The SMILES of the two screening collections in RDKit's wheel, by collection."""
    import pandas as pd
    from rdkit import RDConfig

    data = Path(RDConfig.RDDataDir)
    nci = pd.read_csv(data / "NCI" / "first_5K.smi", sep="\t", header=None)[0].tolist()
    wehi = pd.read_csv(data / "Pains" / "test_data" / "wehi_mols.csv", header=None)[0].tolist()
    return {"nci": nci, "wehi": wehi}


def pubchem_smiles() -> dict[str, list[str]]:
    """The SMILES of the CAS-registered PubChem compounds in the ``chemicals`` wheel.

    ``chemicals/Identifiers/chemical identifiers pubchem large.tsv``: ~71,000 compounds
    with a CAS number (industrial chemicals, dyes, drugs, natural products; fifth column
    SMILES), the identifier table the melting-, boiling-point and refractive-index tasks
    were matched against; their own molecules are removed like every report task's.
    """
    from molmtd.downstream.datasets import _package_file  # found without importing chemicals

    path = _package_file("chemicals", "Identifiers/chemical identifiers pubchem large.tsv")
    with open(path, encoding="utf-8") as fh:
        smiles = [cols[4] for cols in (line.rstrip("\n").split("\t") for line in fh)
                  if len(cols) > 4 and cols[4]]
    return {"pubchem-cas": smiles}


SOURCES = {"screening": screening_smiles, "pubchem": pubchem_smiles}


def _heavy_atoms(key: str) -> int:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(key)
    return mol.GetNumHeavyAtoms() if mol is not None else 10**9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a built corpus (corpus.parquet, column key) "
                        "or a corpus CSV (column smiles)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--moses", type=int, default=50000,
                        help="leading rows of the base corpus to keep (0: all)")
    parser.add_argument("--source", choices=sorted(SOURCES), default="screening",
                        help="screening: NCI's and WEHI's compounds from RDKit's wheel; "
                             "pubchem: the CAS-registered PubChem compounds of the chemicals wheel")
    parser.add_argument("--max-heavy-atoms", type=int, default=0,
                        help="leave out molecules with more heavy atoms (0: no limit)")
    args = parser.parse_args()

    import pandas as pd
    from rdkit import RDLogger

    from molmtd.downstream.datasets import load_dataset, report_tasks

    RDLogger.DisableLog("rdApp.*")
    if args.corpus.suffix == ".csv":
        base = pd.read_csv(args.corpus)["smiles"].tolist()
    else:
        base = pd.read_parquet(args.corpus, columns=["key"])["key"].tolist()
    moses = base[:args.moses] if args.moses > 0 else base
    banned = set()
    for task in report_tasks():
        banned.update(load_dataset(task)[0])
    banned = {k for k in (_key(s) for s in banned) if k}
    seen, chosen, counts = set(moses), [], {}
    for name, smiles in SOURCES[args.source]().items():
        keys = [_key(s) for s in smiles]
        if args.max_heavy_atoms:
            keys = [k if k and _heavy_atoms(k) <= args.max_heavy_atoms else None for k in keys]
        kept = [k for k in keys if k and k not in banned and k not in seen]
        seen.update(kept)
        chosen += kept
        counts[name] = (len(smiles), sum(k is None for k in keys),
                        sum(1 for k in keys if k and k in banned), len(kept))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"smiles": moses + chosen}).to_csv(args.out, index=False)
    for name, (n, bad, report, kept) in counts.items():
        print(f"{name}: {n} molecules, {bad} rejected by molmtd's standardisation "
              f"(or above --max-heavy-atoms), "
              f"{report} report-task molecules removed, {kept} new kept")
    print(f"{len(moses)} base rows + {len(chosen)} {args.source} molecules -> {args.out}")


if __name__ == "__main__":
    main()
