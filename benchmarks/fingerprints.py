"""Fingerprint teachers against a plain RDKit loop, and their scaling over cores.

The floor a fingerprint teacher is held to is the plainest code a user could write:

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    np.stack([gen.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s)) for s in smiles])

For each teacher, molecules/s of that loop (one core), of ``teacher.embed`` with
``n_jobs=1`` (timed on alternating blocks of 1000 molecules with the loop, so that load
changes hit both alike) and of ``teacher.embed`` with ``n_jobs=-1`` on one call of
``--n`` molecules (10k by default; the worker pool is started by a warm-up call first,
as in a long-lived process). Targets: one core >= 0.8x the loop; all cores >= 1.6x one
core on 2 cores.

Usage:
    .venv/bin/python benchmarks/fingerprints.py [--n 10000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def plain_loops():
    from rdkit import Chem, DataStructs
    from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

    morgan = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

    def ecfp_count(smiles):
        return np.stack([morgan.GetCountFingerprintAsNumPy(Chem.MolFromSmiles(s))
                         for s in smiles]).astype(np.float32)

    def maccs(smiles):
        out = np.zeros((len(smiles), 167), dtype=np.float32)
        for i, s in enumerate(smiles):
            DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(Chem.MolFromSmiles(s)), out[i])
        return out

    return {"ecfp-count:radius=2,size=2048": ecfp_count, "maccs": maccs}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    sys.path.insert(0, os.path.dirname(__file__))
    from teachers import moses

    from molmtd.teachers import get_teacher

    smiles = moses(args.n)
    load = [os.getloadavg()[0]]
    rows = []
    for spec, loop in plain_loops().items():
        one = get_teacher(spec, n_jobs=1)
        every = get_teacher(spec, n_jobs=-1)
        np.testing.assert_array_equal(one.embed(smiles[:200]).embeddings, loop(smiles[:200]))
        every.embed(smiles)  # warm-up: starts the worker pool
        spent = [0.0, 0.0]
        for k, s in enumerate(range(0, len(smiles), 1000)):
            chunk = smiles[s:s + 1000]
            for which in ((0, 1) if k % 2 == 0 else (1, 0)):
                start = time.perf_counter()
                (one.embed, loop)[which](chunk)
                spent[which] += time.perf_counter() - start
        start = time.perf_counter()
        every.embed(smiles)
        all_cores = len(smiles) / (time.perf_counter() - start)
        row = {"teacher": spec, "rdkit_loop_mol_s": len(smiles) / spent[1],
               "one_core_mol_s": len(smiles) / spent[0], "all_cores_mol_s": all_cores}
        row["one_core_vs_loop"] = row["one_core_mol_s"] / row["rdkit_loop_mol_s"]
        row["all_vs_one_core"] = all_cores / row["one_core_mol_s"]
        rows.append(row)
        print(f"{spec}: RDKit loop {row['rdkit_loop_mol_s']:,.0f} mol/s; teacher n_jobs=1 "
              f"{row['one_core_mol_s']:,.0f} ({row['one_core_vs_loop']:.2f}x the loop); "
              f"n_jobs=-1 on {len(smiles):,} molecules {all_cores:,.0f} "
              f"({row['all_vs_one_core']:.2f}x one core)", flush=True)
    load.append(os.getloadavg()[0])
    print(f"{os.cpu_count()} cores; load average {load[0]:.2f} at start, {load[1]:.2f} at end")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "load_average": load, "n": len(smiles)}, fh, indent=1)


if __name__ == "__main__":
    main()
