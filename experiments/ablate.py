r"""Distil several variants of one recipe, then evaluate them side by side with the teachers.

The paper's claims are comparisons: the student against each teacher, and the density
loss against L2 and cosine distillation. This script runs those comparisons from one
command, with every variant a set of ``--set`` overrides of a base recipe:

    .venv/bin/python experiments/ablate.py recipes/quickstart.yaml \
        --variant gaussian: \
        --variant l2:objective.name=l2 \
        --variant cosine:objective.name=cosine \
        --against ecfp-count:radius=2,size=1024,maccs,physchem --out runs/ablation

A variant is ``NAME:KEY=VALUE;KEY=VALUE`` (an empty list keeps the base recipe). Each
variant trains into ``OUT/NAME`` and resumes there if it was interrupted (``--resume``
semantics); a finished variant (its ``featurizer/`` exists) is not trained again. Caches
(corpus, graphs, teacher embeddings) are shared by every variant with the same corpus and
teachers. The evaluation (``molmtd evaluate``) then scores every variant's featurizer,
the teachers given by ``--against``, their concatenation and ECFP on the same splits and
seeds, and writes ``OUT/report/report.md`` with per-task metrics and average ranks.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``"l2:objective.name=l2;training.lr=1e-3"`` -> ``("l2", ["objective.name=l2", ...])``."""
    name, _, overrides = text.partition(":")
    if not name or "/" in name:
        raise SystemExit(f"--variant {text!r}: expected NAME:KEY=VALUE;... with a plain NAME")
    return name, [o.strip() for o in overrides.split(";") if o.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipe", type=Path)
    parser.add_argument("--variant", action="append", required=True,
                        help="NAME:KEY=VALUE;KEY=VALUE (repeat for each variant)")
    parser.add_argument("--set", dest="common", action="append", default=[],
                        help="override applied to every variant")
    parser.add_argument("--against", default="",
                        help="comma-separated teacher specs to compare with")
    parser.add_argument("--datasets", default=None, help="comma-separated dataset names")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", default="linear")
    parser.add_argument("--max-molecules", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--train-only", action="store_true", help="skip the evaluation")
    parser.add_argument("--report-dir", type=Path, default=None,
                        help="where the report goes (default <out>/report)")
    parser.add_argument("--readout", default="embedding",
                        help="readouts of each variant to score: embedding, layers or both")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where evaluation embeddings are kept and reused "
                             "(default $MOLMTD_CACHE_DIR or ~/.cache/molmtd)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")

    from molmtd.distill import distill
    from molmtd.downstream.evaluate import evaluate_featurizers
    from molmtd.paths import resolve_cache_dir
    from molmtd.recipe import load_recipe
    from molmtd.teachers.base import split_spec_list

    featurizers = []
    for name, overrides in map(parse_variant, args.variant):
        run_dir = args.out / name
        if not (run_dir / "featurizer" / "config.json").is_file():
            recipe = load_recipe(args.recipe, [*args.common, *overrides, f"name={name}"])
            distill(recipe, run_dir, resume=(run_dir / "checkpoints").is_dir(), progress=False)
        featurizers.append(run_dir / "featurizer")
    if args.train_only:
        return
    report = evaluate_featurizers(
        featurizers, split_spec_list(args.against),
        datasets=args.datasets.split(",") if args.datasets else None,
        seeds=tuple(range(args.seeds)), model=args.model, max_molecules=args.max_molecules,
        out_dir=args.report_dir or args.out / "report", cache_dir=resolve_cache_dir(args.cache_dir),
        readouts=args.readout.split(","))
    print(f"report: {report}")


if __name__ == "__main__":
    main()
