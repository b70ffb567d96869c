from __future__ import annotations

import numpy as np
import pytest

from molmtd.downstream.chemspace import plot_chemical_space, project_2d

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_pca_projection_keeps_the_main_direction():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    X = np.column_stack([t, t + 0.01 * rng.normal(size=200), 0.01 * rng.normal(size=(200, 3))])
    xy = project_2d(X, "pca")
    assert xy.shape == (200, 2)
    assert abs(np.corrcoef(xy[:, 0], t)[0, 1]) > 0.99


@pytest.mark.parametrize(("color", "categorical"), [
    (None, None), (np.arange(60) % 4 - 1, None), (np.linspace(-3, 3, 60), None)])
def test_map_is_written_as_png(tmp_path, color, categorical):
    X = np.random.default_rng(1).normal(size=(60, 8))
    path = plot_chemical_space(X, tmp_path / "maps" / "space.png", color=color,
                               categorical=categorical, color_label="logS")
    data = path.read_bytes()
    assert path.parent.name == "maps" and data[:8] == PNG_MAGIC and len(data) > 5_000


def test_projection_errors():
    with pytest.raises(ValueError, match="NaN"):
        project_2d(np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match="unknown projection 'tsne'"):
        project_2d(np.ones((5, 3)), "tsne")
    with pytest.raises(ValueError, match="n >= 3"):
        project_2d(np.ones((2, 3)))


@pytest.mark.slow
def test_umap_projection(tmp_path):
    X = np.random.default_rng(2).normal(size=(80, 6))
    xy = project_2d(X, "umap", seed=0)
    assert xy.shape == (80, 2) and np.isfinite(xy).all()
    np.testing.assert_allclose(xy, project_2d(X, "umap", seed=0), atol=1e-5)
