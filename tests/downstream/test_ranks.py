from __future__ import annotations

import pandas as pd
import pytest

from molmtd.downstream.ranks import average_ranks, task_ranks
from molmtd.downstream.report import markdown_table


def results() -> pd.DataFrame:
    rows = []

    def add(dataset, task, split, seed, feat, metric, value):
        rows.append(dict(dataset=dataset, task_type=task, split=split, seed=seed,
                         featurizer=feat, metric=metric, value=value))

    # regression task: A best on R2 (the primary metric) although worst on MAE
    for seed, (a, b, c) in enumerate([(0.8, 0.6, 0.4), (0.6, 0.6, 0.4)]):
        add("reg", "regression", "random", seed, "A", "r2", a)
        add("reg", "regression", "random", seed, "B", "r2", b)
        add("reg", "regression", "random", seed, "C", "r2", c)
        for f in "ABC":
            add("reg", "regression", "random", seed, f, "mae", {"A": 9, "B": 1, "C": 2}[f])
    # classification task: B and C tie, A missing (NaN -> ranked last)
    for f, v in {"A": float("nan"), "B": 0.9, "C": 0.9}.items():
        add("cls", "classification", "scaffold", 0, f, "auroc", v)
    return pd.DataFrame(rows)


def test_task_ranks_use_primary_metric_mean_over_seeds_ties_and_nan():
    ranks = task_ranks(results())
    assert ranks.loc[("reg", "random")].to_dict() == {"A": 1.0, "B": 2.0, "C": 3.0}
    assert ranks.loc[("cls", "scaffold")].to_dict() == {"A": 3.0, "B": 1.5, "C": 1.5}


def test_average_ranks_sorted_best_first():
    summary = average_ranks(results()).set_index("featurizer")
    assert summary.index.tolist() == ["B", "A", "C"]
    assert summary["average_rank"].tolist() == pytest.approx([1.75, 2.0, 2.25])
    assert summary["wins"].tolist() == [0, 1, 0]  # a shared first place is rank 1.5
    assert summary.loc["A", "mean_primary"] == pytest.approx(0.7)  # the NaN task is skipped


def test_markdown_table():
    text = markdown_table(pd.DataFrame({"name": ["a|b"], "x": [0.12345], "n": [3]}))
    assert text.splitlines() == ["| name | x | n |", "|---|---|---|", "| a\\|b | 0.123 | 3 |"]
