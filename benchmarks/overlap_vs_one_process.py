"""Two ways to embed on a small machine, alternating in one process: one process (graphs,
then the student on every torch thread) against workers that build graphs while the
student runs on one thread (MTDFeaturizer's overlapped path, n_jobs >= 2).

Decides what ``n_jobs=-1`` means on two cores (molmtd.artifact._n_workers). Idle machine:

    .venv/bin/python benchmarks/overlap_vs_one_process.py [--featurizer molmtd-base]
        [--n 4000] [--workers 2] [--repeats 3] [--precision int8]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--featurizer", default="molmtd-base")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    args = parser.parse_args()

    import pandas as pd

    import molmtd.artifact
    from molmtd.featurizer import MTDFeaturizer

    moses = next(Path(p) for p in __import__("site").getsitepackages()
                 if (Path(p) / "moses").is_dir()) / "moses/dataset/data/train.csv.gz"
    smiles = pd.read_csv(moses, nrows=args.n)["SMILES"].tolist()
    molmtd.artifact._MIN_PARALLEL = 0  # the overlapped path whatever --n
    one = MTDFeaturizer(args.featurizer, n_jobs=1, precision=args.precision)
    overlapped = MTDFeaturizer(args.featurizer, n_jobs=args.workers, precision=args.precision)
    one.transform(smiles[:300])
    overlapped.transform(smiles)  # starts the worker pool
    rates: dict[str, list[int]] = {"one process": [], f"{args.workers} workers": []}
    for _ in range(args.repeats):
        for name, featurizer in zip(rates, (one, overlapped), strict=True):
            t0 = time.perf_counter()
            featurizer.transform(smiles)
            rates[name].append(round(len(smiles) / (time.perf_counter() - t0)))
    for name, values in rates.items():
        print(f"{name}: {', '.join(f'{v:,}' for v in values)} mol/s")
    print(f"one process / overlapped (best of each): "
          f"{max(rates['one process']) / max(rates[f'{args.workers} workers']):.2f}")


if __name__ == "__main__":
    main()
