"""Held-out average rank per split (and per probe) from an evaluation's results.csv.

The report's headline pools both splits; issue 9's goal is stated per split, so this
prints one column per (probe, split). Held-out tasks are those the report lists under
*Held-out ranking* (no compared featurizer nor teacher was trained on their labels).

    .venv/bin/python experiments/ranks_by_split.py ~/.cache/molmtd/runs/scale50k/report-s1-ridge
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

PRIMARY = {"classification": "auroc", "regression": "r2"}


def held_out_tasks(report: Path) -> list[str]:
    match = re.search(r"Average rank on the held-out tasks only \(([^)]*)\)", report.read_text())
    if match is None:
        raise SystemExit(f"{report}: no held-out task list in the report")
    return [t.strip() for t in match.group(1).split(",")]


def ranks_by_split(report_dir: Path) -> pd.DataFrame:
    results = pd.read_csv(report_dir / "results.csv")
    results = results[results["metric"] == results["task_type"].map(PRIMARY)]
    results = results[results["dataset"].isin(held_out_tasks(report_dir / "report.md"))]
    keys = ["dataset", "split", "model", "featurizer"]
    mean = results.groupby(keys)["value"].mean().reset_index()
    mean["rank"] = mean.groupby(["dataset", "split", "model"])["value"].rank(ascending=False)
    table = mean.pivot_table(index="featurizer", columns=["model", "split"], values="rank")
    table.columns = [f"{m} {s}" for m, s in table.columns]
    table["mean"] = table.mean(axis=1)
    return table.sort_values("mean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report_dir", type=Path)
    args = parser.parse_args()
    print(ranks_by_split(args.report_dir).round(2).to_markdown())


if __name__ == "__main__":
    main()
