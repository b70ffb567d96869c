"""Compress a featurizer's layer readout into its embedding: PCA, stored as the projection.

The layer readout (every GNN layer mean-pooled, ``num_layers * hidden_dim`` wide: 1500-d
for a 5x300 student) is the better downstream representation (docs/EXPERIMENTS.md), but
it is three times wider than the 512-d embedding that issue 9 asks for. The distilled
embedding is already a linear map of that readout (``GNNStudent.projection`` applied to
the mean-pooled, jk="cat" states), so a principal-component basis of the readout can take
the projection's place: the compressed artifact has the same format and the same
architecture, loads with any molmtd that reads the original, and ``readout="embedding"``
returns the top ``dim`` principal components of the z-scored layer readout.

The z-scoring before the PCA matches what the downstream probes do (StandardScaler per
feature): without it, the widest layers' dimensions would take the components. Written by
hand on top of scikit-learn's PCA because no library rewrites a torch model's last layer
from a fitted sklearn transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.errors import ArtifactError

__all__ = ["compress_layer_readout"]


def compress_layer_readout(source: str | Path, target: str | Path, smiles: Sequence[str], *,
                           dim: int = 512, n_jobs: int = 1, seed: int = 0,
                           name: str | None = None) -> Path:
    """Write a copy of ``source`` whose embedding is the PCA of its layer readout.

    Args:
        source: a featurizer directory or released name, with no output norm and either
            a student that mean-pools every layer (``jk="cat"``): its layer readout is
            compressed; or one without a projection: its pooled embedding is compressed.
        target: the new featurizer directory (created; must not be ``source``).
        smiles: molecules to fit the PCA on (unlabelled, e.g. corpus rows); invalid ones
            are skipped.
        dim: embedding width, at most the layer readout's width and the number of valid
            molecules.
        n_jobs: processes for standardisation and graph building.
        seed: ``random_state`` of scikit-learn's PCA (its randomised solver).
        name: the compressed featurizer's name (default ``<source name>-pca<dim>``).

    Returns:
        ``target``. Its config records the fit under ``"compression"`` (method, molecules,
        explained variance) and recommends ``readout="embedding"``.

    Raises:
        ArtifactError: a student whose embedding is not a linear map of its layer readout.
        ValueError: ``dim`` out of range, too few valid molecules, or ``target == source``.
    """
    import torch
    from sklearn.decomposition import PCA

    from molmtd.artifact import CARD, Artifact, find_artifact, save_artifact
    from molmtd.student import GNNStudent

    source_dir = find_artifact(source)
    target = Path(target)
    if target.resolve() == source_dir.resolve():
        raise ValueError(f"target {target} is the source featurizer; write the compressed "
                         "copy to another directory")
    student = Artifact(source_dir, readout="layers").student
    linear = student.output_norm == "none"
    if linear and student.jk_mode == "cat" and student.pooling_name == "mean":
        of = "layers"
    elif linear and not student.projection_enabled:
        # no projection: the embedding is the pooled vector itself (e.g. mean+sum pooling,
        # which the layer readout, always mean-pooled, would lose), so compress that
        of = "embedding"
    else:
        raise ArtifactError(
            f"featurizer {source_dir}: its embedding is not a linear map of its layer readout "
            f"(jk={student.jk_mode!r}, pooling={student.pooling_name!r}, projection="
            f"{student.projection_enabled!r}, output_norm={student.output_norm!r}; compression "
            "needs output_norm='none' and either jk='cat' with pooling='mean', or no "
            "projection)")
    artifact = Artifact(source_dir, readout=of)
    width = artifact.dim
    if not isinstance(dim, int) or not 1 <= dim <= width:
        what = "the layer readout's" if of == "layers" else "the pooled embedding's"
        raise ValueError(f"dim must be an int in [1, {width}] ({what} width), got {dim!r}")
    out = artifact.embed(list(smiles), n_jobs=n_jobs)
    X = out.embeddings[out.ok].astype(np.float64)
    if len(X) < dim:
        raise ValueError(f"{len(X)} valid molecules of {len(smiles)} given; the PCA needs at "
                         f"least dim={dim}")
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale[scale < 1e-12] = 1.0  # StandardScaler's rule for constant dimensions
    pca = PCA(n_components=dim, random_state=seed).fit((X - mean) / scale)
    # embedding = C ((x - mean) / scale - m) with C the components and m the PCA's mean
    # (~0 after z-scoring), folded into one Linear: W = C / scale, b = -W mean - C m
    weight = pca.components_ / scale
    bias = -weight @ mean - pca.components_ @ pca.mean_

    config = dict(artifact.config)
    new = GNNStudent.from_config({**config["student"], "out_dim": dim, "projection": True})
    state = {k: v for k, v in student.state_dict().items() if not k.startswith("projection.")}
    state["projection.weight"] = torch.as_tensor(weight, dtype=torch.float32)
    state["projection.bias"] = torch.as_tensor(bias, dtype=torch.float32)
    new.load_state_dict(state)
    explained = float(pca.explained_variance_ratio_.sum())
    extra = {k: v for k, v in config.items()
             if k not in ("format_version", "molmtd_version", "student", "graph_features",
                          "standardize")}
    extra.update({
        "name": name or f"{config.get('name', source_dir.name)}-pca{dim}",
        "embedding_dim": dim, "readout": "embedding",
        "compression": {"method": "pca", "of": of, "dim": dim, "n_molecules": len(X),
                        "explained_variance": round(explained, 6),
                        "source": str(config.get("name", source_dir.name))}})
    card_path = source_dir / CARD
    card = card_path.read_text() if card_path.is_file() else f"# {target.name}\n"
    card = card.rstrip() + "\n\n" + _card_section(width, dim, len(X), explained, of)
    return save_artifact(target, new, standardize=config["standardize"], extra=extra,
                         card=card)


def _card_section(width: int, dim: int, n: int, explained: float, of: str) -> str:
    what = "layer readout" if of == "layers" else "pooled embedding"
    return (
        "## Compressed embedding\n\n"
        f"The embedding is the top {dim} principal components of the z-scored {width}-d "
        f"{what}, fitted on {n:,} corpus molecules ({explained:.1%} of its variance); "
        "they replaced the distilled projection (molmtd.compression). "
        "`readout=\"layers\"` still gives the full layer readout.\n")

