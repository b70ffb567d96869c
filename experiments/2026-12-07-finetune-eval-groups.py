r"""Issue 32's comparison split by task family (physical/chemical against bioactivity/ADMET).

Average rank and mean score per split for the physical/chemical report tasks and for the
bioactivity/ADMET ones (bbbp, clintox, hiv, atc-antineoplastic, atc-nervous), where
MiniMol's bioassay pretraining should matter: ``molmtd evaluate --finetune``'s own rank
table (``rank_summary``: whole training sides, cells every system finished, the first file
wins a repeated key), computed on each family's rows.

    R=experiments/results/2026-12-07-finetune-eval
    python experiments/2026-12-07-finetune-eval-groups.py $R/runs.jsonl \
        $R/runs-{b,c,ecfp-clipped,curves-ft,rest}.jsonl
"""

from __future__ import annotations

import sys

from molmtd.downstream.finetune_benchmark import rank_summary, read_rows

BIOACTIVITY = {"bbbp", "clintox", "hiv", "atc-antineoplastic", "atc-nervous"}


def family(task: str) -> str:
    return "bioactivity/ADMET" if task in BIOACTIVITY else "physical/chemical"


def family_tables(rows: list[dict]) -> dict[tuple[str, str], object]:
    """``{(split, family): summary}``, each summary as ``rank_summary`` gives it."""
    tables = {}
    for name in ("physical/chemical", "bioactivity/ADMET"):
        part = [row for row in rows if family(row["task"]) == name]
        if part:
            for split, (summary, _) in rank_summary(part).items():
                tables[(split, name)] = summary
    return dict(sorted(tables.items()))


if __name__ == "__main__":
    rows = [row for path in sys.argv[1:] for row in read_rows(path)]
    for (split, name), summary in family_tables(rows).items():
        print(f"\n{split} split, {name} tasks\n")
        print(summary.to_markdown(floatfmt=("", ".3f", ".3f", ".0f")))
