"""Pooling each layer's atom states vs pooling their concatenation, same process, alternating.

``GNNStudent`` with ``jk="cat"`` and a column-wise pooling (mean+sum for molmtd-base and
the zinc recipe) used to concatenate every layer's atom states into one ``[N, L*d]``
tensor and pool it; it now pools each ``[N, d]`` state and concatenates the pooled rows
(the same values to the bit, tests/test_student.py). This times both on the same batches:

  forward, fp32 / int8 : molmtd-base's student at inference (what ``transform`` runs)
  train step           : the zinc recipe's bare student (molmtd-base's configuration,
                         untrained), forward + backward + AdamW, batches of 256

    .venv/bin/python benchmarks/pooling_per_layer.py [--n 3000] [--threads 2] [--repeats 3]

Prints seconds per pass (the sum over --repeats alternations) and before / after.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--featurizer", default="molmtd-base")
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    sys.path.insert(0, os.path.dirname(__file__))
    from featurizer_before_after import time_alternating
    from teachers import moses

    from molmtd.artifact import load_artifact
    from molmtd.graphs import graph_batches_from_smiles
    from molmtd.molecules import standardize_many
    from molmtd.student import GNNStudent

    torch.set_num_threads(args.threads)
    fp32 = load_artifact(args.featurizer)
    int8 = load_artifact(args.featurizer, precision="int8")
    keys = [k for k in standardize_many(moses(args.n), **fp32.config["standardize"])[0] if k]
    batches = [b for _, b in graph_batches_from_smiles(keys, 256)[0]]

    def concat_then_pool(student, b):  # the code before this change
        states = student._node_states(b.x, b.edge_index, b.edge_attr, b.batch, b.num_graphs)
        pooled = student.pool(student.jk(states), b.batch, dim_size=b.num_graphs)
        return student.final_norm(student.projection(pooled))

    def per_layer(student, b):
        return student.forward_batch(b)

    def inference(student, fn):
        def run():
            with torch.inference_mode():
                for b in batches:
                    fn(student, b)
        return run

    trainee = GNNStudent.from_config(fp32.student.config()).train()
    optimiser = torch.optim.AdamW(trainee.parameters(), lr=1e-4)

    def train(fn):
        def run():
            for b in batches:
                optimiser.zero_grad()
                fn(trainee, b).square().mean().backward()
                optimiser.step()
        return run

    pairs = {
        "forward, fp32": (inference(fp32.student, concat_then_pool),
                          inference(fp32.student, per_layer)),
        "forward, int8": (inference(int8.student, concat_then_pool),
                          inference(int8.student, per_layer)),
        "bare train step": (train(concat_then_pool), train(per_layer)),
    }
    print(f"{len(keys)} MOSES molecules, {args.featurizer}, {args.threads} torch threads, "
          f"{args.repeats} alternations; load average {os.getloadavg()[0]:.2f} at start")
    time_alternating(pairs, args.repeats, warmup=True, header="| pass | concatenate, then "
                     "pool (s) | pool each layer (s) | before / after |")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
