r"""How far each benchmark task's molecules lie from the distillation corpus (MOSES).

A hypothesis test for issue 9: the student only ever saw MOSES molecules (neutral,
C/N/O/S/F/Cl/Br, 250-350 Da), while its teachers were trained on, or computed for,
any chemistry. If the student loses to a teacher where a task's molecules leave the
corpus's chemistry, the gap (student minus teacher, from a report's results.csv) should
grow as the task's coverage by the corpus falls.

Per task (the report's subsample: at most --max-molecules, seed 0): the median
nearest-neighbour Tanimoto similarity (ECFP4, 2048 bits) to a seeded sample of
--corpus-sample MOSES molecules, the share of molecules with an element MOSES lacks or a
formal charge, the share of molecules with an atom environment (radius-1 Morgan: an
atom and its bonded neighbours) that no corpus molecule in the sample has (it catches
chemistry MOSES filtered out, such as the azo N=N of every photoswitch molecule, which
the element test misses), the median heavy-atom count, and, with --report, the gap of --student
against --teacher on the primary metric (mean over splits and seeds) with the Spearman
correlation of gap and coverage over the tasks.

    .venv/bin/python experiments/corpus_coverage.py \
        --report ~/.cache/molmtd/runs/scale50k/report-s3-ridge-mordred-e12 \
        --student molmtd:molmtd-base --teacher minimol
"""

from __future__ import annotations

import argparse
from pathlib import Path

MOSES_ELEMENTS = {"C", "N", "O", "S", "F", "Cl", "Br", "H"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", type=Path, default=None, help="a report folder (results.csv)")
    parser.add_argument("--student", default="molmtd:molmtd-base")
    parser.add_argument("--teacher", default="minimol")
    parser.add_argument("--max-molecules", type=int, default=2000)
    parser.add_argument("--corpus-sample", type=int, default=20000)
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    from rdkit import Chem, DataStructs, RDLogger
    from rdkit.Chem import rdFingerprintGenerator
    from scipy.stats import spearmanr

    from molmtd.corpus import bundled_corpus_path, read_molecules
    from molmtd.downstream.datasets import load_dataset, report_tasks

    RDLogger.DisableLog("rdApp.*")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    moses = read_molecules(bundled_corpus_path("moses"))
    pick = np.random.default_rng(0).choice(len(moses), args.corpus_sample, replace=False)
    corpus_mols = [Chem.MolFromSmiles(moses[i]) for i in pick]
    corpus_fps = [gen.GetFingerprint(m) for m in corpus_mols]
    env_gen = rdFingerprintGenerator.GetMorganGenerator(radius=1)

    def environments(mol) -> set[int]:
        return set(env_gen.GetSparseCountFingerprint(mol).GetNonzeroElements())

    corpus_envs = set().union(*(environments(m) for m in corpus_mols))

    gaps = None
    if args.report is not None:
        r = pd.read_csv(args.report / "results.csv")
        r = r[r.metric.isin(["r2", "auroc"])]
        mean = r.groupby(["dataset", "featurizer"]).value.mean().unstack()
        gaps = mean[args.student] - mean[args.teacher]

    rows = []
    tasks = sorted(set(report_tasks()) | (set(gaps.index) if gaps is not None else set()))
    for task in tasks:
        smiles, _, _ = load_dataset(task, max_molecules=args.max_molecules, seed=0)
        mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
        nn_sim = [max(DataStructs.BulkTanimotoSimilarity(gen.GetFingerprint(m), corpus_fps))
                  for m in mols]
        outside = [any(a.GetSymbol() not in MOSES_ELEMENTS or a.GetFormalCharge() != 0
                       for a in m.GetAtoms()) for m in mols]
        unseen = [bool(environments(m) - corpus_envs) for m in mols]
        rows.append({"task": task, "molecules": len(mols),
                     "nn_similarity_median": float(np.median(nn_sim)),
                     "share_elements_or_charge_outside": float(np.mean(outside)),
                     "share_unseen_environment": float(np.mean(unseen)),
                     "heavy_atoms_median": float(np.median([m.GetNumHeavyAtoms() for m in mols])),
                     **({"gap": float(gaps.get(task, np.nan))} if gaps is not None else {})})
    table = pd.DataFrame(rows).set_index("task")
    print(table.round(3).to_markdown())
    if gaps is not None:
        t = table.dropna(subset=["gap"])
        for col in ("nn_similarity_median", "share_elements_or_charge_outside",
                    "share_unseen_environment", "heavy_atoms_median"):
            rho, p = spearmanr(t[col], t["gap"])
            print(f"Spearman(gap of {args.student} - {args.teacher}, {col}) = {rho:.2f} "
                  f"(p={p:.2f}, {len(t)} tasks)")


if __name__ == "__main__":
    main()
