"""End to end: a small recipe through corpus, teachers, graphs, training and artifact."""

import json

import numpy as np
import pandas as pd
import pytest

from molmtd.artifact import load_artifact
from molmtd.distill import RunDirectoryError, distill
from molmtd.recipe import load_recipe

MESSY = ["CCO", "", "not_a_smiles", "CC(=O)[O-].[Na+]", "OCC", "c1cccc1", "C" * 200]
MESSY_REASONS = {1: "empty", 2: "unparseable", 4: "duplicate of input 0", 5: "sanitiz"}


def _recipe(tmp_path, corpus_file, trainer=None, **training):
    return load_recipe(data={
        "trainer": trainer or {},
        "name": "tiny", "seed": 0,
        "corpus": {"source": str(corpus_file), "max_molecules": None, "n_jobs": 1},
        "teachers": ["maccs", "ecfp-count:radius=2,size=256"],
        "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1, "shard_size": 100},
        "student": {"num_layers": 2, "hidden_dim": 32},
        "objective": {"head_hidden_dim": 32, "mi_fit_molecules": 100},
        "training": {"batch_size": 32, "lr": 3e-3, "max_epochs": 4, "val_fraction": 0.2,
                     "checkpoint_every_n_steps": 5, "early_stopping_patience": None,
                     "log_every_n_steps": 1,
                     **training},
    })


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, moses_smiles):
    path = tmp_path_factory.mktemp("corpus") / "corpus.smi"
    path.write_text("\n".join(MESSY + moses_smiles[:250]) + "\n")
    return path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, corpus_file):
    tmp = tmp_path_factory.mktemp("run")
    recipe = _recipe(tmp, corpus_file)
    featurizer = distill(recipe, tmp / "out", progress=False)
    return recipe, tmp, featurizer


def test_messy_corpus_completes_and_reports_each_invalid_row(finished_run):
    recipe, tmp, featurizer = finished_run
    (report,) = (tmp / "cache" / "corpora").glob("*/invalid.csv")
    invalid = pd.read_csv(report, keep_default_na=False)
    got = dict(zip(invalid["position"], invalid["reason"], strict=True))
    assert set(got) == set(MESSY_REASONS)
    for pos, fragment in MESSY_REASONS.items():
        assert fragment in got[pos].lower()
    table = pd.read_parquet(next((tmp / "cache" / "corpora").glob("*/corpus.parquet")))
    keys = dict(zip(table["position"], table["key"], strict=True))
    assert keys[3] == "CC(=O)O"  # salt stripped
    assert keys[6] == "C" * 200  # the 200-atom molecule is kept and trained on
    assert (featurizer / "model.safetensors").is_file()


def test_every_teacher_validation_loss_falls(finished_run):
    _, tmp, _ = finished_run
    metrics = pd.read_csv(tmp / "out" / "logs" / "metrics.csv")
    val = metrics.dropna(subset=["val/loss"])
    for teacher in ("maccs", "ecfp-count"):
        series = val[f"val/loss/{teacher}"].to_numpy()
        assert series[-1] < series[0], (teacher, series)
    assert val["val/mi/maccs"].iloc[-1] > 0


def test_artifact_embeds_new_smiles_deterministically(finished_run):
    _, _, featurizer = finished_run
    art = load_artifact(featurizer)
    smiles = ["c1ccncc1", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", "bad((", "[Na+].[Cl-]"]
    a, b = art.embed(smiles), load_artifact(featurizer).embed(smiles)
    assert a.embeddings.shape == (4, 32) and a.embeddings.dtype == np.float32
    assert a.ok.tolist() == [True, True, False, True]
    assert np.isnan(a.embeddings[2]).all() and 2 in a.reasons
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    config = json.loads((featurizer / "config.json").read_text())
    assert config["teachers"] == ["maccs", "ecfp-count:radius=2,size=256"]
    card = (featurizer / "card.md").read_text()
    assert "maccs" in card and "MI estimate" in card
    assert "Trained at precision: 32-true\n" in card


def test_bf16_autocast_trains_and_the_card_records_the_precision(tmp_path, corpus_file):
    recipe = _recipe(tmp_path, corpus_file, trainer={"precision": "bf16-mixed"}, max_epochs=3)
    featurizer = distill(recipe, tmp_path / "out", progress=False)
    val = pd.read_csv(tmp_path / "out" / "logs" / "metrics.csv").dropna(subset=["val/loss"])
    assert val["val/loss"].iloc[-1] < val["val/loss"].iloc[0]
    assert "Trained at precision: bf16-mixed\n" in (featurizer / "card.md").read_text()
    # autocast leaves the weights in fp32: the artifact is the same kind as an fp32 run's
    assert load_artifact(featurizer).embed(["CCO"]).embeddings.dtype == np.float32


def test_a_freshly_distilled_featurizer_loads_without_a_warning(finished_run, caplog):
    _, _, featurizer = finished_run
    config = json.loads((featurizer / "config.json").read_text())
    assert "precision" in config  # the field the reader once called unknown
    with caplog.at_level("WARNING", logger="molmtd"):
        load_artifact(featurizer).embed(["CCO", "c1ccccc1O"])
    assert [r.getMessage() for r in caplog.records] == []


def test_existing_run_needs_resume(finished_run):
    recipe, tmp, _ = finished_run
    with pytest.raises(RunDirectoryError, match="--resume"):
        distill(recipe, tmp / "out", progress=False)


def test_resume_continues_step_counter_and_reuses_caches(tmp_path, corpus_file):
    first = _recipe(tmp_path, corpus_file, max_steps=12, max_epochs=10)
    distill(first, tmp_path / "out", progress=False)
    last = tmp_path / "out" / "checkpoints" / "last.ckpt"
    import torch

    step_before = torch.load(last, weights_only=False, map_location="cpu")["global_step"]
    assert step_before > 0

    # caches are reused: no shard or chunk file is written again
    cache_files = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.npy")}
    assert cache_files
    second = _recipe(tmp_path, corpus_file, max_steps=24, max_epochs=10)
    distill(second, tmp_path / "out", resume=True, progress=False)
    assert {p: p.stat().st_mtime_ns for p in cache_files} == cache_files
    step_after = torch.load(last, weights_only=False, map_location="cpu")["global_step"]
    assert step_after > step_before
    steps = pd.read_csv(tmp_path / "out" / "logs" / "metrics.csv")["step"].dropna()
    assert steps.max() >= 23


def test_use_molecules_trains_on_a_corpus_prefix_and_builds_only_its_shards(tmp_path,
                                                                          corpus_file):
    from molmtd.distill import prepare
    from molmtd.store import EmbeddingStore

    recipe = _recipe(tmp_path, corpus_file)
    recipe.corpus.use_molecules = 120
    dm = prepare(recipe)
    used = np.concatenate([dm.train_indices, dm.val_indices])
    assert used.max() < 120 and len(used) == 120  # every prefix molecule has a graph here
    assert len(dm.corpus) > 200
    for store in dm.stores.values():
        assert isinstance(store, EmbeddingStore)
        assert [s["index"] for s in store.manifest["shards"]] == [0, 1]  # shard_size 100
    # the full corpus later resumes the same stores
    whole = prepare(_recipe(tmp_path, corpus_file))
    assert {label: s.directory for label, s in whole.stores.items()} == \
        {label: s.directory for label, s in dm.stores.items()}
    assert all(s.is_complete for s in whole.stores.values())


def test_training_seed_reorders_batches_but_keeps_the_corpus_split_and_caches(tmp_path,
                                                                           corpus_file):
    from molmtd.distill import prepare

    base = _recipe(tmp_path, corpus_file)
    other = _recipe(tmp_path, corpus_file, seed=1)
    assert (base.training_seed, other.training_seed, other.seed) == (0, 1, 0)
    a, b = prepare(base), prepare(other)
    np.testing.assert_array_equal(a.train_indices, b.train_indices)
    np.testing.assert_array_equal(a.val_indices, b.val_indices)
    assert {k: s.directory for k, s in a.stores.items()} == \
        {k: s.directory for k, s in b.stores.items()}
    first_a = next(iter(a.train_dataloader().batch_sampler_state))
    first_b = next(iter(b.train_dataloader().batch_sampler_state))
    assert sorted(first_a) != sorted(first_b)  # another batch order
    # the recipe's own seed still draws another split
    moved = prepare(load_recipe(data={**base.model_dump(mode="json"), "seed": 1}))
    assert not np.array_equal(moved.val_indices, a.val_indices)


def test_compression_makes_the_embedding_a_pca_of_the_layer_readout(tmp_path, corpus_file):
    recipe = _recipe(tmp_path, corpus_file, max_epochs=1)
    recipe = load_recipe(data={**recipe.model_dump(mode="json"),
                               "student": {"num_layers": 2, "hidden_dim": 32, "jk": "cat",
                                           "projection": False},
                               "compression": {"dim": 6, "molecules": 150}})
    featurizer = distill(recipe, tmp_path / "out", progress=False)
    assert featurizer == tmp_path / "out" / "featurizer"
    config = json.loads((featurizer / "config.json").read_text())
    assert config["compression"]["dim"] == 6 and config["compression"]["n_molecules"] == 150
    assert config["validation"]  # the trained run's metadata travels with it
    trained = load_artifact(tmp_path / "out" / "featurizer-distilled")
    compressed = load_artifact(featurizer)
    assert trained.dim == 64 and compressed.dim == 6  # projection=false: 2 x 32 layers
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1"]
    layers = load_artifact(featurizer, readout="layers").embed(smiles).embeddings
    np.testing.assert_allclose(layers, trained.embed(smiles).embeddings, rtol=1e-5, atol=1e-5)
    emb = compressed.embed(smiles).embeddings
    assert emb.shape == (5, 6) and np.isfinite(emb).all()


def test_compression_needs_a_student_that_pools_every_layer(tmp_path, corpus_file):
    from molmtd.errors import RecipeError

    data = _recipe(tmp_path, corpus_file).model_dump(mode="json")
    with pytest.raises((RecipeError, ValueError), match="either student.jk: cat with student"):
        load_recipe(data={**data, "compression": {"dim": 8}})
    with pytest.raises((RecipeError, ValueError), match="wider than the layer readout"):
        load_recipe(data={**data, "student": {"num_layers": 2, "hidden_dim": 32, "jk": "cat"},
                          "compression": {"dim": 65}})
    # without a projection the pooled embedding itself is compressed, whatever the pooling:
    # mean+sum doubles its width (2 layers x 32 x 2 = 128)
    no_projection = {"num_layers": 2, "hidden_dim": 32, "jk": "cat", "pooling": "mean+sum",
                     "projection": False}
    assert load_recipe(data={**data, "student": no_projection,
                             "compression": {"dim": 128}}).compression.dim == 128
    with pytest.raises((RecipeError, ValueError), match=r"wider than the pooled embedding "
                                                        r"\(128-d\)"):
        load_recipe(data={**data, "student": no_projection, "compression": {"dim": 129}})


def test_a_corpus_extending_another_embeds_only_its_new_molecules(tmp_path, moses_smiles,
                                                                   monkeypatch):
    """2026-12-02-release-draws-pubchem's widened corpora start with the zinc corpus's rows: their
    teacher stores take the shards holding those rows from the first corpus's stores, in the same
    cache."""
    from molmtd.distill import prepare
    from molmtd.teachers.fingerprints import FingerprintTeacher

    first_file, second_file = tmp_path / "first.smi", tmp_path / "second.smi"
    first_file.write_text("\n".join(moses_smiles[:200]) + "\n")
    second_file.write_text("\n".join(moses_smiles[:300]) + "\n")
    first = prepare(_recipe(tmp_path, first_file))
    embedded = []
    original = FingerprintTeacher.embed
    monkeypatch.setattr(FingerprintTeacher, "embed",
                        lambda self, smiles, *a, **k: embedded.append(len(smiles))
                        or original(self, smiles, *a, **k))
    second = prepare(_recipe(tmp_path, second_file))
    assert second.corpus.keys[:200] == first.corpus.keys
    assert sum(embedded) == 2 * 100  # two teachers, the last shard of 100 each
    for label, store in second.stores.items():
        assert store.directory != first.stores[label].directory
        rows = np.arange(200)
        np.testing.assert_array_equal(store.rows(rows)[0], first.stores[label].rows(rows)[0])
        store.verify()
