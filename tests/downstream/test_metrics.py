from __future__ import annotations

import math

import numpy as np
import pytest

from molmtd.downstream.metrics import PRIMARY_METRIC, score_predictions


def test_regression_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.5, 2.0, 2.0, 4.0])
    s = score_predictions("regression", y, p)
    assert s["mae"] == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert s["rmse"] == pytest.approx(math.sqrt((0.25 + 1) / 4))
    assert s["r2"] == pytest.approx(1 - 1.25 / 5.0)
    assert PRIMARY_METRIC["regression"] == "r2"


def test_classification_metrics_by_hand():
    y = np.array([0, 0, 1, 1])
    s = score_predictions("classification", y, np.array([0.1, 0.4, 0.35, 0.8]))
    assert s["auroc"] == pytest.approx(0.75)
    assert s["auprc"] == pytest.approx((1 + 2 / 3) / 2)
    perfect = score_predictions("classification", y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect == {"auroc": 1.0, "auprc": 1.0}


def test_single_class_and_bad_input():
    s = score_predictions("classification", np.ones(4), np.linspace(0, 1, 4))
    assert math.isnan(s["auroc"]) and math.isnan(s["auprc"])
    with pytest.raises(ValueError, match="differ in length"):
        score_predictions("regression", np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="unknown task_type"):
        score_predictions("ranking", np.ones(3), np.ones(3))
