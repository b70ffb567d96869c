"""Inference throughput of a distilled featurizer, stage by stage, beside ECFP.

``MTDFeaturizer.transform`` on raw SMILES does three things: standardise (datamol),
build graphs (molmtd.graphs) and run the student. This script times each stage alone
and the whole call, on the same MOSES molecules, so that the overhead of the wrapper
(everything that is not the student's forward pass) is visible as a ratio, and puts
molfeat's ECFP (the featurizer users compare us with) beside it.

Usage (idle machine; one busy background job makes torch steps several times slower):

    .venv/bin/python benchmarks/featurizer.py [--featurizer quickstart] [--n 2000]
        [--threads 2] [--repeats 3]

Prints molecules/s (best of --repeats) for
  transform    : MTDFeaturizer(...).transform(smiles), everything included
  standardise  : molmtd.molecules.standardize_many (the artifact's recorded settings)
  graphs       : molmtd.graphs.graphs_from_smiles on the standardised SMILES
  forward      : the student alone on pre-built graphs (collate + forward)
  ecfp         : molfeat MoleculeTransformer(FPCalculator("ecfp", 2048)), n_jobs=1
and the share of ``transform`` time spent outside the student's forward pass.
"""

from __future__ import annotations

import argparse
import time


def best_rate(fn, n: int, repeats: int) -> float:
    """Molecules/s of the fastest of ``repeats`` calls of ``fn`` (least disturbed by load)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--featurizer", default="quickstart", help="artifact path or released name")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256)
    args = ap.parse_args()

    import os
    import sys

    import torch
    from torch_geometric.data import Batch

    sys.path.insert(0, os.path.dirname(__file__))
    from teachers import moses  # same MOSES reader as the teacher benchmark

    from molmtd import MTDFeaturizer
    from molmtd.graphs import graphs_from_smiles
    from molmtd.molecules import standardize_many

    torch.set_num_threads(args.threads)
    smiles = moses(args.n)
    featurizer = MTDFeaturizer(args.featurizer, batch_size=args.batch_size)
    featurizer.transform(smiles[:64])  # load weights and warm up
    artifact = featurizer._model()
    settings = artifact.config["standardize"]

    keys, _ = standardize_many(smiles, **settings)
    keys = [k for k in keys if k is not None]
    graphs, _ = graphs_from_smiles(keys)
    graphs = [g for g in graphs if g is not None]

    def forward():
        with torch.inference_mode():
            for s in range(0, len(graphs), args.batch_size):
                artifact.student.forward_batch(Batch.from_data_list(graphs[s:s + args.batch_size]))

    from molfeat.calc import FPCalculator
    from molfeat.trans import MoleculeTransformer

    ecfp = MoleculeTransformer(FPCalculator("ecfp", radius=2, length=2048), n_jobs=1,
                               dtype="float32")

    rates = {
        "transform": best_rate(lambda: featurizer.transform(smiles), len(smiles), args.repeats),
        "standardise": best_rate(lambda: standardize_many(smiles, **settings), len(smiles),
                                 args.repeats),
        "graphs": best_rate(lambda: graphs_from_smiles(keys), len(keys), args.repeats),
        "forward": best_rate(forward, len(graphs), args.repeats),
        "ecfp": best_rate(lambda: ecfp(smiles), len(smiles), args.repeats),
    }
    load = os.getloadavg()[0]
    print(f"{args.featurizer}: {artifact!r}; {len(smiles)} MOSES molecules, "
          f"{args.threads} torch threads, best of {args.repeats}; load average {load:.2f}\n")
    print("| stage | mol/s |\n|---|---:|")
    for name, rate in rates.items():
        print(f"| {name} | {rate:,.0f} |")
    outside = 1 - rates["transform"] / rates["forward"]
    print(f"\ntransform / forward = {rates['transform'] / rates['forward']:.2f} "
          f"({outside:.0%} of transform time is outside the student); "
          f"transform / ecfp = {rates['transform'] / rates['ecfp']:.2f}")


if __name__ == "__main__":
    main()
