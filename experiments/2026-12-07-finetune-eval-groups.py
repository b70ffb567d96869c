"""Issue 32's comparison split by task family (physical/chemical against bioactivity/ADMET).

Average rank and mean score per split for the physical/chemical report tasks and for the
bioactivity/ADMET ones (bbbp, clintox, hiv, atc-antineoplastic, atc-nervous), where
MiniMol's bioassay pretraining should matter.

Reads the evaluation's JSON-lines files (later files win on a repeated key), keeps each
task-split-seed cell at its whole training side and only cells where every system
finished, ranks per cell (1 = best), as ``molmtd evaluate --finetune``'s tables do.

    R=experiments/results/2026-12-07-finetune-eval
    python experiments/2026-12-07-finetune-eval-groups.py $R/runs.jsonl \
        $R/runs-{b,c,ecfp-clipped,curves-ft,rest}.jsonl
"""

from __future__ import annotations

import json
import sys

import pandas as pd

BIOACTIVITY = {"bbbp", "clintox", "hiv", "atc-antineoplastic", "atc-nervous"}


def family_table(paths: list[str]) -> pd.DataFrame:
    """Average rank, mean score and cell count per (split, family, system)."""
    rows = {}
    for path in paths:
        with open(path) as handle:
            for line in handle:
                row = json.loads(line)
                rows[tuple(row["key"])] = row
    runs = pd.DataFrame(list(rows.values()))
    cell = ["task", "split", "seed"]
    runs = runs[runs["n_train"] == runs.groupby(cell)["n_train"].transform("max")]
    systems = runs.groupby(cell)["system"].transform("nunique")
    runs = runs[systems == systems.max()].copy()
    runs["family"] = runs["task"].map(
        lambda t: "bioactivity/ADMET" if t in BIOACTIVITY else "physical/chemical")
    runs["rank"] = runs.groupby(cell)["score"].rank(ascending=False)
    return (runs.groupby(["split", "family", "system"])
            .agg(average_rank=("rank", "mean"), mean_score=("score", "mean"),
                 cells=("rank", "size")).round(3))


if __name__ == "__main__":
    table = family_table(sys.argv[1:])
    for (split, family), part in table.groupby(level=[0, 1]):
        print(f"\n{split} split, {family} tasks\n")
        print(part.droplevel([0, 1]).sort_values("average_rank").to_markdown())
