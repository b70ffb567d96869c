"""Training throughput of issue 9's receptive-field levers, each against the release's student.

Issue 9 asks to weigh each lever that lets the student see more of the molecule by its
training throughput, "because every point of speed is corpus size". The 10k screen recorded
only rough step-time remarks; this measures them in one process: the zinc recipe's student
(GINE 5x300, every layer pooled by mean and sum, heads on the 3000-d readout, the zinc
teachers' widths) and one variant per lever, a full distillation step each (student
forward incl. any positional encoding, every head, backward, both AdamW steps), all on the
same pre-collated MOSES batches, the variants alternating batch by batch (forward, then
reverse order) so that the load of a shared machine weighs on all alike. Ratios are
against the base.

  base       the release's student
  residual   ``residual: true``
  rw16       ``positional_encoding: 16`` (random-walk return probabilities, computed per batch)
  lap8       ``laplacian_pe: 8`` (Laplacian eigenvectors, a batched eigh per batch)
  vn         ``virtual_node: true``
  deep7      ``num_layers: 7`` (4200-d readout; issue "molmtd-base v2", lever 4)
  deep8      ``num_layers: 8`` (the readout grows to 4800-d with jk=cat)
  wide512    ``hidden_dim: 512`` (5120-d readout)
and issue "molmtd-base v2"'s levers outside the student (2026-12-08-base-v2-draws):
  rkdmm      the relational distance term towards MiniMol (weight 25)
  rkdall     the same towards all five teachers
  eosce      eosce (1024-d) as a sixth teacher: one more head
  bio        eosce and admet_classification (300-d) as sixth and seventh teachers

Usage:
    .venv/bin/python benchmarks/student_levers.py [--batches 6] [--precision 32|bf16]
        [--levers base,residual,...] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from trainer import (  # noqa: E402
    ZINC_TEACHER_DIMS,
    Stepper,
    batches_of,
    build_module,
    interleaved,
    synthetic_teachers,
    zinc_student_config,
)

LEVERS = {"base": {}, "residual": {"residual": True}, "rw16": {"positional_encoding": 16},
          "lap8": {"laplacian_pe": 8}, "vn": {"virtual_node": True},
          "deep7": {"num_layers": 7}, "deep8": {"num_layers": 8}, "wide512": {"hidden_dim": 512},
          "rkdmm": {}, "rkdall": {}, "eosce": {}, "bio": {}}
#: levers that change the objective or add teachers (the student stays the base's)
OBJECTIVE_LEVERS = {"rkdmm": {"relational_weight": 25.0, "relational_teachers": ["minimol"]},
                    "rkdall": {"relational_weight": 25.0}}
EXTRA_TEACHERS = {"eosce": {"eosce": 1024}, "bio": {"eosce": 1024, "chemprop_5": 300}}


def lever_config(name: str) -> dict:
    """The zinc student's config with one lever changed; jk=cat's readout width follows."""
    config = dict(zinc_student_config(), **LEVERS[name])
    pools = len(config["pooling"].split("+"))
    config["out_dim"] = config["num_layers"] * config["hidden_dim"] * pools
    return config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levers", default=",".join(LEVERS))
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="32", choices=["32", "bf16"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = args.levers.split(",")
    unknown = [n for n in names if n not in LEVERS]
    if unknown:
        ap.error(f"unknown lever(s) {unknown}; choose from {list(LEVERS)}")
    if "base" not in names:
        names.insert(0, "base")
    batches = batches_of(args.batches, args.batch_size)
    dims = {n: {**ZINC_TEACHER_DIMS, **EXTRA_TEACHERS.get(n, {})} for n in names}
    teachers = synthetic_teachers(batches, {k: d for v in dims.values() for k, d in v.items()})
    steppers = {n: Stepper(build_module(0, 0, config=lever_config(n), teacher_dims=dims[n],
                                        objective=OBJECTIVE_LEVERS.get(n)), args.precision, False)
                for n in names}

    def step(name):  # each lever's step sees its own teachers only
        return lambda g, t: steppers[name].distill(g, {k: t[k] for k in dims[name]})

    load = [os.getloadavg()[0]]
    rates = interleaved({n: step(n) for n in names}, batches, teachers, args.warmup)
    load.append(os.getloadavg()[0])
    results = {}
    print(f"distillation step, zinc student and teachers' widths, {args.batches} batches of "
          f"{args.batch_size}, {args.threads} threads, precision {args.precision}")
    print("| lever | readout width | mol/s | / base |\n|---|---:|---:|---:|")
    for n in names:
        width = lever_config(n)["out_dim"]
        results[n] = {"mol_s": rates[n], "ratio": rates[n] / rates["base"], "readout": width}
        print(f"| {n} | {width} | {rates[n]:.0f} | {rates[n] / rates['base']:.2f} |")
    print(f"load average {load[0]:.2f} at start, {load[1]:.2f} at end")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"precision": args.precision, "batches": args.batches,
                       "load": load, "levers": results}, fh, indent=1)


if __name__ == "__main__":
    main()
