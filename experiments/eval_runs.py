r"""Score finished runs side by side with the five fast teachers, ECFP and their concatenation.

The screening settings of docs/EXPERIMENTS.md: the report tasks, random and scaffold
splits, one seed, at most 2000 molecules per task (the teachers' embeddings of those
subsets are cached under <cache>/evaluate), the `ridge` probe unless --model says otherwise.

    .venv/bin/python experiments/eval_runs.py ~/.cache/molmtd/runs/scale50k/report-s1-ridge \\
        ~/.cache/molmtd/runs/scale50k/*/ ~/.cache/molmtd/runs/screen10k/jkcat

A featurizer folder (one holding config.json, e.g. featurizers/molmtd-base) is scored as
it is, so the released model can sit in the same report as the runs. `--teachers` replaces
the teacher list (add `mordred` when a run distilled it).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

TEACHERS = ("ecfp-count:radius=2,size=2048,chemprop:checkpoint=admet_regression/0,minimol,"
            "chemnet,physchem,ecfp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report_dir", type=Path)
    parser.add_argument("runs", nargs="*",
                        help="run directories (RUN/featurizer) or featurizer folders; "
                             "RUN@embedding scores that run with its own readouts instead "
                             "of --readout's (none: --teachers alone, e.g. a featurizer as "
                             "a teacher spec, molmtd:featurizer=DIR,precision=int8)")
    parser.add_argument("--model", default="ridge")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--max-molecules", type=int, default=2000,
                        help="cap per task (seeded stratified subsample); 0: no cap")
    parser.add_argument("--datasets", default=None,
                        help="comma-separated task names (default: the report tasks under "
                             "molmtd.downstream.datasets.DEFAULT_MAX_SIZE molecules)")
    parser.add_argument("--readout", default="embedding")
    parser.add_argument("--no-concat", action="store_true",
                        help="leave out the teachers' concatenation (on 8k-molecule training "
                             "sets its ~9,000 columns cost most of the ridge probe's time)")
    parser.add_argument("--teachers", default=TEACHERS,
                        help=f"comma-separated teacher specs to score beside the runs "
                             f"(default: {TEACHERS})")
    parser.add_argument("--no-ecfp", action="store_true",
                        help="leave out the ECFP baseline (a report joined to one that has it)")
    parser.add_argument("--same-molecules-as", default="",
                        help="comma-separated teacher specs embedded (from the cache) only to "
                             "drop the molecules they fail on, not scored: the molecules and "
                             "splits of an earlier report that scored them, so that "
                             "ranks_by_split.py --add can join this one to it")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from molmtd.downstream.evaluate import evaluate_featurizers
    from molmtd.paths import resolve_cache_dir
    from molmtd.teachers.base import split_spec_list

    featurizers = []
    for arg in args.runs:  # RUN or RUN@readout[,readout]: that run with its own readouts
        run, _, own = str(arg).partition("@")
        path = Path(run) if (Path(run) / "config.json").is_file() else Path(run) / "featurizer"
        if (path / "config.json").is_file():
            featurizers.append((path, own.split(",")) if own else path)
    if not featurizers and not args.teachers:
        raise SystemExit("no finished run (RUN/featurizer/config.json) among the arguments")
    report = evaluate_featurizers(
        featurizers or None, split_spec_list(args.teachers), seeds=tuple(range(args.seeds)),
        model=args.model,
        datasets=args.datasets.split(",") if args.datasets else None,
        max_molecules=args.max_molecules or None, out_dir=args.report_dir,
        cache_dir=resolve_cache_dir(None), readouts=args.readout.split(","),
        include_concat=not args.no_concat, include_ecfp=not args.no_ecfp,
        same_molecules_as=split_spec_list(args.same_molecules_as))
    print(f"report: {report}")


if __name__ == "__main__":
    main()
