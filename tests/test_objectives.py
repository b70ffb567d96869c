"""molmtd.objectives: standardisation, mixture density, heads, losses, registry, MI estimate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import distributions as D

from molmtd.errors import ShapeError
from molmtd.objectives import (
    OBJECTIVES,
    CosineObjective,
    GaussianMixtureHead,
    GaussianObjective,
    L2Objective,
    MarginalDensity,
    RegressionHead,
    TeacherStandardizer,
    build_objective,
    diagonal_mixture_log_prob,
    list_objectives,
    mutual_information_estimate,
    objective_options,
)

torch.set_num_threads(1)


# -- helpers ---------------------------------------------------------------------------
def normal_pdf(x: float, mu: float, sigma: float) -> float:
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def hand_mixture_log_prob(weights, means, sigmas, t) -> float:
    """log sum_m w_m prod_j N(t_j; mu_mj, sigma_mj), by plain products (no logsumexp)."""
    total = 0.0
    for w, mu, sig in zip(weights, means, sigmas, strict=True):
        p = w
        for tj, mj, sj in zip(t, mu, sig, strict=True):
            p *= normal_pdf(tj, mj, sj)
        total += p
    return math.log(total)


def pin_output(head, bias) -> None:
    """Make a head's MLP output the constant ``bias`` for every input."""
    last = head.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=float), dtype=last.bias.dtype))


def mixture_bias(logits, means, log_scales) -> list[float]:
    """The head's output layout: M logits, M*d means, M*d log-scales (mode-major)."""
    return list(logits) + list(np.ravel(means)) + list(np.ravel(log_scales))


# -- the mixture log-density ------------------------------------------------------------
def test_mixture_log_prob_matches_hand_computation_one_mode():
    t = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)
    mu = [[0.1, -1.0]]
    logits = torch.zeros(2, 1, dtype=torch.float64)
    means = torch.tensor(mu, dtype=torch.float64).expand(2, 1, 2)
    ls = torch.tensor([[math.log(0.5), math.log(2.0)]], dtype=torch.float64).expand(2, 1, 2)
    got = diagonal_mixture_log_prob(logits, means, ls, t)
    expected = [hand_mixture_log_prob([1.0], mu, [[0.5, 2.0]], row) for row in t.tolist()]
    assert got.shape == (2,)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_mixture_log_prob_matches_hand_computation_two_modes():
    t = torch.tensor([[0.3, -1.2, 0.0]], dtype=torch.float64)
    logits = torch.tensor([[0.7, -0.4]], dtype=torch.float64)
    mu = [[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]]
    sig = [[1.0, 0.5, 2.0], [0.3, 1.5, 1.0]]
    mu_t, sig_t = torch.tensor([mu], dtype=torch.float64), torch.tensor([sig], dtype=torch.float64)
    got = diagonal_mixture_log_prob(logits, mu_t, sig_t.log(), t)
    w = np.exp([0.7, -0.4]) / np.exp([0.7, -0.4]).sum()
    assert got.item() == pytest.approx(hand_mixture_log_prob(w, mu, sig, t[0].tolist()),
                                       rel=1e-12)
    ref = D.MixtureSameFamily(D.Categorical(logits=logits),
                              D.Independent(D.Normal(mu_t, sig_t), 1))
    assert got.item() == pytest.approx(ref.log_prob(t).item(), rel=1e-12)


def test_mixture_log_prob_shared_parameters_broadcast_over_rows():
    g = torch.Generator().manual_seed(0)
    t = torch.randn(6, 3, generator=g)
    logits, means = torch.randn(2, generator=g), torch.randn(2, 3, generator=g)
    ls = 0.3 * torch.randn(2, 3, generator=g)
    shared = diagonal_mixture_log_prob(logits, means, ls, t)
    per_row = diagonal_mixture_log_prob(logits.expand(6, 2), means.expand(6, 2, 3),
                                        ls.expand(6, 2, 3), t)
    torch.testing.assert_close(shared, per_row)


def test_log_prob_is_highest_when_mean_equals_target():
    g = torch.Generator().manual_seed(1)
    t = torch.randn(8, 4, generator=g)
    logits = torch.zeros(8, 1)
    ls = torch.full((8, 1, 4), -0.5)
    exact = diagonal_mixture_log_prob(logits, t.unsqueeze(1), ls, t)
    for delta in (1e-2, -0.1, 0.5, -2.0):
        shifted = diagonal_mixture_log_prob(logits, (t + delta).unsqueeze(1), ls, t)
        assert (exact > shifted).all(), delta
    # the gap is the Gaussian's quadratic term: d * delta^2 / (2 sigma^2), sigma = e^-0.5
    shifted = diagonal_mixture_log_prob(logits, (t + 0.5).unsqueeze(1), ls, t)
    torch.testing.assert_close(exact - shifted, torch.full((8,), 4 * 0.25 / 2 / math.exp(-1.0)))


# -- the conditional head ---------------------------------------------------------------
def test_head_shapes_and_clamped_log_scales():
    head = GaussianMixtureHead(5, 3, n_modes=2, hidden_dim=8, num_layers=2)
    pin_output(head, mixture_bias([0.0, 1.0], np.zeros((2, 3)), [[-20.0] * 3, [9.0] * 3]))
    logits, means, log_scales = head(torch.randn(4, 5))
    assert logits.shape == (4, 2) and means.shape == (4, 2, 3) and log_scales.shape == (4, 2, 3)
    assert (log_scales[:, 0] == -7.0).all() and (log_scales[:, 1] == 5.0).all()
    assert head.log_prob(torch.randn(4, 5), torch.randn(4, 3)).shape == (4,)


def test_head_log_prob_matches_hand_computation():
    head = GaussianMixtureHead(4, 2, n_modes=2, hidden_dim=8).double()
    mu = [[0.5, -0.5], [-1.0, 2.0]]
    sig = [[0.8, 1.2], [2.0, 0.4]]
    pin_output(head, mixture_bias([0.2, -0.3], mu, np.log(sig)))
    t = torch.tensor([[0.1, 0.2], [-1.5, 1.8]], dtype=torch.float64)
    got = head.log_prob(torch.randn(2, 4, dtype=torch.float64), t)
    w = np.exp([0.2, -0.3]) / np.exp([0.2, -0.3]).sum()
    expected = [hand_mixture_log_prob(w, mu, sig, row) for row in t.tolist()]
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10)


def test_head_rejects_bad_sizes():
    with pytest.raises(ValueError, match="'n_modes'"):
        GaussianMixtureHead(4, 2, n_modes=0)
    with pytest.raises(ValueError, match="'hidden_dim'"):
        RegressionHead(4, 2, hidden_dim=0)
    with pytest.raises(ValueError, match="min_log_scale < max_log_scale"):
        GaussianMixtureHead(4, 2, min_log_scale=1.0, max_log_scale=0.0)


# -- the gaussian objective -------------------------------------------------------------
@pytest.mark.parametrize("n_modes", [1, 2])
def test_gaussian_loss_equals_hand_nll_per_dimension(n_modes):
    obj = GaussianObjective(4, {"a": 2, "b": 3}, n_modes=n_modes, hidden_dim=8,
                            loss_scale=3.0).double()
    rng = np.random.default_rng(n_modes)
    params = {}
    for label, d in (("a", 2), ("b", 3)):
        logits = rng.normal(size=n_modes)
        mu = rng.normal(size=(n_modes, d))
        sig = np.exp(rng.normal(scale=0.3, size=(n_modes, d)))
        pin_output(obj.heads[label], mixture_bias(logits, mu, np.log(sig)))
        params[label] = (np.exp(logits) / np.exp(logits).sum(), mu, sig)
    ta = torch.tensor(rng.normal(size=(3, 2)))
    tb = torch.tensor(rng.normal(size=(3, 3)))
    ok = torch.ones(3, dtype=torch.bool)
    total, per = obj(torch.randn(3, 4, dtype=torch.float64), {"a": (ta, ok), "b": (tb, ok)})
    expected = {label: -np.mean([hand_mixture_log_prob(*params[label], row)
                                 for row in t.tolist()]) / t.shape[1]
                for label, t in (("a", ta), ("b", tb))}
    assert per["a"].item() == pytest.approx(expected["a"], rel=1e-10)
    assert per["b"].item() == pytest.approx(expected["b"], rel=1e-10)
    assert total.item() == pytest.approx(3.0 * (expected["a"] + expected["b"]), rel=1e-10)


def test_gaussian_loss_is_lowest_with_the_exact_mean():
    obj = GaussianObjective(4, {"a": 3}, hidden_dim=8)
    target = torch.tensor([[0.4, -1.0, 2.0]]).expand(5, 3)
    ok = torch.ones(5, dtype=torch.bool)
    s = torch.randn(5, 4)

    def loss_with_mean(mean):
        pin_output(obj.heads["a"], mixture_bias([0.0], mean, [[-1.0, -1.0, -1.0]]))
        return obj(s, {"a": (target, ok)})[0].item()

    exact = loss_with_mean(target[0].tolist())
    for shift in (0.05, -0.3, 1.0):
        assert loss_with_mean((target[0] + shift).tolist()) > exact + 1e-4


def test_constant_teacher_dimensions_give_finite_loss_and_gradients():
    g = torch.Generator().manual_seed(2)
    raw = torch.randn(64, 4, generator=g)
    raw[:, 1] = 7.0  # a constant dimension (a fingerprint bit that is always on)
    raw[:, 3] = 0.0  # and one that never fires
    assert TeacherStandardizer.from_data(raw).out_dim == 2  # default: dropped
    t = TeacherStandardizer.from_data(raw, drop_constant=False)(raw)  # or kept as zeros
    assert torch.isfinite(t).all() and (t[:, [1, 3]] == 0).all()
    s = torch.randn(64, 8, generator=g)
    obj = GaussianObjective(8, {"fp": 4}, hidden_dim=16)
    opt = torch.optim.Adam(obj.parameters(), lr=0.05)
    ok = torch.ones(64, dtype=torch.bool)
    for _ in range(60):  # long enough for the constant dims' scales to reach the clamp
        opt.zero_grad()
        loss = obj(s, {"fp": (t, ok)})[0]
        loss.backward()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p.grad).all() for p in obj.parameters())
        opt.step()
    # the clamp bounds the reward: NLL per dim >= min_log_scale + log(2 pi) / 2
    assert loss.item() >= -7.0 + 0.5 * math.log(2 * math.pi)


@pytest.mark.parametrize("name", ["gaussian", "l2", "cosine"])
def test_masked_rows_change_neither_loss_nor_gradients(name):
    g = torch.Generator().manual_seed(3)
    ta, tb = torch.randn(6, 3, generator=g), torch.randn(6, 2, generator=g)
    ok = torch.tensor([True, False, True, True, False, True])
    all_ok = torch.ones(6, dtype=torch.bool)
    s0 = torch.randn(6, 5, generator=g)
    torch.manual_seed(0)
    obj = build_objective(name, 5, {"a": 3, "b": 2}, hidden_dim=8)

    def run(t_a, s_in, ok_a, t_b, ok_b):
        obj.zero_grad()
        s = s_in.clone().requires_grad_(True)
        total, per = obj(s, {"a": (t_a, ok_a), "b": (t_b, ok_b)})
        total.backward()
        return total.detach(), s.grad, [p.grad.clone() for p in obj.parameters()]

    clean = ta.clone()
    clean[~ok] = 0.0
    reference = run(clean, s0, ok, tb, all_ok)
    for garbage in (float("nan"), 1e30, float("-inf")):
        dirty = ta.clone()
        dirty[~ok] = garbage
        loss, s_grad, p_grads = run(dirty, s0, ok, tb, all_ok)
        assert torch.equal(loss, reference[0]), garbage
        assert torch.equal(s_grad, reference[1])
        assert all(torch.equal(a, b) for a, b in zip(p_grads, reference[2], strict=True))
        assert torch.isfinite(s_grad).all()
        assert (s_grad[~ok] != 0).all()  # masked rows still learn from teacher b
    # teacher a alone: masked rows get no gradient, and the loss equals the valid rows' loss
    only_a = build_objective(name, 5, {"a": 3}, hidden_dim=8)
    s = s0.clone().requires_grad_(True)
    dirty = ta.clone()
    dirty[~ok] = float("nan")
    total, _ = only_a(s, {"a": (dirty, ok)})
    total.backward()
    assert (s.grad[~ok] == 0).all() and torch.isfinite(s.grad).all()
    subset, _ = only_a(s0[ok], {"a": (ta[ok], torch.ones(int(ok.sum()), dtype=torch.bool))})
    torch.testing.assert_close(subset, total.detach())


@pytest.mark.parametrize("name", ["gaussian", "l2", "cosine"])
def test_all_masked_teacher_contributes_exactly_zero(name):
    obj = build_objective(name, 5, {"a": 3, "b": 2}, hidden_dim=8, loss_scale=2.0)
    s = torch.randn(4, 5, requires_grad=True)
    ta, tb = torch.randn(4, 3), torch.full((4, 2), float("nan"))
    total, per = obj(s, {"a": (ta, torch.ones(4, dtype=torch.bool)),
                         "b": (tb, torch.zeros(4, dtype=torch.bool))})
    assert per["b"].item() == 0.0 and per["b"].requires_grad
    assert total.item() == pytest.approx(2.0 * per["a"].item())
    total.backward()
    grads_b = [p.grad for p in obj.heads["b"].parameters()]
    assert all(g is not None and (g == 0).all() for g in grads_b)  # in the graph, zero grads
    assert torch.isfinite(s.grad).all()


# -- l2 and cosine ---------------------------------------------------------------------
def test_l2_and_cosine_match_hand_computation():
    pred = np.array([1.0, -2.0, 0.5])
    t = np.array([[0.0, -1.0, 1.0], [2.0, 2.0, -1.0]])
    ok = torch.ones(2, dtype=torch.bool)
    s = torch.randn(2, 4, dtype=torch.float64)
    l2 = L2Objective(4, {"a": 3}, hidden_dim=8, loss_scale=0.5).double()
    cos = CosineObjective(4, {"a": 3}, hidden_dim=8).double()
    for obj in (l2, cos):
        pin_output(obj.heads["a"], pred)
    total, per = l2(s, {"a": (torch.tensor(t), ok)})
    mse = np.mean([(pred - row) ** 2 for row in t])
    assert per["a"].item() == pytest.approx(mse, rel=1e-12)
    assert total.item() == pytest.approx(0.5 * mse, rel=1e-12)
    _, per = cos(s, {"a": (torch.tensor(t), ok)})
    cosines = [pred @ row / (np.linalg.norm(pred) * np.linalg.norm(row)) for row in t]
    assert per["a"].item() == pytest.approx(1 - np.mean(cosines), rel=1e-12)


def test_l2_and_cosine_with_an_identity_head():
    s = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    t = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    expected = {"l2": ((1 + 1) + (1 + 1)) / 4, "cosine": ((1 - 0.0) + (1 - 1.0)) / 2}
    for name, value in expected.items():
        obj = build_objective(name, 2, {"t": 2}, num_layers=1)
        with torch.no_grad():
            obj.heads["t"].net[0].weight.copy_(torch.eye(2))
            obj.heads["t"].net[0].bias.zero_()
        _, per = obj(s, {"t": (t, torch.ones(2, dtype=torch.bool))})
        assert per["t"].item() == pytest.approx(value)


@pytest.mark.parametrize("name", ["gaussian", "l2", "cosine"])
def test_teacher_weights_scale_each_teacher_in_the_total_only(name):
    torch.manual_seed(0)
    dims = {"a": 3, "b": 2}
    plain = build_objective(name, 4, dims, hidden_dim=8)
    weighted = build_objective(name, 4, dims, hidden_dim=8, teacher_weights={"b": 3.0})
    weighted.load_state_dict(plain.state_dict())  # same heads: only the weighting differs
    ok = torch.ones(5, dtype=torch.bool)
    batch = {label: (torch.randn(5, d), ok) for label, d in dims.items()}
    s = torch.randn(5, 4)
    total, per = plain(s, batch)
    total_w, per_w = weighted(s, batch)
    # the per-teacher losses (logged, compared across runs) stay unweighted
    assert all(torch.equal(per[k], per_w[k]) for k in dims)
    assert total.item() == pytest.approx((per["a"] + per["b"]).item(), rel=1e-6)
    assert total_w.item() == pytest.approx((per["a"] + 3.0 * per["b"]).item(), rel=1e-6)
    assert weighted.teacher_weights == {"a": 1.0, "b": 3.0}
    assert "teacher_weights={'b': 3.0}" in repr(weighted)


def test_teacher_weights_errors_name_the_labels_and_values():
    with pytest.raises(ValueError, match=r"names \['c'\], which are not among the teachers "
                                         r"\['a', 'b'\]"):
        build_objective("gaussian", 4, {"a": 3, "b": 2}, teacher_weights={"c": 2.0})
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="teacher_weights must be finite floats > 0"):
            build_objective("l2", 4, {"a": 3}, teacher_weights={"a": bad})


# -- batch validation ---------------------------------------------------------------------
def test_objective_rejects_wrong_teachers_and_shapes():
    obj = build_objective("gaussian", 5, {"a": 3}, hidden_dim=8)
    ok = torch.ones(2, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"heads for teachers \['a'\].*\['b'\]"):
        obj(torch.randn(2, 5), {"b": (torch.randn(2, 3), ok)})
    with pytest.raises(ShapeError, match=r"teacher 'a'.*expected shape \[2, 3\]"):
        obj(torch.randn(2, 5), {"a": (torch.randn(2, 4), ok)})
    with pytest.raises(ShapeError, match=r"student embedding.*\[B, 5\]"):
        obj(torch.randn(2, 6), {"a": (torch.randn(2, 3), ok)})
    with pytest.raises(ValueError, match="'loss_scale'"):
        build_objective("l2", 5, {"a": 3}, loss_scale=0.0)
    with pytest.raises(ValueError, match="without '.'"):
        build_objective("l2", 5, {"a.b": 3})


# -- registry ------------------------------------------------------------------------
def test_registry_lists_and_builds_every_objective():
    assert list_objectives() == ["cosine", "gaussian", "l2"] == sorted(OBJECTIVES)
    expected_heads = {"gaussian": GaussianMixtureHead, "l2": RegressionHead,
                      "cosine": RegressionHead}
    for name in list_objectives():
        obj = build_objective(name, 6, {"x": 4, "y": 2}, hidden_dim=8, num_layers=3, n_modes=2)
        assert isinstance(obj, OBJECTIVES[name])
        assert set(obj.heads) == {"x", "y"} and obj.heads["x"].out_dim == 4
        assert all(isinstance(h, expected_heads[name]) for h in obj.heads.values())
        assert sum(isinstance(m, torch.nn.Linear) for m in obj.heads["x"].modules()) == 3
    assert build_objective("gaussian", 6, {"x": 4}, n_modes=3).heads["x"].n_modes == 3


def test_registry_errors_name_the_choices():
    with pytest.raises(ValueError, match=r"must be one of \['cosine', 'gaussian', 'l2'\]"
                                         r"\. Got 'mse' instead"):
        build_objective("mse", 4, {"a": 2})
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['hidden'\].*hidden_dim"):
        build_objective("gaussian", 4, {"a": 2}, hidden=3)
    assert "min_log_scale" in objective_options("gaussian")
    assert "min_log_scale" not in objective_options("cosine")


# -- standardiser ----------------------------------------------------------------------
def test_standardizer_zscores_with_fixed_statistics():
    g = torch.Generator().manual_seed(4)
    data = 3.0 + 2.0 * torch.randn(200, 3, generator=g, dtype=torch.float64)
    st = TeacherStandardizer.from_data(data)
    z = st(data.float())
    torch.testing.assert_close(z.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(3), atol=1e-5, rtol=0)
    # fixed: a batch's own statistics do not matter, and train/eval modes agree
    batch = data[:5].float()
    expected = (batch - st.mean) / st.std
    st.train()
    torch.testing.assert_close(st(batch), expected)
    st.eval()
    torch.testing.assert_close(st(batch), expected)


def test_standardizer_constant_dimensions():
    mean = torch.tensor([1.0, 5.0, 0.0, -2.0])
    std = torch.tensor([2.0, 0.0, 1e-9, float("nan")])
    t = torch.tensor([[3.0, 5.0, 0.0, -2.0], [float("nan")] * 4])
    zero = TeacherStandardizer(mean, std, drop_constant=False)
    out = zero(t)
    assert zero.out_dim == 4 and zero.n_constant == 3
    assert out[0].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert torch.isnan(out[1, 0]) and (out[1, 1:] == 0).all()  # NaN rows stay NaN (masked later)
    drop = TeacherStandardizer(mean, std)
    assert drop.out_dim == 1 and drop(t)[0].tolist() == [1.0] and torch.isnan(drop(t)[1]).all()
    raw = TeacherStandardizer(mean, std, scale=False)
    assert raw(t)[0].tolist() == [3.0]


def test_standardizer_state_dict_round_trip_and_errors():
    a = TeacherStandardizer(torch.zeros(3), torch.tensor([1.0, 0.0, 2.0]))
    b = TeacherStandardizer(torch.zeros(3), torch.ones(3))
    b.load_state_dict(a.state_dict())
    assert b.out_dim == 2 and b(torch.ones(1, 3)).tolist() == [[1.0, 0.5]]
    with pytest.raises(ShapeError, match=r"expected shape \[B, 3\], got \[2, 4\]"):
        a(torch.zeros(2, 4))
    with pytest.raises(ShapeError):
        TeacherStandardizer(torch.zeros(3), torch.ones(2))
    with pytest.raises(ValueError, match="none of the 2 rows is finite"):
        TeacherStandardizer.from_data(torch.full((2, 3), float("nan")))
    data = torch.tensor([[1.0, 2.0], [float("nan"), 100.0], [3.0, 4.0]])
    st = TeacherStandardizer.from_data(data)  # the NaN row is ignored
    assert st.mean.tolist() == [2.0, 3.0] and st.std.tolist() == [1.0, 1.0]


# -- marginal density and MI ---------------------------------------------------------------
def test_marginal_density_one_mode_is_the_exact_gaussian_fit():
    rng = np.random.default_rng(0)
    z = rng.normal([1.0, -2.0, 0.0], [0.5, 3.0, 1.0], size=(500, 3))
    z[:, 2] = 4.0  # constant dimension: variance floored
    m = MarginalDensity.fit(torch.tensor(z, dtype=torch.float32))
    x = np.array([[0.0, 0.0, 4.0], [1.0, -2.0, 4.0]])
    mu, var = z.mean(0), np.maximum(z.var(0), 1e-4)
    expected = [-sum(math.log(normal_pdf(v, mu[j], math.sqrt(var[j])))
                     for j, v in enumerate(row)) for row in x]
    np.testing.assert_allclose(m.nll(torch.tensor(x, dtype=torch.float32)).numpy(), expected,
                               rtol=1e-4)


def test_marginal_density_mixture_matches_sklearn_and_is_deterministic():
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(-2, 0.5, size=(300, 3)), rng.normal(2, 1.0, size=(300, 3))])
    x[:, 2] = 0.0  # constant dimension
    m = MarginalDensity.fit(torch.tensor(x), n_modes=2, seed=0)
    ref = GaussianMixture(2, covariance_type="diag", reg_covar=1e-4, random_state=0).fit(x)
    nll = m.nll(torch.tensor(x[:20], dtype=torch.float32))
    assert nll.shape == (20,) and torch.isfinite(nll).all()
    np.testing.assert_allclose(nll.numpy(), -ref.score_samples(x[:20]), rtol=1e-4)
    assert (m.variances[:, 2] >= 1e-4).all()
    again = MarginalDensity.fit(torch.tensor(x), n_modes=2, seed=0)
    assert torch.equal(again.nll(torch.tensor(x[:20], dtype=torch.float32)), nll)
    with pytest.raises(ValueError, match="NaN/inf"):
        MarginalDensity.fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="at least 3 rows"):
        MarginalDensity.fit(np.zeros((2, 2)), n_modes=3)
    with pytest.raises(ShapeError):
        m.nll(torch.zeros(2, 5))


def test_mutual_information_estimate_masks_and_scales():
    marginal = torch.tensor([5.0, 4.0, float("nan"), 6.0])
    conditional = torch.tensor([2.0, 3.0, 1e30, 1.0])
    ok = torch.tensor([True, True, False, True])
    est = mutual_information_estimate(marginal, conditional, ok, dim=3)
    assert est.nats.item() == pytest.approx((3 + 1 + 5) / 3)
    assert est.nats_per_dim.item() == pytest.approx(1.0)
    none = mutual_information_estimate(marginal, conditional, torch.zeros(4, dtype=torch.bool))
    assert math.isnan(none.nats.item())
    with pytest.raises(ShapeError):
        mutual_information_estimate(marginal, conditional[:3])


def _fit_head(t_train, s_train, steps=200):
    torch.manual_seed(0)
    obj = GaussianObjective(s_train.shape[1], {"t": t_train.shape[1]}, hidden_dim=16)
    opt = torch.optim.Adam(obj.parameters(), lr=5e-3)
    ok = torch.ones(len(s_train), dtype=torch.bool)
    for _ in range(steps):
        opt.zero_grad()
        obj(s_train, {"t": (t_train, ok)})[0].backward()
        opt.step()
    return obj


def test_mi_estimate_is_zero_for_independent_and_positive_for_dependent_student():
    # a toy "student" s and two teachers: one a noisy function of s, one independent of it
    g = torch.Generator().manual_seed(6)
    n_train, n_test, d = 2000, 2000, 2
    s = torch.randn(n_train + n_test, 4, generator=g)
    w = torch.randn(4, d, generator=g)
    dependent = torch.tanh(s @ w / 2) + 0.05 * torch.randn(n_train + n_test, d, generator=g)
    independent = torch.randn(n_train + n_test, d, generator=g)
    results = {}
    for name, raw in (("dependent", dependent), ("independent", independent)):
        t = TeacherStandardizer.from_data(raw[:n_train])(raw)
        obj = _fit_head(t[:n_train], s[:n_train])
        marginal = MarginalDensity.fit(t[:n_train], n_modes=1, seed=0)
        with torch.no_grad():  # held-out rows, as the trainer's validation does
            cond = obj.conditional_nll("t", s[n_train:], t[n_train:])
            results[name] = mutual_information_estimate(marginal.nll(t[n_train:]), cond, dim=d)
    assert abs(results["independent"].nats.item()) < 0.1, results
    assert results["dependent"].nats_per_dim.item() > 1.5, results
    assert results["dependent"].nats.item() == pytest.approx(
        d * results["dependent"].nats_per_dim.item())


def test_standardizer_clip_bounds_rare_bits_and_keeps_nan_rows():
    from molmtd.objectives import TeacherStandardizer

    data = torch.zeros(1000, 2)
    data[0, 0] = 1.0  # a bit that fires once: z = (1 - 0.001) / 0.0316 ~ 31.6
    data[:, 1] = torch.arange(1000.0) % 2
    plain = TeacherStandardizer.from_data(data)
    clipped = TeacherStandardizer.from_data(data, clip=5.0)
    assert plain(data[:1])[0, 0] > 30
    assert clipped(data[:1])[0, 0] == pytest.approx(5.0)
    torch.testing.assert_close(clipped(data)[:, 1], plain(data)[:, 1])  # |z| = 1 untouched
    nan_row = torch.full((1, 2), float("nan"))
    assert torch.isnan(clipped(nan_row)).all()
    with pytest.raises(ValueError, match="clip must be > 0"):
        TeacherStandardizer(torch.zeros(2), torch.ones(2), clip=0)
