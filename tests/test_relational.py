"""The relational distillation term: what it measures, what it ignores, and that it trains."""

from __future__ import annotations

import csv

import pytest
import torch

from molmtd.distill import distill
from molmtd.objectives.relational import relational_loss
from molmtd.recipe import load_recipe


def _zscored(x):
    return (x - x.mean(0)) / x.std(0, unbiased=False)


@pytest.mark.parametrize("form", ["distance", "similarity"])
def test_a_student_with_the_teachers_geometry_scores_zero(form):
    g = torch.Generator().manual_seed(0)
    t = _zscored(torch.randn(32, 8, generator=g))
    ok = torch.ones(32, dtype=torch.bool)
    # the student's columns are z-scored over the batch, so scale and shift do not count
    assert float(relational_loss(t * 7.0 + 3.0, t, ok, form)) == pytest.approx(0.0, abs=1e-5)
    other = torch.randn(32, 8, generator=g)
    assert float(relational_loss(other, t, ok, form)) > 1e-3


@pytest.mark.parametrize("form", ["distance", "similarity"])
def test_rows_the_teacher_could_not_embed_are_left_out(form):
    g = torch.Generator().manual_seed(1)
    s, t = torch.randn(20, 6, generator=g), torch.randn(20, 4, generator=g)
    ok = torch.ones(20, dtype=torch.bool)
    ok[[3, 11]] = False
    poisoned = t.clone()
    poisoned[[3, 11]] = float("nan")
    masked = relational_loss(s, poisoned, ok, form)
    assert torch.isfinite(masked)
    assert float(masked) == pytest.approx(float(relational_loss(s[ok], t[ok], ok[ok], form)),
                                          rel=1e-6)


def test_too_few_valid_rows_give_zero_in_the_graph_and_bad_form_is_named():
    s = torch.randn(4, 3, requires_grad=True)
    ok = torch.tensor([True, False, False, True])
    loss = relational_loss(s, torch.randn(4, 2), ok)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert torch.equal(s.grad, torch.zeros_like(s))
    with pytest.raises(ValueError, match=r"relational form must be one of .*'angle'"):
        relational_loss(s, torch.randn(4, 2), torch.ones(4, dtype=torch.bool), form="angle")


@pytest.mark.parametrize("form", ["distance", "similarity"])
def test_gradient_steps_move_the_student_towards_the_teachers_geometry(form):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(48, 16, generator=g)
    t = _zscored(x @ torch.randn(16, 5, generator=g))  # attainable by a linear student
    ok = torch.ones(48, dtype=torch.bool)
    layer = torch.nn.Linear(16, 12)
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    first = float(relational_loss(layer(x), t, ok, form).detach())
    for _ in range(150):
        opt.zero_grad()
        loss = relational_loss(layer(x), t, ok, form)
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_recipe_relational_teachers_must_be_teacher_labels():
    r = load_recipe(data={"teachers": ["maccs", "ecfp:radius=2"],
                          "objective": {"relational_weight": 0.5,
                                        "relational_teachers": ["ecfp"]}})
    assert r.objective.relational_teachers == ["ecfp"] and r.objective.relational_form == "distance"
    with pytest.raises(ValueError, match=r"relational_teachers names \['minimol'\]"):
        load_recipe(data={"teachers": ["maccs"],
                          "objective": {"relational_teachers": ["minimol"]}})


@pytest.mark.parametrize("weight", [1.0, 0.0])
def test_distill_with_a_relational_term_logs_it_per_teacher(tmp_path, moses_smiles, weight):
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:80]) + "\n")
    recipe = load_recipe(data={
        "name": "rel", "seed": 0,
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "teachers": ["maccs", "ecfp-count:radius=2,size=128"],
        "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1, "shard_size": 100},
        "student": {"num_layers": 1, "hidden_dim": 16},
        "objective": {"head_hidden_dim": 16, "mi_fit_molecules": 100, "relational_weight": weight,
                      "relational_teachers": ["maccs"]},
        "training": {"batch_size": 16, "max_epochs": 1, "val_fraction": 0.2,
                     "early_stopping_patience": None, "log_every_n_steps": 1},
    })
    out = tmp_path / "run"
    assert (distill(recipe, out, progress=False) / "config.json").is_file()
    with open(out / "logs" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0])
    assert "val/relational/maccs" in columns  # measured at weight 0 too: the baseline
    assert "val/relational/ecfp-count" not in columns
    trained = {"train/relational/maccs", "train/penalty/relational"}
    if weight == 0:
        assert not trained & columns
        return
    assert trained <= columns and "train/relational/ecfp-count" not in columns
    values = [float(r["train/relational/maccs"]) for r in rows if r["train/relational/maccs"]]
    assert values and all(v >= 0 for v in values)
