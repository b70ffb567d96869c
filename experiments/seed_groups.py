r"""Configurations over their training seeds: each ranked alone against the field, head to head.

A configuration (say the density loss at the mean+sum readout) is trained with several seeds, and
one draw can rank far from the next (docs/EXPERIMENTS.md, 2026-12-01-training-seed-combined-corpus
to 2026-12-02-meansum-release). Here a group names the featurizers of one configuration, one per
training seed. Per (task, split, probe), the group's score is the mean of its members' held-out
scores (each already averaged over evaluation seeds), which is the expected score of a draw. Then:

- each group is ranked alone against the field (every featurizer in no group and not
  ``--exclude``d), as ``ranks_by_split.py --candidates`` does for one student;
- for each pair of groups, the tasks that the first wins, per (probe, split).

    .venv/bin/python experiments/seed_groups.py REPORT [REPORT ...] --add ADDED ... \
        --group density=molmtd:a-seed0,molmtd:a-seed1 --group l2=molmtd:b-seed0,molmtd:b-seed1 \
        --exclude 'concat('

Reports are pooled and joined as in ranks_by_split.py.
"""

from __future__ import annotations

import argparse
import importlib.util
from itertools import combinations
from pathlib import Path

import pandas as pd

_spec = importlib.util.spec_from_file_location(
    "ranks_by_split", Path(__file__).with_name("ranks_by_split.py"))
ranks_by_split = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ranks_by_split)

CELL = ["dataset", "split", "model"]


def group_means(mean: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """One row per (task, split, probe, group): the mean score of the group's members.

    Raises:
        SystemExit: a member has no results, or a name is in two groups.
    """
    names = set(mean["featurizer"])
    members = [m for ms in groups.values() for m in ms]
    missing = sorted(set(members) - names)
    if missing:
        raise SystemExit(f"no results for {missing}; featurizers: {sorted(names)}")
    if len(members) != len(set(members)):
        raise SystemExit("a featurizer is in two groups")
    parts = []
    for name, ms in groups.items():
        part = mean[mean["featurizer"].isin(ms)].groupby(CELL)["value"].agg(["mean", "size"])
        if (part["size"] != len(ms)).any():
            raise SystemExit(f"group {name!r}: its members were not scored on the same tasks")
        parts.append(part["mean"].rename("value").reset_index().assign(featurizer=name))
    return pd.concat(parts, ignore_index=True)


def group_goal_table(mean: pd.DataFrame, groups: dict[str, list[str]],
                     exclude: tuple[str, ...] = ()) -> pd.DataFrame:
    """Each group's rank alone against the field, the field's best in brackets."""
    by_group = group_means(mean, groups)
    members = {m for ms in groups.values() for m in ms}
    dropped = mean["featurizer"].map(lambda f: f in members or any(x in f for x in exclude))
    field = mean[~dropped]
    rows = {name: ranks_by_split.alone_against(
                field, by_group[by_group["featurizer"] == name], name) for name in groups}
    return pd.DataFrame.from_dict(rows, orient="index")


def head_to_head(mean: pd.DataFrame, groups: dict[str, list[str]]) -> pd.DataFrame:
    """Pairs of groups, head to head, per (probe, split).

    Each cell of row "a vs b": the tasks where a's mean score is above b's and below it
    ("wins-losses"), and in brackets the mean over tasks of a's score minus b's.
    """
    wide = group_means(mean, groups).pivot_table(index=CELL, columns="featurizer",
                                                 values="value")
    rows = {}
    for a, b in combinations(groups, 2):
        cells = {}
        for (probe, split), part in wide.groupby(level=["model", "split"]):
            wins, losses = int((part[a] > part[b]).sum()), int((part[a] < part[b]).sum())
            cells[f"{probe} {split}"] = (f"{wins}-{losses} "
                                         f"({(part[a] - part[b]).mean():+.3f})")
        rows[f"{a} vs {b}"] = cells
    return pd.DataFrame.from_dict(rows, orient="index")


def _parse_group(text: str) -> tuple[str, list[str]]:
    name, sep, members = text.partition("=")
    if not sep or not name or not members:
        raise argparse.ArgumentTypeError(f"--group {text!r}: expected NAME=FEAT,FEAT,...")
    return name, members.split(",")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report_dirs", type=Path, nargs="+")
    parser.add_argument("--group", type=_parse_group, action="append", required=True,
                        help="NAME=FEATURIZER,FEATURIZER,... (one per training seed; repeat)")
    parser.add_argument("--add", type=Path, action="append", default=[],
                        help="a report of more featurizers scored on the same splits (repeat)")
    parser.add_argument("--exclude", default="",
                        help="comma-separated substrings: featurizers left out of the field")
    args = parser.parse_args()
    groups = dict(args.group)
    mean = ranks_by_split._held_out_means(args.report_dirs, tuple(args.add))
    exclude = tuple(x for x in args.exclude.split(",") if x)
    print(group_goal_table(mean, groups, exclude).to_markdown())
    print()
    print(head_to_head(mean, groups).to_markdown())


if __name__ == "__main__":
    main()
