r"""A corpus that covers the sizes MOSES lacks: MOSES rows plus BRICS fragments of them.

docs/EXPERIMENTS.md (2026-12-01-mordred-teacher): the student loses to MiniMol most on tasks of
small molecules (freesolv, solubility: median 8 and 11.5 heavy atoms), while every MOSES molecule
has 10-26 heavy atoms (18-25 between the 5th and 95th percentile). This writes the first --moses
rows of a built corpus (the zinc corpus's [0, 50k) by default) followed by up to --fragments BRICS
fragments of those same molecules (RDKit
``BRICS.BRICSDecompose``; the dummy atoms at the cut bonds become hydrogens), each with
at least --min-heavy heavy atoms, deduplicated, with every molecule of a report task
removed (no test molecule enters distillation). The output is a one-column CSV that a
recipe reads as ``corpus.source``.

    .venv/bin/python experiments/brics_corpus.py ~/.cache/molmtd/corpora/<id>/corpus.parquet \
        ~/.cache/molmtd/corpora-src/moses50k-brics.csv --moses 50000 --fragments 15000
"""

from __future__ import annotations

import argparse
from pathlib import Path


def fragments_of(smiles: str, min_heavy: int) -> set[str]:
    """Canonical SMILES of the BRICS fragments of one molecule, dummies capped with H."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import BRICS

    RDLogger.DisableLog("rdApp.*")  # "not removing hydrogen atom without neighbors"
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return set()
    out = set()
    for frag in BRICS.BRICSDecompose(mol, keepNonLeafNodes=True):
        piece = Chem.MolFromSmiles(frag)
        if piece is None:
            continue
        capped = Chem.RemoveHs(Chem.ReplaceSubstructs(
            piece, Chem.MolFromSmarts("[#0]"), Chem.MolFromSmiles("[H]"), replaceAll=True)[0])
        if capped.GetNumHeavyAtoms() >= min_heavy:
            out.add(Chem.MolToSmiles(capped))
    return out


def _key(smiles: str) -> str | None:
    """The standardised key of molmtd, or None for a molecule it rejects."""
    from molmtd.errors import InvalidMoleculeError
    from molmtd.molecules import standardize_smiles

    try:
        return standardize_smiles(smiles)
    except InvalidMoleculeError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a built corpus (corpus.parquet, column key)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--moses", type=int, default=50000)
    parser.add_argument("--fragments", type=int, default=15000)
    parser.add_argument("--min-heavy", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args()

    import datamol as dm
    import numpy as np
    import pandas as pd

    from molmtd.downstream.datasets import load_dataset, report_tasks

    moses = pd.read_parquet(args.corpus, columns=["key"])["key"].tolist()[:args.moses]
    found = dm.parallelized(lambda s: fragments_of(s, args.min_heavy), moses,
                            n_jobs=args.n_jobs, scheduler="processes")
    frags = sorted(set().union(*found) - set(moses))
    banned = set()
    for task in report_tasks():
        banned.update(load_dataset(task)[0])
    banned = {k for k in (_key(s) for s in banned) if k}
    keys = [k for k in (_key(s) for s in frags) if k and k not in banned]
    keys = sorted(set(keys) - set(moses))
    pick = np.random.default_rng(args.seed).permutation(len(keys))[:args.fragments]
    chosen = [keys[i] for i in np.sort(pick)]
    heavy = [dm.to_mol(k).GetNumHeavyAtoms() for k in chosen]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"smiles": moses + chosen}).to_csv(args.out, index=False)
    print(f"{len(moses)} MOSES rows + {len(chosen)} fragments (of {len(keys)} distinct, "
          f"{len(frags) - len(keys)} removed as report-task molecules or unparsable) -> "
          f"{args.out}; fragment heavy atoms: median {np.median(heavy):.0f}, "
          f"5-95% {np.percentile(heavy, 5):.0f}-{np.percentile(heavy, 95):.0f}")


if __name__ == "__main__":
    main()
