"""Fine-tuning choices measured on the development tasks only (never the report tasks).

Readout (embedding vs layers), unfreezing schedule (frozen / head first then unfrozen /
whole network from the start) and encoder learning rate, for MTDRegressor/MTDClassifier
from molmtd-base. Each (task, split, seed, variant) is one line of a JSON-lines file, so a
rerun skips what is done (resumable). Run niced in the background:

    nice -n 19 python experiments/2026-12-07-finetune-choices.py \
        --out experiments/results/2026-12-07-finetune-choices/runs.jsonl

Then ``--table`` prints the mean score per variant and split.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

VARIANTS = {
    # name: estimator parameters (max_epochs/patience shared, below)
    "frozen-embedding": {"readout": "embedding", "freeze_epochs": 100},
    "frozen-layers": {"readout": "layers", "freeze_epochs": 100},
    "headfirst-embedding-lr1e-4": {"readout": "embedding", "encoder_lr": 1e-4},
    "headfirst-embedding-lr3e-5": {"readout": "embedding", "encoder_lr": 3e-5},
    "headfirst-embedding-lr1e-5": {"readout": "embedding", "encoder_lr": 1e-5},
    "full-embedding-lr3e-5": {"readout": "embedding", "freeze_epochs": 0, "encoder_lr": 3e-5},
    "headfirst-layers-lr3e-5": {"readout": "layers", "encoder_lr": 3e-5},
    "headfirst-layers-lr1e-5": {"readout": "layers", "encoder_lr": 1e-5},
    # the head converged first: 30 head-only epochs (0.1 s each), then up to 20 with the encoder
    "head30-embedding-lr1e-5": {"readout": "embedding", "encoder_lr": 1e-5,
                                "freeze_epochs": 30, "max_epochs": 50},
    "head30-embedding-lr3e-5": {"readout": "embedding", "encoder_lr": 3e-5,
                                "freeze_epochs": 30, "max_epochs": 50},
    "frozen50-embedding": {"readout": "embedding", "freeze_epochs": 50, "max_epochs": 50},
}
TASKS = ("bace-pic50", "chembl-freewilson", "bace")


def run(out: Path, tasks, splits, seeds, variants, max_molecules: int, max_epochs: int) -> None:
    from molmtd.downstream.datasets import dev_tasks, load_dataset
    from molmtd.downstream.splits import make_split
    from molmtd.finetune import MTDClassifier, MTDRegressor

    done = set()
    if out.is_file():
        done = {tuple(json.loads(line)["key"]) for line in out.read_text().splitlines() if line}
    out.parent.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        assert task in dev_tasks(), f"{task} is not a development task"
        smiles, y, kind = load_dataset(task, max_molecules=max_molecules)
        for split in splits:
            for seed in seeds:
                train, test = make_split(split, smiles, 0.2, seed,
                                         stratify=y if kind == "classification" and
                                         split == "random" else None)
                for name in variants:
                    key = (task, split, seed, name)
                    if key in done:
                        continue
                    cls = MTDRegressor if kind == "regression" else MTDClassifier
                    params = {"max_epochs": max_epochs, "patience": 5, **VARIANTS[name]}
                    params["freeze_epochs"] = min(params.get("freeze_epochs", 5),
                                                  params["max_epochs"])
                    est = cls(random_state=seed, **params)
                    t0 = time.perf_counter()
                    est.fit([smiles[i] for i in train], y[train])
                    seconds = time.perf_counter() - t0
                    test_smiles = [smiles[i] for i in test]
                    if kind == "regression":
                        from sklearn.metrics import r2_score

                        score = r2_score(y[test], est.predict(test_smiles))
                    else:
                        from sklearn.metrics import roc_auc_score

                        score = roc_auc_score(y[test], est.predict_proba(test_smiles)[:, 1])
                    row = {"key": list(key), "task": task, "split": split, "seed": seed,
                           "variant": name, "metric": "r2" if kind == "regression" else "auc",
                           "score": float(score), "seconds": seconds,
                           "best_epoch": est.best_epochs_[0],
                           "epochs": len(est.history_[0]), "n_train": len(train)}
                    with out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)


def table(out: Path) -> None:
    import pandas as pd

    df = pd.DataFrame([json.loads(line) for line in out.read_text().splitlines() if line])
    pivot = df.pivot_table(index="variant", columns=["split", "task"], values="score",
                           aggfunc="mean")
    pivot["mean"] = pivot.mean(axis=1)
    print(pivot.round(3).sort_values("mean", ascending=False).to_markdown())
    print(df.groupby("variant")[["seconds", "epochs", "best_epoch"]].mean().round(1)
          .to_markdown())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--splits", default="random,scaffold")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--max-molecules", type=int, default=1000)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--table", action="store_true", help="print the summary and stop")
    args = parser.parse_args()
    if args.table:
        table(args.out)
        return
    run(args.out, args.tasks.split(","), args.splits.split(","),
        [int(s) for s in args.seeds.split(",")], args.variants.split(","),
        args.max_molecules, args.max_epochs)


if __name__ == "__main__":
    main()
