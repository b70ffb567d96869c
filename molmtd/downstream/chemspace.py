"""Chemical-space maps: a 2-D projection of embeddings (PCA or UMAP) saved as a PNG.

Points are coloured by a property (continuous colour bar) or by cluster (one colour per
label).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["project_2d", "plot_chemical_space"]


def project_2d(X: np.ndarray, method: str = "pca", seed: int = 0, **kwargs) -> np.ndarray:
    """Z-score the embeddings and project them to 2-D.

    Args:
        X: embeddings ``[n, d]`` without NaN rows.
        method: "pca" (scikit-learn) or "umap" (umap-learn; seeded, so single-threaded).
        seed: ``random_state`` of the projection (PCA's randomised solvers, UMAP).
        **kwargs: passed to ``PCA`` or ``umap.UMAP`` (e.g. ``n_neighbors``, ``metric``).

    Returns:
        coordinates ``[n, 2]``.

    Raises:
        ValueError: NaN rows, fewer than 3 molecules, or an unknown method.
        ImportError: umap-learn is missing (``pip install 'molmtd[eval]'``).
    """
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 3:
        raise ValueError(f"need embeddings [n >= 3, d], got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN/inf rows; drop molecules that could not be embedded")
    Z = StandardScaler().fit_transform(X)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed, **kwargs).fit_transform(Z)
    if method == "umap":
        try:
            import umap
        except ImportError as err:
            raise ImportError("UMAP maps need umap-learn: pip install 'molmtd[eval]'") from err
        kwargs.setdefault("n_neighbors", min(15, len(Z) - 1))
        return umap.UMAP(n_components=2, random_state=seed, **kwargs).fit_transform(Z)
    raise ValueError(f"unknown projection {method!r}; expected 'pca' or 'umap'")


def plot_chemical_space(X: np.ndarray, path: str | Path, *, color: np.ndarray | None = None,
                        categorical: bool | None = None, method: str = "pca",
                        title: str | None = None, color_label: str = "", seed: int = 0,
                        coords: np.ndarray | None = None) -> Path:
    """Save a 2-D map of the embeddings as a PNG.

    Args:
        X: embeddings ``[n, d]`` (ignored when ``coords`` is given).
        path: output PNG path (folders are created).
        color: per-molecule values ``[n]``: a property or cluster labels.
        categorical: treat ``color`` as labels (default: integers with at most 20
            distinct values); label -1 (HDBSCAN noise) is drawn grey.
        method: projection, "pca" or "umap"; also names the axes.
        title: plot title (default ``"chemical space (PCA)"`` or ``(UMAP)``).
        color_label: legend title for labels, or colour-bar label for a property.
        seed: seed of the projection (see :func:`project_2d`).
        coords: precomputed ``[n, 2]`` coordinates (skips the projection).

    Returns:
        the PNG path.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend state (renders Agg)

    xy = project_2d(X, method, seed) if coords is None else np.asarray(coords)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.4, 5.2), dpi=110)
    ax = fig.add_subplot()
    kw = dict(s=10, alpha=0.8, linewidths=0)
    if color is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="#3b6ea8", **kw)
    else:
        color = np.asarray(color)
        if categorical is None:
            categorical = (np.issubdtype(color.dtype, np.integer)
                           and np.unique(color).size <= 20)
        if categorical:
            labels = np.unique(color)
            cmap = _qualitative(len(labels))
            for k, lab in enumerate(labels):
                m = color == lab
                c = "#bbbbbb" if lab == -1 else cmap[k % len(cmap)]
                name = "noise" if lab == -1 else str(lab)
                ax.scatter(xy[m, 0], xy[m, 1], color=c, label=name, **kw)
            if len(labels) <= 20:
                ax.legend(title=color_label or None, fontsize=7, markerscale=1.5,
                          loc="best", frameon=False)
        else:
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=color.astype(float), cmap="viridis", **kw)
            fig.colorbar(sc, ax=ax, label=color_label)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title(title or f"chemical space ({method.upper()})")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def _qualitative(n: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(cmap.N)]
