r"""Compress a finished run's layer readout to a <= 512-d embedding (PCA), as a new run.

The layer readout of a 5x300 student is 1500-d; issue 9 asks for 512 or fewer. This fits
a PCA of the z-scored readout on ``--molecules`` molecules drawn (seeded) from the MOSES
training file, folds it into the student's projection (molmtd.compression) and writes
OUT/featurizer, which eval_runs.py and release.py take like any run.

    .venv/bin/python experiments/compress.py ~/.cache/molmtd/runs/scale250k/gauss-jkcat \\
        ~/.cache/molmtd/runs/pca/gauss-250k-pca512 --dim 512 --molecules 20000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a finished run (RUN/featurizer)")
    parser.add_argument("out", type=Path, help="the new run folder (OUT/featurizer)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--molecules", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args()

    import numpy as np

    from molmtd.compression import compress_layer_readout
    from molmtd.corpus import bundled_corpus_path, read_molecules

    start = time.perf_counter()
    smiles = read_molecules(bundled_corpus_path("moses"))
    pick = np.random.default_rng(args.seed).choice(len(smiles), args.molecules, replace=False)
    target = compress_layer_readout(args.run / "featurizer", args.out / "featurizer",
                                    [smiles[i] for i in np.sort(pick)], dim=args.dim,
                                    n_jobs=args.n_jobs, seed=args.seed, name=args.out.name)
    record = json.loads((target / "config.json").read_text())["compression"]
    print(f"{target}: {record} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
