"""Held-out average rank per split (and per probe) from an evaluation's results.csv.

The report's headline pools both splits; issue 9's goal is stated per split, so this
prints one column per (probe, split). Held-out tasks are those the report lists under
*Held-out ranking* (no compared featurizer nor teacher was trained on their labels).

    .venv/bin/python experiments/ranks_by_split.py ~/.cache/molmtd/runs/scale50k/report-s1-ridge

With ``--candidates``, each candidate student is ranked alone against the same field (every
featurizer that is neither a candidate nor ``--exclude``d), which is issue 9's goal test:
in one table, sibling students split the places between them, so a column can be lost to
a teacher by both. Each cell is the candidate's rank and, in brackets, the best field
member's rank in that table.

    .venv/bin/python experiments/ranks_by_split.py REPORT --exclude 'concat(' \
        --candidates molmtd:molmtd-base,molmtd:noproj-both-s2112-pca512

Several reports are pooled as one table (e.g. the small tasks at one cap and the large ones
at another, or one probe per report): each contributes the held-out tasks of its own
report.md, a (task, probe) pair may come from one report only, and only the featurizers
present in every report are ranked.

``--add REPORT`` joins featurizers scored in a later run of eval_runs.py on the same tasks,
splits, seeds and probe (e.g. one new student, without re-fitting the whole field). A row
joins only where the pooled reports have the same (task, split, seed, probe) with the same
train and test sizes; a featurizer in both must have the same scores (score the release in
both as the check that the splits are the same), and a new one must cover every pooled row.

    .venv/bin/python experiments/ranks_by_split.py REPORT --add NEW_REPORT \
        --exclude 'concat(' --candidates molmtd:new-student
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

PRIMARY = {"classification": "auroc", "regression": "r2"}


EVERY_TASK_HELD_OUT = "so every task is held out"


def held_out_tasks(report: Path) -> list[str] | None:
    """The report's held-out tasks; None when it says that every task is held out."""
    text = report.read_text()
    if EVERY_TASK_HELD_OUT in text:
        return None
    match = re.search(r"Average rank on the held-out tasks only \(([^)]*)\)", text)
    if match is None:
        raise SystemExit(f"{report}: no held-out task list in the report")
    return [t.strip() for t in match.group(1).split(",")]


def _held_out_results(report_dir: Path) -> pd.DataFrame:
    results = pd.read_csv(report_dir / "results.csv")
    results = results[results["metric"] == results["task_type"].map(PRIMARY)]
    held_out = held_out_tasks(report_dir / "report.md")
    return results if held_out is None else results[results["dataset"].isin(held_out)]


KEYS = ["dataset", "split", "seed", "model"]


def _join_added(results: pd.DataFrame, reports: tuple[Path, ...]) -> pd.DataFrame:
    """``results`` plus the featurizers that ``reports`` scored on the same rows.

    The reports count together: e.g. one added report per pooled one.
    """
    extra = pd.concat([pd.read_csv(r / "results.csv") for r in reports])
    extra = extra[extra["metric"] == extra["task_type"].map(PRIMARY)]
    added = ", ".join(str(r) for r in reports)
    rows = results.drop_duplicates(KEYS).set_index(KEYS)
    extra = extra[extra.set_index(KEYS).index.isin(rows.index)]
    for size in ("n_train", "n_test"):
        if size in extra.columns and size in rows.columns:
            theirs = extra.set_index(KEYS)[size]
            if (theirs != rows.loc[theirs.index, size].to_numpy()).any():
                raise SystemExit(f"{added}: {size} differs from the pooled reports on the same "
                                 "(task, split, seed, probe): not the same splits")
    known = set(results["featurizer"])
    both = results.merge(extra[extra["featurizer"].isin(known)], on=[*KEYS, "featurizer"],
                         suffixes=("", "_added"))
    if (both["value"] - both["value_added"]).abs().gt(1e-6).any():
        raise SystemExit(f"{added}: a featurizer scored in both reports has other scores "
                         "there: not the same splits")
    new = extra[~extra["featurizer"].isin(known)]
    complete = new.groupby("featurizer").size() == len(rows)
    if not complete.all():
        print(f"left out of {added} (not every pooled task, split and seed): "
              f"{', '.join(complete.index[~complete])}", file=sys.stderr)
    new = new[new["featurizer"].isin(complete.index[complete])]
    return pd.concat([results, new[results.columns.intersection(new.columns)]])


def _held_out_means(report_dirs: Path | list[Path], added: tuple[Path, ...] = ()) -> pd.DataFrame:
    """Primary metric per (task, split, probe, featurizer), averaged over seeds.

    Several reports are pooled; a task scored by the same probe in two of them is refused
    (which one would count?), and a featurizer missing from one report is dropped, since
    its mean would cover fewer tasks than the others'.
    """
    dirs = [report_dirs] if isinstance(report_dirs, Path) else list(report_dirs)
    parts = [_held_out_results(d) for d in dirs]
    seen: dict[tuple[str, str], Path] = {}
    for d, part in zip(dirs, parts, strict=True):
        for task, probe in sorted(set(zip(part["dataset"], part["model"], strict=True))):
            if (task, probe) in seen:
                raise SystemExit(f"task {task!r} under {probe!r} is in both "
                                 f"{seen[task, probe]} and {d}; pool reports of disjoint "
                                 "task sets (or of other probes)")
            seen[task, probe] = d
    common = set.intersection(*(set(p["featurizer"]) for p in parts))
    dropped = sorted(set.union(*(set(p["featurizer"]) for p in parts)) - common)
    if dropped:
        print(f"left out (not in every report): {', '.join(dropped)}", file=sys.stderr)
    results = pd.concat(parts)
    results = results[results["featurizer"].isin(common)]
    if added:
        results = _join_added(results, tuple(added))
    keys = ["dataset", "split", "model", "featurizer"]
    return results.groupby(keys)["value"].mean().reset_index()


def _rank_table(mean: pd.DataFrame) -> pd.DataFrame:
    mean = mean.copy()
    mean["rank"] = mean.groupby(["dataset", "split", "model"])["value"].rank(ascending=False)
    table = mean.pivot_table(index="featurizer", columns=["model", "split"], values="rank")
    table.columns = [f"{m} {s}" for m, s in table.columns]
    table["mean"] = table.mean(axis=1)
    return table.sort_values("mean")


def ranks_by_split(report_dir: Path | list[Path], added: tuple[Path, ...] = (),
                   exclude: tuple[str, ...] = ()) -> pd.DataFrame:
    """Every featurizer's held-out rank per (probe, split).

    ``exclude``: name substrings left out before ranking, so the others rank among
    themselves.
    """
    mean = _held_out_means(report_dir, added)
    dropped = mean["featurizer"].map(lambda f: any(x in f for x in exclude))
    return _rank_table(mean[~dropped])


def goal_table(report_dir: Path | list[Path], candidates: list[str],
               exclude: tuple[str, ...] = (), added: tuple[Path, ...] = ()) -> pd.DataFrame:
    """Each candidate's ranks against the field alone, with the field's best in brackets."""
    mean = _held_out_means(report_dir, added)
    names = set(mean["featurizer"])
    missing = [c for c in candidates if c not in names]
    if missing:
        raise SystemExit(f"{report_dir}: no results for {missing}; featurizers: {sorted(names)}")
    dropped = mean["featurizer"].map(lambda f: any(x in f for x in exclude))
    field = mean[~mean["featurizer"].isin(candidates) & ~dropped]
    rows = {candidate: alone_against(field, mean[mean["featurizer"] == candidate], candidate)
            for candidate in candidates}
    return pd.DataFrame.from_dict(rows, orient="index")


def alone_against(field: pd.DataFrame, scores: pd.DataFrame, name: str) -> dict[str, str]:
    """``name``'s rank per column, ranked with the field only, as table cells.

    A cell is bold when ``name`` is first, and names the best field member in brackets.
    """
    table = _rank_table(pd.concat([field, scores]))
    others = table.drop(index=name)
    cells = {}
    for column in table.columns:
        best = others[column].idxmin()
        mark = "**" if table.loc[name, column] < others[column].min() else ""
        cells[column] = (f"{mark}{table.loc[name, column]:.2f}{mark} "
                         f"({best} {others.loc[best, column]:.2f})")
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report_dirs", type=Path, nargs="+",
                        help="one or more evaluation reports, pooled (disjoint task sets)")
    parser.add_argument("--candidates", default=None,
                        help="comma-separated featurizer names, each ranked alone against the "
                             "field (bold: first in that column)")
    parser.add_argument("--add", type=Path, action="append", default=[],
                        help="a report of more featurizers scored on the same splits (repeat)")
    parser.add_argument("--exclude", default="",
                        help="comma-separated substrings: featurizers left out of the field")
    args = parser.parse_args()
    exclude = tuple(x for x in args.exclude.split(",") if x)
    if args.candidates:
        print(goal_table(args.report_dirs, args.candidates.split(","), exclude,
                         tuple(args.add)).to_markdown())
    else:
        print(ranks_by_split(args.report_dirs, tuple(args.add), exclude).round(2).to_markdown())


if __name__ == "__main__":
    main()
