"""Fine-tuning speed on the CPU: a 1,000-molecule regression with early stopping, seconds
per epoch at 1k and 10k molecules, and the cost of ``n_models=5`` (as a ratio).

Molecules are MOSES training molecules with Crippen logP as the label (any label would
do: this measures time, not accuracy). Every figure comes from one process, so the ratios
hold under the shared machine's background load; the absolute seconds do not, and the
load average is printed with them.

    nice -n 19 python benchmarks/finetune_speed.py --out benchmarks/finetune_speed.json
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np


def moses(n: int) -> tuple[list[str], np.ndarray]:
    from rdkit import Chem
    from rdkit.Chem import Crippen

    root = Path(importlib.util.find_spec("moses").submodule_search_locations[0])
    with gzip.open(root / "dataset" / "data" / "train.csv.gz", "rt") as fh:
        next(fh)
        smiles = [next(fh).strip() for _ in range(n)]
    return smiles, np.array([Crippen.MolLogP(Chem.MolFromSmiles(s)) for s in smiles])


def timed_fit(smiles, y, **params) -> tuple[float, object]:
    from molmtd.finetune import MTDRegressor

    t0 = time.perf_counter()
    est = MTDRegressor(**params).fit(smiles, y)
    return time.perf_counter() - t0, est


def epoch_seconds(est, phase: str) -> float:
    values = [h["seconds"] for h in est.history_[0] if h["phase"] == phase]
    return float(np.median(values)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--featurizer", default="molmtd-base")
    parser.add_argument("--out", type=Path, default=None, help="JSON results file")
    parser.add_argument("--large", type=int, default=10_000, help="molecules of the large run")
    parser.add_argument("--headline-only", action="store_true",
                        help="only the 1,000-molecule fit with early stopping")
    args = parser.parse_args()
    import torch

    result = {"featurizer": args.featurizer, "torch_threads": torch.get_num_threads(),
              "load_average_start": os.getloadavg()}
    smiles, y = moses(max(1000, args.large))
    # 1. the headline: 1,000 molecules, defaults (early stopping), one model
    seconds, est = timed_fit(smiles[:1000], y[:1000], featurizer=args.featurizer)
    result["fit_1k_seconds"] = seconds
    result["fit_1k_epochs"] = len(est.history_[0])
    result["fit_1k_best_epoch"] = est.best_epochs_[0]
    result["epoch_1k_full_seconds"] = epoch_seconds(est, "full")
    result["epoch_1k_head_seconds"] = epoch_seconds(est, "head")
    if args.headline_only:
        result["load_average_end"] = os.getloadavg()
        print(json.dumps(result, indent=2))
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        return
    # 2. n_models=5 against one model, same data and schedule (fixed epochs: no early stop,
    #    so the ratio is the ensemble's cost, not a difference in stopping epochs)
    fixed = dict(featurizer=args.featurizer, max_epochs=8, patience=100)
    one, _ = timed_fit(smiles[:1000], y[:1000], n_models=1, **fixed)
    five, _ = timed_fit(smiles[:1000], y[:1000], n_models=5, **fixed)
    result.update(n_models_1_seconds=one, n_models_5_seconds=five, n_models_5_ratio=five / one)
    # 3. seconds per epoch at the large size (two full epochs after one head epoch)
    seconds, est = timed_fit(smiles[:args.large], y[:args.large], featurizer=args.featurizer,
                             max_epochs=3, freeze_epochs=1, patience=100)
    result[f"epoch_{args.large}_full_seconds"] = epoch_seconds(est, "full")
    result[f"epoch_{args.large}_head_seconds"] = epoch_seconds(est, "head")
    result[f"fit_{args.large}_3_epochs_seconds"] = seconds
    result["load_average_end"] = os.getloadavg()
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
