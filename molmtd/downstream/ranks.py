"""Rank featurizers across tasks: mean primary metric per task, rank per task, average rank.

A task is a (dataset, split) pair, or a (dataset, split, model) triple when the results
have a ``model`` column (several probes in one report): featurizers are ranked against
each other within each probe, never one probe against another.
"""

from __future__ import annotations

import numpy as np

from molmtd.downstream.metrics import HIGHER_IS_BETTER, PRIMARY_METRIC

__all__ = ["task_scores", "task_ranks", "average_ranks"]

TASK = ["dataset", "split"]


def _task(results) -> list[str]:
    return [*TASK, "model"] if "model" in results.columns else list(TASK)


def task_scores(results):
    """Mean and std over seeds of each task's primary metric, per featurizer.

    Args:
        results: long table with columns dataset, task_type, split, seed, featurizer,
            metric, value.

    Returns:
        DataFrame with columns dataset, split, (model,) task_type, metric, featurizer,
        mean, std, n.
    """
    primary = results[results["metric"] == results["task_type"].map(PRIMARY_METRIC)]
    grouped = primary.groupby([*_task(results), "task_type", "metric", "featurizer"],
                              sort=False)["value"]
    out = grouped.agg(mean="mean", std="std", n="count").reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


def task_ranks(results):
    """Rank of each featurizer on each task.

    1 = best; ties share the mean rank; a missing score ranks last.

    Returns:
        DataFrame indexed by (dataset, split[, model]) with one column per featurizer.
    """
    task = _task(results)
    scores = task_scores(results)
    table = scores.pivot_table(index=task, columns="featurizer", values="mean", sort=False)
    metric = scores.drop_duplicates(task).set_index(task)["metric"].reindex(table.index)
    higher = metric.map(HIGHER_IS_BETTER).to_numpy()
    signed = table.to_numpy() * np.where(higher, -1.0, 1.0)[:, None]  # smaller = better
    import pandas as pd

    ranked = pd.DataFrame(signed, index=table.index, columns=table.columns)
    return ranked.rank(axis=1, method="average", na_option="bottom")


def average_ranks(results):
    """Average rank per featurizer, best first.

    Returns:
        DataFrame with columns featurizer, average_rank, mean_primary (mean over tasks of
        the primary metric, regression and classification mixed) and wins (tasks ranked 1).
    """
    import pandas as pd

    ranks = task_ranks(results)
    scores = task_scores(results)
    mean_primary = scores.groupby("featurizer")["mean"].mean()
    out = pd.DataFrame({
        "featurizer": ranks.columns,
        "average_rank": ranks.mean(axis=0).to_numpy(),
        "mean_primary": mean_primary.reindex(ranks.columns).to_numpy(),
        "wins": (ranks == 1.0).sum(axis=0).to_numpy(),
    })
    return out.sort_values(["average_rank", "featurizer"]).reset_index(drop=True)
