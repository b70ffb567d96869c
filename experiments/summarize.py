"""One markdown table of the training-side numbers of finished runs (what ablate's report lacks).

For each run directory (``RUN/featurizer/config.json``): the final validation loss per
teacher, the embedding's effective rank (first and last epoch, from logs/metrics.csv),
the development probe if it was scored, the width and the training wall time.

    .venv/bin/python experiments/summarize.py ~/.cache/molmtd/runs/screen10k/*/
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd


def summarize(run: Path) -> dict:
    config = json.loads((run / "featurizer" / "config.json").read_text())
    val = config["validation"]
    row = {"variant": run.name, "dim": config.get("embedding_dim", config["student"]["out_dim"]),
           "steps": config["global_step"], "fit s": config.get("fit_seconds", float("nan"))}
    metrics_path = run / "logs" / "metrics.csv"
    if metrics_path.is_file():
        ranks = pd.read_csv(metrics_path).get("val/effective_rank")
        if ranks is not None and ranks.notna().any():
            ranks = ranks.dropna()
            row["erank first"], row["erank last"] = ranks.iloc[0], ranks.iloc[-1]
    total = val.get("total", {})
    row["erank final"] = total.get("effective_rank", float("nan"))
    row["dev probe"] = total.get("dev_probe", float("nan"))
    row["val total"] = total.get("loss", float("nan"))
    for label in config["teacher_labels"]:
        row[f"val {label}"] = val.get(label, {}).get("loss", float("nan"))
    return row


def dev_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean score per featurizer (rows) and probe/split (columns), over tasks and seeds.

    The headline metric of each task (AUROC for classification, R2 for regression), each
    task weighing the same; ``mean`` is the average of the probe/split columns.
    """
    headline = results[results["metric"].isin(["auroc", "r2"])]
    per_task = headline.groupby(["featurizer", "model", "split", "dataset"])["value"].mean()
    table = per_task.groupby(["featurizer", "model", "split"]).mean().unstack(["model", "split"])
    table.columns = [f"{m} {s}" for m, s in table.columns]
    table["mean"] = table.mean(axis=1)
    return table.sort_values("mean", ascending=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    rows = [summarize(r) for r in args.runs if (r / "featurizer" / "config.json").is_file()]
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
