"""Effective rank and the VICReg terms (molmtd.objectives.collapse), and their use in training."""

import pandas as pd
import pytest
import torch

from molmtd.objectives.collapse import effective_rank, variance_covariance_penalty


def test_effective_rank_of_a_line_is_one_and_of_isotropic_noise_is_near_its_width():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(500, 1, generator=g)
    line = t @ torch.randn(1, 20, generator=g)  # every row on one line
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-4)
    noise = torch.randn(5000, 10, generator=g)
    assert 9.5 < effective_rank(noise) <= 10.0


def test_effective_rank_ignores_scale_and_constant_columns():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2000, 4, generator=g)
    scaled = torch.cat([x * torch.tensor([1e-3, 1.0, 1e3, 5.0]), torch.full((2000, 3), 7.0)], 1)
    assert effective_rank(scaled) == pytest.approx(effective_rank(x), rel=1e-6)
    assert effective_rank(torch.zeros(10, 5)) == 0.0


def test_variance_term_is_zero_when_spread_and_positive_when_collapsed():
    g = torch.Generator().manual_seed(2)
    spread = 3 * torch.randn(4096, 8, generator=g)
    variance, _ = variance_covariance_penalty(spread)
    assert variance.item() == 0.0
    collapsed = torch.cat([spread[:, :1], 1e-3 * torch.randn(4096, 7, generator=g)], 1)
    variance, _ = variance_covariance_penalty(collapsed)
    assert variance.item() == pytest.approx(7 / 8, abs=0.01)


def test_covariance_term_penalises_correlated_dimensions_only():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(8192, 1, generator=g)
    independent = torch.randn(8192, 2, generator=g)
    correlated = torch.cat([z, z], 1)
    _, cov_ind = variance_covariance_penalty(independent)
    _, cov_cor = variance_covariance_penalty(correlated)
    assert cov_ind.item() < 0.01
    assert cov_cor.item() == pytest.approx(1.0, rel=0.1)  # 2 off-diagonal entries ~1, / width 2


def test_penalty_has_gradients_that_spread_a_collapsed_embedding():
    s = (1e-2 * torch.randn(256, 4)).requires_grad_()
    opt = torch.optim.SGD([s], lr=50.0)
    before = effective_rank(s)
    for _ in range(50):
        variance, covariance = variance_covariance_penalty(s)
        opt.zero_grad()
        (variance + covariance).backward()
        opt.step()
    assert variance_covariance_penalty(s)[0].item() < 0.05
    assert effective_rank(s) >= before - 0.5


def test_training_logs_effective_rank_and_penalties(tmp_path, moses_smiles):
    from molmtd.distill import distill
    from molmtd.recipe import load_recipe

    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:160]) + "\n")
    recipe = load_recipe(data={
        "name": "rank", "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "teachers": ["maccs"],
        "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1},
        "student": {"num_layers": 2, "hidden_dim": 16, "jk": "cat", "output_norm": "layer",
                    "virtual_node": True, "positional_encoding": 4},
        "objective": {"head_hidden_dim": 16, "mi_fit_molecules": 100,
                      "variance_weight": 1.0, "covariance_weight": 0.1},
        "training": {"batch_size": 32, "max_epochs": 2, "val_fraction": 0.25,
                     "early_stopping_patience": None, "log_every_n_steps": 1,
                     "rank_molecules": 30},
    })
    distill(recipe, tmp_path / "out", progress=False)
    metrics = pd.read_csv(tmp_path / "out" / "logs" / "metrics.csv")
    ranks = metrics["val/effective_rank"].dropna()
    assert len(ranks) == 3  # two epochs, then the final validation of the released weights
    assert ((ranks >= 1) & (ranks <= 30)).all()  # 30 molecules, 32 dims: at most 30
    assert metrics["train/penalty/variance"].notna().any()
    assert metrics["train/penalty/covariance"].notna().any()
