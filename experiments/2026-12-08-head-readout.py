r"""2026-12-08-head-readout: is the student's *prediction* of MiniMol a better kNN space?

Issue "molmtd-base v2": MiniMol leads every kNN scaffold column and no change to the student's
embedding has moved that column (more rows, steps, loss weights, compression towards the
teachers). But each teacher's Gaussian head already maps the student's readout to the mean of
that teacher's embedding (in the teacher's standardised units): a 512-d "MiniMol as the
student sees it", at the student's speed. Hypothesis: kNN in that space inherits MiniMol's
neighbourhoods, which the linear compressions (PCA, teacher directions) do not recover
because the heads are non-linear.

This scores, on the development tasks only (bace, bace-pic50, chembl-freewilson; ridge and
kNN, random and scaffold splits, three seeds), for one training run:
  - the run's PCA-512 featurizer (what would be released),
  - each named teacher's head mean (``head:<teacher>``),
  - the teachers themselves.

    .venv/bin/python experiments/2026-12-08-head-readout.py RUN PCA_FEATURIZER OUT \
        [--heads minimol chemnet] [--against minimol chemnet]

RUN is a distillation run folder (``featurizer/`` and ``checkpoints/best.ckpt``: the
exported student is the best checkpoint's, so are the heads read here).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from molmtd.teachers.base import Teacher, TeacherOutput


class HeadMeanTeacher(Teacher):
    """The mean of one teacher's Gaussian head on a run's student readout.

    Written here, not in the library, until it earns a place: an experiment's readout.

    Args:
        run: distillation run folder (``featurizer/`` and ``checkpoints/best.ckpt``).
        teacher: the head's teacher label (e.g. "minimol").
    """

    name = "head-mean"
    family = "distilled"

    def __init__(self, run: str, teacher: str = "minimol"):
        self.run = run
        self.teacher = teacher

    def _load(self):
        if not hasattr(self, "_head"):
            import torch

            from molmtd.artifact import load_artifact
            from molmtd.objectives.heads import GaussianMixtureHead

            self._artifact = load_artifact(Path(self.run) / "featurizer", readout="embedding")
            state = torch.load(Path(self.run) / "checkpoints" / "best.ckpt", map_location="cpu",
                               weights_only=True)["state_dict"]
            prefix = f"objective.heads.{self.teacher}.net."
            weights = {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}
            if not weights:
                raise ValueError(f"{self.run}: no head for teacher {self.teacher!r}")
            last = max(int(k.split(".")[0]) for k in weights)
            out_features, hidden = weights[f"{last}.weight"].shape
            d = (out_features - 1) // 2  # one mode: 1 logit, d means, d log-scales
            head = GaussianMixtureHead(self._artifact.dim, d, hidden_dim=hidden,
                                       num_layers=last // 3 + 1)
            head.net.load_state_dict(weights)
            self._head = head.eval()
        return self._artifact, self._head

    @property
    def dim(self) -> int:
        return int(self._load()[1].out_dim)

    @property
    def version(self) -> str:
        ckpt = Path(self.run) / "checkpoints" / "best.ckpt"
        return hashlib.sha256(ckpt.read_bytes()).hexdigest()[:16]

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        import torch

        artifact, head = self._load()
        readout = artifact.embed(smiles)
        out = np.full((len(smiles), head.out_dim), np.nan, dtype=np.float32)
        with torch.inference_mode():
            rows = np.flatnonzero(readout.ok)
            s = torch.from_numpy(readout.embeddings[rows])
            out[rows] = head(s).means[:, 0, :].numpy()
        return TeacherOutput(out, readout.ok, readout.reasons)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("pca", type=Path, help="the run's compressed featurizer folder")
    parser.add_argument("out", type=Path)
    parser.add_argument("--heads", nargs="+", default=["minimol"])
    parser.add_argument("--against", nargs="+", default=["minimol"])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    from molmtd.downstream.datasets import dev_tasks
    from molmtd.downstream.evaluate import evaluate_featurizers
    from molmtd.paths import resolve_cache_dir

    report = args.out / "dev-report"
    if not (report / "results.csv").is_file():
        against = [HeadMeanTeacher(str(args.run), t) for t in args.heads] + list(args.against)
        evaluate_featurizers([args.pca], against, seeds=tuple(range(args.seeds)),
                             model="ridge,knn", datasets=dev_tasks(), out_dir=report,
                             cache_dir=resolve_cache_dir(None), include_concat=False,
                             include_ecfp=False, allow_dev_tasks=True, clustering=False)
    from summarize import dev_table  # experiments/summarize.py, beside this script

    print(dev_table(pd.read_csv(report / "results.csv")).to_string(float_format="%.4f"))


if __name__ == "__main__":
    main()
