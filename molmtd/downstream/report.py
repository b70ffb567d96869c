"""Write an evaluation report: markdown tables, the rank plot (PNG), results.csv, report.md."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["markdown_table", "plot_ranks", "write_report"]


def _cell(value, digits: int) -> str:
    if isinstance(value, (float, np.floating)):
        return "–" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(df, digits: int = 3, index: bool = False) -> str:
    """A GitHub-flavoured markdown table of ``df``.

    Written here so that pandas' ``to_markdown`` and its optional ``tabulate`` dependency
    are not needed.
    """
    if index:
        df = df.reset_index()
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(_cell(v, digits) for v in row) + " |"
            for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def plot_ranks(ranks, summary, path: str | Path) -> Path:
    """Plot the average rank per featurizer as horizontal bars, best on top.

    Each task's rank is drawn as a dot on its featurizer's bar.

    Args:
        ranks: per-task ranks (rows = tasks, columns = featurizers), from
            :func:`~molmtd.downstream.ranks.task_ranks`.
        summary: :func:`~molmtd.downstream.ranks.average_ranks` output.
        path: where the PNG is written; missing parent directories are created.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    from matplotlib.figure import Figure  # no pyplot: renders with Agg, no global state

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(summary["featurizer"])[::-1]
    fig = Figure(figsize=(7.0, 0.55 * len(names) + 1.6), dpi=110)
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y, summary.set_index("featurizer").loc[names, "average_rank"], color="#8fb3de")
    rng = np.random.default_rng(0)
    for k, name in enumerate(names):
        task = ranks[name].to_numpy()
        ax.scatter(task, k + rng.uniform(-0.2, 0.2, len(task)), s=12, c="#1f3b66", zorder=3)
    ax.set_yticks(y, names)
    ax.set_xlim(0.5, ranks.shape[1] + 0.5)
    ax.set_xlabel("rank (1 = best); bar = average over tasks, dots = single tasks")
    ax.set_title(f"average rank over {len(ranks)} tasks")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def write_report(out_dir: str | Path, *, results, setup: dict, datasets_table,
                 clustering=None, notes: list[str] = (),
                 sections: list[tuple[str, str]] = (),
                 headline: tuple[str, str] | None = None) -> Path:
    """Write ``results.csv``, ``ranks.png`` and ``report.md`` into ``out_dir``.

    Args:
        out_dir: the report directory; created if missing.
        results: long table (dataset, task_type, split, seed, featurizer, metric, value).
        setup: what was run (featurizers, datasets, splits, seeds, model, ...): listed
            at the top of the report.
        datasets_table: one row per dataset (molecules loaded / invalid / dropped / used).
        clustering: optional table of clustering scores per dataset and featurizer.
        notes: extra sentences for the method section (NaN handling, z-scoring, ...).
        sections: extra ``(title, markdown)`` sections, placed after the average ranks.
        headline: an optional ``(title, markdown)`` section placed first, before the
            all-task average rank (``molmtd evaluate``: the held-out ranking).

    Returns:
        the path of ``report.md``.
    """
    from molmtd.downstream.ranks import average_ranks, task_ranks, task_scores

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results.to_csv(out / "results.csv", index=False)
    ranks = task_ranks(results)
    summary = average_ranks(results)
    summary.to_csv(out / "average_ranks.csv", index=False)
    plot_ranks(ranks, summary, out / "ranks.png")

    scores = task_scores(results)
    scores["cell"] = [f"{m:.3f} ± {s:.3f}" if not math.isnan(m) else "–"
                      for m, s in zip(scores["mean"], scores["std"], strict=True)]
    task = ["dataset", "split", *(["model"] if "model" in results.columns else [])]
    per_task = scores.pivot_table(index=[*task, "metric"], columns="featurizer",
                                  values="cell", aggfunc="first", sort=False)
    per_task = per_task[list(summary["featurizer"])]
    all_metrics = (results.groupby([*task, "metric", "featurizer"], sort=False)
                   ["value"].mean().unstack("featurizer")[list(summary["featurizer"])])

    lines = ["# molmtd evaluation report", ""]
    lines += [f"- **{k}**: {v}" for k, v in setup.items()]
    if headline is not None:
        lines += ["", f"## {headline[0]}", "", headline[1]]
    lines += ["", "## Average rank" + (" (all tasks)" if headline is not None else ""), "",
              "Rank per task (dataset × split" + (" × model" if "model" in task else "")
              + ") on the task's primary metric (R2 for "
              "regression, AUROC for classification), averaged over seeds first; "
              "1 = best. `mean_primary` averages the primary metric over tasks.", "",
              markdown_table(summary), "", "![average rank](ranks.png)", ""]
    for title, body in sections:
        lines += [f"## {title}", "", body, ""]
    lines += ["## Per-task primary metric (mean ± std over seeds)", "",
              markdown_table(per_task, index=True), "",
              "## All metrics (mean over seeds)", "",
              markdown_table(all_metrics, index=True), "",
              "## Datasets", "", markdown_table(datasets_table), ""]
    if clustering is not None and len(clustering):
        lines += ["## Clustering quality", "",
                  "k-means (k below) on z-scored embeddings, and Butina on ECFP Tanimoto "
                  "distance as the fingerprint baseline. Silhouette in each featurizer's own "
                  "space (Tanimoto distance for Butina); ARI and NMI measure agreement with "
                  "Bemis-Murcko scaffold families (higher = clusters follow scaffolds).", "",
                  markdown_table(clustering), ""]
    if notes:
        lines += ["## Method notes", "", *[f"- {n}" for n in notes], ""]
    lines += ["Files: `results.csv` (every score, long format), `average_ranks.csv`, "
              "`ranks.png`.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
