r"""Compress a featurizer's pooled readout towards its teachers instead of by variance.

Hypothesis (stop 31): the student holds what MiniMol holds (stop 28: it carries 76% of
MiniMol's variance on photoswitch, and the rest predicts nothing alone), but the release's
compression keeps the readout's 512 directions of largest variance, and the probes z-score
each of them to the same weight, so directions that no teacher asked for weigh as much as
the ones that carry the teachers. This keeps instead the 512 directions of the readout that
best predict the teachers: reduced-rank ridge regression (ridge from the z-scored readout
to the z-scored teachers, each teacher's block scaled to the same total variance; the top
``dim`` right singular vectors of the fitted values give the subspace), fitted on corpus
rows the student never trained on, with the teachers' cached embeddings of those rows.
The result replaces the featurizer's projection, so it loads and is scored like any run.

Written by hand: no library fits a reduced-rank ridge map and folds it into a torch layer.

    .venv/bin/python experiments/compress_to_teachers.py featurizers/molmtd-base \
        ~/.cache/molmtd/runs/pca/molmtd-base-rrr512 --dim 512 --molecules 20000
    # --teachers minimol: the directions that predict MiniMol alone
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ZINC_TEACHERS = "ecfp-count,chemprop,chemnet,physchem,minimol"


def teacher_stores(cache: Path, labels: list[str], rows: int):
    """Each label's cached store over the MOSES zinc corpus (the one that holds ``rows``)."""
    from molmtd.store import EmbeddingStore

    stores = {}
    for label in labels:
        found = [EmbeddingStore(d) for t in sorted((cache / "teachers").glob(f"{label}*"))
                 for d in sorted(t.iterdir()) if (d / "manifest.json").is_file()]
        found = [s for s in found if len(s) >= rows]
        if not found:
            raise SystemExit(f"no cached {label} store with {rows} rows under {cache}/teachers")
        stores[label] = found[0]
    keys = next(iter(stores.values())).keys[:rows]
    for label, store in stores.items():
        if store.keys[:rows] != keys:
            raise SystemExit(f"the {label} store's molecules differ from the others'")
    return stores, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", help="a featurizer directory or released name")
    parser.add_argument("out", type=Path, help="the new run folder (OUT/featurizer)")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--molecules", type=int, default=20000)
    parser.add_argument("--teachers", default=ZINC_TEACHERS)
    parser.add_argument("--rows", default="50000:250000",
                        help="corpus rows to draw from (the student trained on [0, 50k))")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args()

    import torch
    from sklearn.linear_model import RidgeCV

    from molmtd.artifact import CARD, Artifact, find_artifact, save_artifact
    from molmtd.paths import resolve_cache_dir

    start = time.perf_counter()
    lo, hi = (int(x) for x in args.rows.split(":"))
    labels = args.teachers.split(",")
    stores, keys = teacher_stores(Path(resolve_cache_dir()), labels, hi)
    pick = np.sort(np.random.default_rng(args.seed).choice(np.arange(lo, hi), args.molecules,
                                                           replace=False))
    source = find_artifact(args.source)
    readout = Artifact(source, readout="layers")
    out = readout.embed([keys[i] for i in pick], n_jobs=args.n_jobs)
    ok = out.ok.copy()
    blocks = []
    for label in labels:
        emb, good = stores[label].rows(pick)
        ok &= good
        blocks.append(emb.astype(np.float64))
    X = out.embeddings[ok].astype(np.float64)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale[scale < 1e-12] = 1.0
    Xz = (X - mean) / scale
    targets = []
    for emb in blocks:  # z-score each teacher's dims, clip as training does, equal weight
        y = emb[ok]
        y = np.clip((y - y.mean(axis=0)) / np.maximum(y.std(axis=0), 1e-12), -5, 5)
        targets.append(y / np.sqrt(y.shape[1]))
    Y = np.hstack(targets)
    ridge = RidgeCV(alphas=np.logspace(0, 5, 6)).fit(Xz, Y)
    B = ridge.coef_.T  # (readout, teacher dims)
    fitted = Xz @ B
    r2 = 1 - ((Y - fitted - ridge.intercept_) ** 2).sum() / ((Y - Y.mean(0)) ** 2).sum()
    _, sv, vt = np.linalg.svd(fitted - fitted.mean(axis=0), full_matrices=False)
    W = B @ vt[:args.dim].T  # (readout, dim): embedding = Xz @ W
    kept = float((sv[:args.dim] ** 2).sum() / (sv ** 2).sum())

    # fold the z-scoring into the student's projection: e = (x - mean) / scale @ W
    weight = (W / scale[:, None]).T
    bias = -weight @ mean
    student = readout.student
    config = dict(readout.config)
    from molmtd.student import GNNStudent
    new = GNNStudent.from_config({**config["student"], "out_dim": args.dim, "projection": True})
    state = {k: v for k, v in student.state_dict().items() if not k.startswith("projection.")}
    state["projection.weight"] = torch.as_tensor(weight, dtype=torch.float32)
    state["projection.bias"] = torch.as_tensor(bias, dtype=torch.float32)
    new.load_state_dict(state)
    record = {"method": "reduced-rank ridge to the teachers", "teachers": labels,
              "dim": args.dim, "n_molecules": int(ok.sum()), "rows": args.rows,
              "alpha": float(ridge.alpha_), "r2_full_rank": round(float(r2), 4),
              "fitted_variance_kept": round(kept, 4), "source": str(source)}
    extra = {k: v for k, v in config.items()
             if k not in ("format_version", "molmtd_version", "student", "graph_features",
                          "standardize")}
    extra.update({"name": args.out.name, "embedding_dim": args.dim, "readout": "embedding",
                  "compression": record})
    card = (source / CARD).read_text() if (source / CARD).is_file() else f"# {args.out.name}\n"
    card += (f"\n\n## Compressed embedding (teacher-predictive)\n\n{json.dumps(record)}\n")
    target = save_artifact(args.out / "featurizer", new, standardize=config["standardize"],
                           extra=extra, card=card)
    print(f"{target}: {record} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
