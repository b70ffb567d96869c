r"""2026-12-08-rotated-basis: the PCA embedding in a basis that z-scoring does not whiten.

Every probe (ridge, MLP, kNN) z-scores each column first. In the PCA basis that gives the
512th principal component the weight of the first: the probes see a whitened embedding
(2026-12-02-meansum-readout measured that it costs kNN on organic density, 0.79 -> 0.51, and
helps it on photoswitch). MiniMol's columns are not principal components, so z-scoring
leaves its geometry nearly as it is. This keeps the same 512-d subspace and rotates it by a
seeded random orthogonal matrix Q: Euclidean distances are unchanged, every column becomes a
mix of all components with about the average variance, so z-scoring is close to one common
scale and the probes see the PCA's own geometry. Scored on the development tasks only
(bace, bace-pic50, chembl-freewilson; ridge and kNN, both splits, three seeds) against the
unrotated featurizer:

    .venv/bin/python experiments/2026-12-08-rotated-basis.py featurizers/molmtd-base \
        ~/.cache/molmtd/runs/2026-12-08-rotated-basis/base [--seed 0]

Writes OUT/featurizer (the rotated copy; scored on the report tasks with
``heldout_eval.sh ADD=1`` if it wins here) and OUT/dev-report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def rotate_embedding(source: str, target: Path, seed: int) -> Path:
    """Write a copy of the compressed featurizer ``source`` with its projection rotated.

    ``projection.weight`` W ``[d, D]`` and bias b become ``Q W`` and ``Q b`` for a Haar-random
    orthogonal Q ``[d, d]`` (QR of a seeded Gaussian matrix, signs fixed).
    """
    from molmtd.compression import _compressible, _write_projection

    source_dir, artifact, _ = _compressible(source, target, 1)
    state = artifact.student.state_dict()
    weight = state["projection.weight"].double().numpy()
    bias = state["projection.bias"].double().numpy()
    d = weight.shape[0]
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    q = q * np.sign(np.diag(r))  # Haar measure (Mezzadri 2007)
    record = {"method": "rotation", "seed": seed, "of": str(source)}
    section = (f"The embedding above, rotated by a seeded random orthogonal matrix (seed {seed}): "
               "the same subspace and distances in a basis whose columns are not principal "
               "components, so that per-column z-scoring does not whiten it.")
    return _write_projection(source_dir, artifact, target, q @ weight, q @ bias, record,
                             section, f"{target.parent.name}-rotated")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a compressed featurizer directory or released name")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds")
    args = parser.parse_args()

    from molmtd.artifact import find_artifact
    from molmtd.downstream.datasets import dev_tasks
    from molmtd.downstream.evaluate import evaluate_featurizers
    from molmtd.paths import resolve_cache_dir

    rotated = args.out / "featurizer"
    if not (rotated / "config.json").is_file():
        rotate_embedding(args.source, rotated, args.seed)
    report = args.out / "dev-report"
    if not (report / "results.csv").is_file():
        evaluate_featurizers([find_artifact(args.source), rotated], [],
                             seeds=tuple(range(args.seeds)), model="ridge,knn",
                             datasets=dev_tasks(), out_dir=report,
                             cache_dir=resolve_cache_dir(None), include_concat=False,
                             include_ecfp=False, allow_dev_tasks=True, clustering=False)
    from summarize import dev_table  # experiments/summarize.py, beside this script

    print(dev_table(pd.read_csv(report / "results.csv")).to_string(float_format="%.4f"))


if __name__ == "__main__":
    main()
