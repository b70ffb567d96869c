"""The resumable comparison behind ``molmtd evaluate --finetune``, and its tables.

Report tasks, random and/or scaffold 80/20 splits, one split per seed; every system of
:mod:`molmtd.downstream.finetune_systems` on every (task, split, seed) cell, optionally on
subsamples of the training side (learning curves). Each finished fit is one JSON line,
appended and flushed at once, whose ``key`` is ``[task, split, seed, system, n_train]``: a
rerun reads the file and skips what is there, so an interrupted run loses only the fit in
progress. The rows are those of ``experiments/2026-12-07-finetune-eval.py`` (same schema,
same key), so its files resume here and the other way round.

Tables (:func:`tables_markdown`): per split, each system's average rank (1 = best, ties
share the mean rank) and mean score over the (task, seed) cells that every system finished;
fine-tuned against random-init per task and split; learning curves.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from molmtd.downstream.evaluate import EvaluationError
from molmtd.downstream.finetune_systems import DEFAULT_FEATURIZER, SystemRunner, check_systems

__all__ = ["FEATURIZER_SYSTEMS", "read_rows", "run_benchmark", "run_finetune_benchmark",
           "tables_markdown"]

log = logging.getLogger(__name__)

# the systems whose rows depend on the pretrained featurizer
FEATURIZER_SYSTEMS = ("ft-base", "ft-base+ecfp", "ft-random", "base-mlp", "base-svr")
TEST_SIZE = 0.2


def read_rows(path: str | Path) -> list[dict]:
    """The rows of a JSON-lines results file (none if it does not exist).

    A last line cut short by a kill (no newline, not valid JSON) is ignored with a warning.

    Raises:
        ValueError: a line other than the last one is not valid JSON, or a row has no
            ``key``; the message names the file and line.
    """
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines) and not text.endswith("\n"):
                log.warning("%s: ignoring its last line, cut short (an interrupted write)",
                            path)
                continue
            raise ValueError(f"{path}, line {number}: not a JSON row ({err})") from err
        if "key" not in row:
            raise ValueError(f"{path}, line {number}: a row without 'key'")
        rows.append(row)
    return rows


def _drop_cut_line(path: Path) -> None:
    """Truncate a last line cut short by a kill, so the next row starts on its own line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1
    log.warning("%s: removing its last %d bytes, a line cut short", path, len(data) - keep)
    with open(path, "r+b") as fh:
        fh.truncate(keep)


def _append_row(path: Path, row: dict) -> None:
    """One row as one line, on disk before the next fit starts."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _featurizer_id(featurizer: str | Path) -> str:
    path = Path(featurizer)
    return str(path.resolve()) if path.exists() else str(featurizer)


def _check_featurizer(out: Path, rows: list[dict], featurizer: str) -> None:
    """Refuse to mix rows of two featurizers under one key in one file.

    Files without a note (``<stem>.featurizer.json``) hold molmtd-base's rows, as
    the experiment's files do; another featurizer writes the note.

    Raises:
        EvaluationError: ``out`` holds rows of another featurizer.
    """
    note = out.with_name(f"{out.stem}.featurizer.json")
    wanted = _featurizer_id(featurizer)
    if note.is_file():
        held = json.loads(note.read_text(encoding="utf-8"))["featurizer"]
    elif any(r.get("system") in FEATURIZER_SYSTEMS for r in rows):
        held = DEFAULT_FEATURIZER
    else:
        held = wanted
    if held != wanted:
        raise EvaluationError(
            f"{out} holds rows of featurizer {held!r}, not {wanted!r}: use another output")
    if wanted != DEFAULT_FEATURIZER and not note.is_file():
        from molmtd.safeio import atomic_write_text

        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(note, json.dumps({"featurizer": wanted}) + "\n")


def _check_args(tasks, splits, seeds, systems, sizes) -> list[str]:
    from molmtd.downstream.datasets import report_tasks
    from molmtd.downstream.splits import SPLITS

    systems = check_systems(systems)
    not_report = [t for t in tasks if t not in report_tasks()]
    if not_report or not tasks:
        raise EvaluationError(
            f"not report task(s): {', '.join(not_report) or '(none given)'}; report tasks: "
            f"{', '.join(report_tasks())}")
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise EvaluationError(f"unknown split(s) {', '.join(bad) or '(none given)'}; "
                              f"expected {', '.join(SPLITS)}")
    if not seeds:
        raise EvaluationError("give at least one seed")
    if any(s < 0 for s in sizes) or not sizes:
        raise EvaluationError(f"training sizes must be >= 0 (0: the whole training side), "
                              f"got {list(sizes)}")
    return systems


def drop_invalid_molecules(task: str, smiles: list[str], y: np.ndarray):
    """Leave out the molecules that molmtd cannot read, with a warning naming each one.

    A scaffold split needs every molecule parsed, and the systems would each drop them
    differently. The others keep their raw SMILES (not standardised keys), so rows of a
    task whose molecules all parse are the same as before this filter.

    Returns:
        The kept SMILES and their labels, in their original order.
    """
    from molmtd.molecules import standardize_many

    _, reasons = standardize_many(smiles)
    if not reasons:
        return smiles, y
    shown = "; ".join(f"position {i} ({smiles[i]!r}): {r}" for i, r in sorted(reasons.items())[:5])
    log.warning("%s: %d of %d molecules left out, unreadable: %s%s", task, len(reasons),
                len(smiles), shown, " ..." if len(reasons) > 5 else "")
    keep = [i for i in range(len(smiles)) if i not in reasons]
    return [smiles[i] for i in keep], y[keep]


def run_benchmark(out: str | Path, tasks: Sequence[str], splits: Sequence[str],
                  seeds: Sequence[int], systems: Sequence[str], sizes: Sequence[int] = (0,),
                  max_molecules: int | None = None, runner: SystemRunner | None = None,
                  on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Fit and score every system on every cell not yet in ``out``; append the rows.

    Args:
        out: the JSON-lines file (created, or appended to: rows already there are skipped).
        tasks: report tasks (:func:`~molmtd.downstream.datasets.report_tasks`).
        splits: "random" (stratified for classification) and/or "scaffold".
        seeds: one 80/20 split, one training subsample and one system seed per value.
        systems: names from :data:`~molmtd.downstream.finetune_systems.SYSTEMS`.
        sizes: training molecules per fit; 0 (or a size >= the training side): all of it;
            smaller: a seeded subsample of the training side (a learning curve).
        max_molecules: cap per task (a seeded subsample).
        runner: the systems' settings (featurizer, cache, fine-tuning parameters).
        on_row: called with each new row once it is written.

    Returns:
        the rows written by this call.

    Raises:
        UnknownSystemError: an unknown system.
        EvaluationError: a task that is not a report task, an unknown split, no seed, a
            negative size, or ``out`` holding rows of another featurizer.
        ValueError: ``out`` is not a results file (a line is not JSON).
    """
    from molmtd.downstream.datasets import load_dataset
    from molmtd.downstream.metrics import PRIMARY_METRIC, score_predictions
    from molmtd.downstream.splits import make_split

    out = Path(out)
    runner = runner or SystemRunner()
    systems = _check_args(list(tasks), list(splits), list(seeds), systems, list(sizes))
    old = read_rows(out)
    _check_featurizer(out, old, str(runner.featurizer))
    done = {tuple(row["key"]) for row in old}
    if done:
        log.info("%s: %d rows already there are skipped", out, len(done))
    out.parent.mkdir(parents=True, exist_ok=True)
    _drop_cut_line(out)
    written: list[dict] = []
    for task in tasks:
        smiles, y, kind = load_dataset(task, max_molecules=max_molecules)
        smiles, y = drop_invalid_molecules(task, smiles, y)
        for split in splits:
            for seed in seeds:
                seed = int(seed)
                train, test = make_split(split, smiles, TEST_SIZE, seed,
                                         stratify=y if kind == "classification"
                                         and split == "random" else None)
                test_s = [smiles[i] for i in test]
                for size in sizes:
                    rows = train
                    if size and size < len(train):
                        rows = np.sort(np.random.default_rng(seed).choice(train, size,
                                                                          replace=False))
                    train_s = [smiles[i] for i in rows]
                    for system in systems:
                        key = (task, split, seed, system, len(rows))
                        if key in done:
                            continue
                        t0 = time.perf_counter()
                        pred, best = runner.predict(system, kind, seed, train_s, y[rows],
                                                    test_s)
                        ok = np.isfinite(pred)
                        scores = score_predictions(kind, y[test][ok], pred[ok])
                        row = {"key": list(key), "task": task, "split": split, "seed": seed,
                               "system": system, "n_train": len(rows), "kind": kind,
                               "metric": PRIMARY_METRIC[kind],
                               "score": scores[PRIMARY_METRIC[kind]], "scores": scores,
                               "n_test_scored": int(ok.sum()), "n_test": len(test),
                               "seconds": time.perf_counter() - t0, "best_epoch": best}
                        _append_row(out, row)
                        done.add(key)
                        written.append(row)
                        log.info("%s %s seed %d %s, %d training molecules: %s %.3f (%.0f s)",
                                 task, split, seed, system, len(rows), row["metric"],
                                 row["score"], row["seconds"])
                        if on_row is not None:
                            on_row(row)
    return written


def _frame(rows: Iterable[dict]):
    import pandas as pd

    df = pd.DataFrame(list(rows))
    return df.drop_duplicates(subset=["task", "split", "seed", "system", "n_train"])


def rank_summary(rows: Iterable[dict]) -> dict[str, tuple]:
    """Per split: ``(summary, wide)`` over the whole-training-side rows.

    ``wide`` holds the scores, one row per (task, seed) cell that every system finished,
    one column per system; ``summary`` each system's average rank (1 = best; ties share
    their mean rank), mean score and number of cells, sorted by average rank.
    """
    import pandas as pd

    df = _frame(rows)
    full = df.groupby(["task", "split", "seed"])["n_train"].transform("max")
    out = {}
    for split, part in df[df["n_train"] == full].groupby("split"):
        wide = part.pivot_table(index=["task", "seed"], columns="system",
                                values="score").dropna()
        ranks = wide.rank(axis=1, ascending=False)
        summary = pd.DataFrame({"average rank": ranks.mean(), "mean score": wide.mean(),
                                "cells": len(wide)}).sort_values("average rank")
        out[split] = (summary, wide)
    return out


def pretrained_vs_random(rows: Iterable[dict]):
    """ft-base against ft-random: mean score over seeds per (split, task), and who wins.

    Returns:
        a DataFrame with columns ``ft-base``, ``ft-random`` and ``pretraining wins``, or
        None when either system has no row.
    """
    df = _frame(rows)
    full = df.groupby(["task", "split", "seed"])["n_train"].transform("max")
    both = df[(df["n_train"] == full) & df["system"].isin(["ft-base", "ft-random"])]
    if both["system"].nunique() < 2:
        return None
    per_task = both.pivot_table(index=["split", "task"], columns="system", values="score")
    per_task["pretraining wins"] = per_task["ft-base"] > per_task["ft-random"]
    return per_task


def learning_curves(rows: Iterable[dict]):
    """Score by training size (columns: the sizes, then "all") per (task, split, system).

    Only (task, split, seed) cells that have a subsampled row; scores are averaged over
    seeds. None when no row is subsampled.
    """
    df = _frame(rows)
    full = df.groupby(["task", "split", "seed"])["n_train"].transform("max")
    sizes = df[df["n_train"] < full]
    if not len(sizes):
        return None
    cells = set(zip(sizes["task"], sizes["split"], sizes["seed"], strict=True))
    mask = np.array([c in cells for c in zip(df["task"], df["split"], df["seed"],
                                             strict=True)])
    part = df[mask].copy()
    part["size"] = np.where(part["n_train"] == full[mask], "all", part["n_train"].astype(str))
    wide = part.pivot_table(index=["task", "split", "system"], columns="size", values="score")
    order = sorted((c for c in wide.columns if c != "all"), key=int) + ["all"]
    return wide[[c for c in order if c in wide.columns]]


def tables_markdown(rows: Iterable[dict]) -> str:
    """Every table of the rows, as Markdown (what the experiment's ``--table`` printed)."""
    rows = list(rows)
    if not rows:
        return "no rows yet\n"
    lines: list[str] = []
    for split, (summary, wide) in rank_summary(rows).items():
        tasks = ", ".join(sorted({t for t, _ in wide.index}))
        lines += [f"\n### {split} split ({len(wide)} task-seed cells: {tasks})\n",
                  summary.round(3).to_markdown(), "", wide.round(3).to_markdown()]
    per_task = pretrained_vs_random(rows)
    if per_task is not None:
        lines += ["\n### ft-base against ft-random (mean over seeds, per task and split)\n",
                  per_task.round(3).to_markdown(),
                  f"\npretrained better on {int(per_task['pretraining wins'].sum())} of "
                  f"{len(per_task)} task-split pairs"]
    curves = learning_curves(rows)
    if curves is not None:
        lines += ["\n### learning curves (score by training molecules; all = the whole "
                  "training side)\n", curves.round(3).to_markdown()]
    return "".join(line + "\n" for line in lines)


def run_finetune_benchmark(out_dir: str | Path, *, tasks: Sequence[str],
                           splits: Sequence[str] = ("scaffold", "random"),
                           seeds: Sequence[int] = (0, 1, 2),
                           systems: Sequence[str] | None = None,
                           learning_curve: Sequence[int] = (),
                           max_molecules: int | None = None,
                           runner: SystemRunner | None = None,
                           command: str | None = None) -> tuple[Path, Path]:
    """``molmtd evaluate --finetune``: ``out_dir/runs.jsonl`` (resumable) and ``tables.md``.

    Args:
        out_dir: the output folder; a rerun continues its ``runs.jsonl``.
        tasks: report tasks.
        splits: "scaffold" and/or "random".
        seeds: one split, subsample and system seed per value.
        systems: default every system.
        learning_curve: training sizes run besides the whole training side.
        max_molecules: cap per task (a seeded subsample).
        runner: the systems' settings (featurizer, cache, fine-tuning parameters).
        command: the command line, written at the top of ``tables.md``.

    Returns:
        ``(runs.jsonl, tables.md)``.

    Raises:
        as :func:`run_benchmark`.
    """
    from molmtd.downstream.finetune_systems import SYSTEMS
    from molmtd.safeio import atomic_write_text

    out_dir = Path(out_dir)
    runs = out_dir / "runs.jsonl"
    sizes = [0, *(int(s) for s in learning_curve if int(s) != 0)]
    run_benchmark(runs, tasks, splits, seeds, systems or SYSTEMS, sizes, max_molecules,
                  runner)
    head = "# molmtd evaluate --finetune\n\n"
    if command:
        head += f"    {command}\n\n"
    head += ("Rank 1 = best, per (task, seed) cell, over the cells that every system "
             "finished (ties share the mean rank); score: R2 (regression) or ROC-AUC "
             "(classification) on the held-out 20%.\n")
    tables = out_dir / "tables.md"
    atomic_write_text(tables, head + tables_markdown(read_rows(runs)))
    return runs, tables
