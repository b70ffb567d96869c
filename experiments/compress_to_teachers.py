r"""Compress a featurizer's pooled readout towards its teachers instead of by variance.

Hypothesis (2026-12-03-compression-residual-teacher-count): the student holds what MiniMol holds
(2026-12-02-release-draws-pubchem: it carries 76% of MiniMol's variance on photoswitch, and the
rest predicts nothing alone), but the release's compression keeps the readout's 512 directions of
largest variance, and the probes z-score each of them to the same weight, so directions that no
teacher asked for weigh as much as
the ones that carry the teachers. This keeps instead the 512 directions of the readout that
best predict the teachers: reduced-rank ridge regression (ridge from the z-scored readout
to the z-scored teachers, each teacher's block scaled to the same total variance; the top
``dim`` right singular vectors of the fitted values give the subspace), fitted on corpus
rows the student never trained on, with the teachers' cached embeddings of those rows.
The result replaces the featurizer's projection (molmtd.compression.compress_towards_teachers),
so it loads and is scored like any run.

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
    parser.add_argument("--teacher-directions", type=int, default=None,
                        help="keep the top k teacher-predictive directions and complete them "
                             "with the principal components of the rest (default: all dim)")
    parser.add_argument("--n-jobs", type=int, default=-1)
    args = parser.parse_args()

    from molmtd.compression import compress_towards_teachers
    from molmtd.paths import resolve_cache_dir

    start = time.perf_counter()
    lo, hi = (int(x) for x in args.rows.split(":"))
    labels = args.teachers.split(",")
    stores, keys = teacher_stores(Path(resolve_cache_dir()), labels, hi)
    pick = np.sort(np.random.default_rng(args.seed).choice(np.arange(lo, hi), args.molecules,
                                                           replace=False))
    teachers = {}
    for label in labels:
        emb, good = stores[label].rows(pick)
        emb = emb.astype(np.float64)
        emb[~good] = np.nan  # a teacher failure: the molecule leaves the fit
        teachers[label] = emb
    target = compress_towards_teachers(args.source, args.out / "featurizer",
                                       [keys[i] for i in pick], teachers, dim=args.dim,
                                       n_jobs=args.n_jobs, name=args.out.name,
                                       teacher_directions=args.teacher_directions)
    record = json.loads((target / "config.json").read_text())["compression"]
    print(f"{target}: {record} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
