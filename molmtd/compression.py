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

:func:`compress_towards_teachers` keeps instead the ``dim`` directions of the readout that best
predict the teachers (reduced-rank ridge regression): the PCA keeps the readout's largest-variance
directions, and the probes then z-score each one to the same weight, whether or not any teacher
asked for it (docs/EXPERIMENTS.md, 2026-12-03-compression-residual-teacher-count). Also by hand:
scikit-learn has ridge and PCA, not their reduced-rank combination.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from molmtd.errors import ArtifactError

__all__ = ["compress_layer_readout", "compress_towards_teachers"]


def compress_layer_readout(source: str | Path, target: str | Path, smiles: Sequence[str], *,
                           dim: int = 512, n_jobs: int = 1, seed: int = 0,
                           name: str | None = None) -> Path:
    """Write a copy of ``source`` whose embedding is the PCA of its layer readout.

    Args:
        source: a featurizer directory or released name, with no output norm and either
            a student that pools every layer (``jk="cat"``): its layer readout is
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
    from sklearn.decomposition import PCA

    source_dir, artifact, of = _compressible(source, target, dim)
    out = artifact.embed(list(smiles), n_jobs=n_jobs)
    X = out.embeddings[out.ok].astype(np.float64)
    if len(X) < dim:
        raise ValueError(f"{len(X)} valid molecules of {len(smiles)} given; the PCA needs at "
                         f"least dim={dim}")
    mean, scale = _mean_scale(X)
    pca = PCA(n_components=dim, random_state=seed).fit((X - mean) / scale)
    # embedding = C ((x - mean) / scale - m) with C the components and m the PCA's mean
    # (~0 after z-scoring), folded into one Linear: W = C / scale, b = -W mean - C m
    weight = pca.components_ / scale
    bias = -weight @ mean - pca.components_ @ pca.mean_
    explained = float(pca.explained_variance_ratio_.sum())
    record = {"method": "pca", "of": of, "dim": dim, "n_molecules": len(X),
              "explained_variance": round(explained, 6)}
    what = "layer readout" if of == "layers" else "pooled embedding"
    section = (f"The embedding is the top {dim} principal components of the z-scored "
               f"{artifact.dim}-d {what}, fitted on {len(X):,} corpus molecules "
               f"({explained:.1%} of its variance); they replaced the distilled projection "
               "(molmtd.compression). `readout=\"layers\"` still gives the full layer readout.")
    return _write_projection(source_dir, artifact, target, weight, bias, record, section,
                             name or f"{_name(artifact, source_dir)}-pca{dim}")


def compress_towards_teachers(source: str | Path, target: str | Path, smiles: Sequence[str],
                              teachers: Mapping[str, np.ndarray], *, dim: int = 512,
                              n_jobs: int = 1,
                              alphas: Sequence[float] = (1.0, 1e1, 1e2, 1e3, 1e4, 1e5),
                              clip: float = 5.0, name: str | None = None,
                              teacher_directions: int | None = None) -> Path:
    """Write a copy of ``source`` whose embedding is the readout's teacher-predictive subspace.

    Reduced-rank ridge regression: a ridge map ``B`` from the z-scored readout to the
    teachers' embeddings (each dimension z-scored and clipped at ``clip`` as in training,
    each teacher's block scaled to the same total variance, so a 2048-d fingerprint weighs
    as much as a 217-d descriptor set); the top ``dim`` right singular vectors ``V`` of the
    fitted values give the embedding ``z(x) B V``. On the molecules it was fitted on, the
    embedding's components are uncorrelated and in decreasing order of the teacher
    variance they explain.

    Args:
        source: a featurizer directory or released name (as for
            :func:`compress_layer_readout`).
        target: the new featurizer directory (created; must not be ``source``).
        smiles: molecules to fit on, e.g. corpus rows the student did not train on.
        teachers: label -> the teacher's embeddings of ``smiles``, ``[len(smiles), d]``;
            rows with a non-finite value (a teacher failure) are left out of the fit.
        dim: embedding width, at most the readout's width and the molecules kept.
        n_jobs: processes for standardisation and graph building.
        alphas: ridge penalties, chosen by efficient leave-one-out (``RidgeCV``).
        clip: the teachers' z-score clip.
        name: default ``<source name>-teachers<dim>`` (``-teachers<k>pca<dim>`` with
            ``teacher_directions``).
        teacher_directions: keep only the top ``k`` teacher-predictive directions and
            complete them to ``dim`` with the principal components of what the readout
            holds outside them (the z-scored readout with its projection on those ``k``
            directions removed). ``None`` (default): all ``dim`` are teacher-predictive;
            ``0``: the PCA of :func:`compress_layer_readout`, fitted on these molecules.

    Returns:
        ``target``; its config records the fit under ``"compression"`` (method, teachers,
        molecules, the ridge penalty, the full-rank map's R2, and the fitted variance the
        ``dim`` directions keep).

    Raises:
        ArtifactError, ValueError: as for :func:`compress_layer_readout`; also no teachers,
        or a teacher whose rows do not match ``smiles``.
    """
    from sklearn.linear_model import RidgeCV

    if not teachers:
        raise ValueError("compress_towards_teachers needs at least one teacher's embeddings")
    k = dim if teacher_directions is None else teacher_directions
    if not isinstance(k, int) or not 0 <= k <= dim:
        raise ValueError(f"teacher_directions must be an int in [0, dim={dim}], got {k!r}")
    for label, emb in teachers.items():
        if np.ndim(emb) != 2 or len(emb) != len(smiles):
            raise ValueError(f"teacher {label!r}: embeddings of shape {np.shape(emb)}, need "
                             f"one row per molecule ({len(smiles)})")
    source_dir, artifact, of = _compressible(source, target, dim)
    out = artifact.embed(list(smiles), n_jobs=n_jobs)
    ok = out.ok.copy()
    for emb in teachers.values():
        ok &= np.isfinite(emb).all(axis=1)
    if ok.sum() < dim:
        raise ValueError(f"{int(ok.sum())} molecules of {len(smiles)} have a readout and every "
                         f"teacher's embedding; the fit needs at least dim={dim}")
    X = out.embeddings[ok].astype(np.float64)
    mean, scale = _mean_scale(X)
    Xz = (X - mean) / scale
    blocks = []
    for emb in teachers.values():
        y = np.asarray(emb, dtype=np.float64)[ok]
        y_mean, y_scale = _mean_scale(y)
        blocks.append(np.clip((y - y_mean) / y_scale, -clip, clip) / np.sqrt(y.shape[1]))
    Y = np.hstack(blocks)
    Y -= Y.mean(axis=0)
    ridge = RidgeCV(alphas=np.array(alphas, dtype=float), fit_intercept=False).fit(Xz, Y)
    B = ridge.coef_.T  # [readout, teacher dims]
    fitted = Xz @ B
    _, sv, vt = np.linalg.svd(fitted, full_matrices=False)
    W = B @ vt[:k].T  # embedding = z(x) W
    if k < dim:
        W = np.hstack([W, _principal_directions_outside(Xz, W, dim - k)])
    weight = (W / scale[:, None]).T
    bias = -weight @ mean
    r2 = 1.0 - float(((Y - fitted) ** 2).sum() / (Y ** 2).sum())
    kept = float((sv[:k] ** 2).sum() / (sv ** 2).sum())
    record = {"method": "teachers (reduced-rank ridge)", "of": of, "dim": dim,
              "teacher_directions": k,
              "teachers": list(teachers), "n_molecules": int(ok.sum()),
              "alpha": float(ridge.alpha_), "r2_full_rank": round(r2, 4),
              "fitted_variance_kept": round(kept, 4)}
    rest = (f", completed to {dim} by the top {dim - k} principal components of the readout "
            "outside them" if k < dim else "")
    section = (f"The embedding is the {k}-d subspace of the z-scored {artifact.dim}-d "
               f"readout that best predicts the teachers ({', '.join(teachers)}; reduced-rank "
               f"ridge, alpha {ridge.alpha_:g}, fitted on {int(ok.sum()):,} corpus molecules; "
               f"the full-rank map explains {r2:.1%} of the teachers' z-scored variance and "
               f"these {k} directions {kept:.1%} of that){rest}; it replaced the distilled "
               "projection (molmtd.compression). `readout=\"layers\"` still gives the full "
               "readout.")
    suffix = f"teachers{dim}" if k == dim else f"teachers{k}pca{dim}"
    return _write_projection(source_dir, artifact, target, weight, bias, record, section,
                             name or f"{_name(artifact, source_dir)}-{suffix}")


def _principal_directions_outside(Xz: np.ndarray, W: np.ndarray, n: int) -> np.ndarray:
    """Directions of the top ``n`` principal components of what ``Xz W`` does not explain.

    The readout's residual after a least-squares regression on the ``k`` components
    ``T = Xz W`` is ``R = Xz (I - W C)`` with ``C = (T^T T)^-1 T^T Xz``; the returned
    directions ``(I - W C) v`` give its principal components ``R v``, which on the fit
    molecules are uncorrelated with ``T`` and with each other, in decreasing variance.

    Shapes:
        Xz ``[m, D]``, W ``[D, k]`` -> ``[D, n]``.
    """
    if not W.shape[1]:
        _, _, vt = np.linalg.svd(Xz - Xz.mean(axis=0), full_matrices=False)
        return vt[:n].T
    T = Xz @ W
    C = np.linalg.lstsq(T, Xz, rcond=None)[0]  # [k, D]
    residual = Xz - T @ C
    _, _, vt = np.linalg.svd(residual - residual.mean(axis=0), full_matrices=False)
    V = vt[:n].T
    return V - W @ (C @ V)


def _compressible(source, target, dim: int):
    """(source dir, its artifact reading what the projection maps, "layers"/"embedding")."""
    from molmtd.artifact import Artifact, find_artifact
    from molmtd.student import COLUMNWISE_POOLINGS

    source_dir = find_artifact(source)
    if Path(target).resolve() == source_dir.resolve():
        raise ValueError(f"target {target} is the source featurizer; write the compressed "
                         "copy to another directory")
    student = Artifact(source_dir, readout="layers").student
    linear = student.output_norm == "none"
    if linear and student.jk_mode == "cat" and student.pooling_name == "mean":
        of = "layers"
    elif linear and not student.projection_enabled:
        # no projection: the embedding is the pooled vector itself (e.g. mean+sum pooling)
        of = "embedding"
    elif linear and student.jk_mode == "cat" and student.pooling_name in COLUMNWISE_POOLINGS:
        # a compressed mean+sum student (molmtd-base): its "layers" readout is the pooled
        # vector the heads read, so the projection can be replaced again
        of = "layers"
    else:
        raise ArtifactError(
            f"featurizer {source_dir}: its embedding is not a linear map of its layer readout "
            f"(jk={student.jk_mode!r}, pooling={student.pooling_name!r}, projection="
            f"{student.projection_enabled!r}, output_norm={student.output_norm!r}; compression "
            "needs output_norm='none' and either jk='cat' with a column-wise pooling, or no "
            "projection)")
    artifact = Artifact(source_dir, readout=of)
    if not isinstance(dim, int) or not 1 <= dim <= artifact.dim:
        what = "the layer readout's" if of == "layers" else "the pooled embedding's"
        raise ValueError(f"dim must be an int in [1, {artifact.dim}] ({what} width), "
                         f"got {dim!r}")
    return source_dir, artifact, of


def _mean_scale(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-12] = 1.0  # StandardScaler's rule for constant dimensions
    return mean, scale


def _name(artifact, source_dir: Path) -> str:
    return str(artifact.config.get("name", source_dir.name))


def _write_projection(source_dir: Path, artifact, target, weight: np.ndarray, bias: np.ndarray,
                      record: dict, card_section: str, name: str) -> Path:
    """Save ``source`` with its projection replaced by ``Linear(weight, bias)``."""
    import torch

    from molmtd.artifact import CARD, METADATA_FIELDS, save_artifact
    from molmtd.student import GNNStudent

    dim = int(weight.shape[0])
    config = dict(artifact.config)
    new = GNNStudent.from_config({**config["student"], "out_dim": dim, "projection": True})
    state = {k: v for k, v in artifact.student.state_dict().items()
             if not k.startswith("projection.")}
    state["projection.weight"] = torch.as_tensor(weight, dtype=torch.float32)
    state["projection.bias"] = torch.as_tensor(bias, dtype=torch.float32)
    new.load_state_dict(state)
    # the source's metadata; fields unknown to this version (already warned about) are dropped
    extra = {k: v for k, v in config.items() if k in METADATA_FIELDS}
    extra.update({"name": name, "embedding_dim": dim, "readout": "embedding",
                  "compression": {**record, "source": _name(artifact, source_dir)}})
    card_path = source_dir / CARD
    card = card_path.read_text() if card_path.is_file() else f"# {Path(target).name}\n"
    card = card.rstrip() + "\n\n## Compressed embedding\n\n" + card_section + "\n"
    return save_artifact(target, new, standardize=config["standardize"], extra=extra,
                         card=card)
