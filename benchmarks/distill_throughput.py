"""Distillation training throughput vs the bare student's forward+backward, same batches.

Usage (idle machine; one busy background job makes torch steps several times slower):

    .venv/bin/python benchmarks/distill_throughput.py [--molecules 5000] [--batches 20]
        [--layers 5] [--width 300] [--teachers ecfp-count,maccs,physchem] [--threads 2]

Prints molecules/s for
  distill  : student forward + standardise + objective (all heads) + backward + both
             optimiser steps + student grad clipping (what one training step does)
  student  : student forward + backward of a dummy loss + optimiser step
on the same pre-collated batches, alternating the two to cancel drift, and the ratio.
The data pipeline (fetching graphs and teacher rows) is timed separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--molecules", type=int, default=5000)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--width", type=int, default=300)
    ap.add_argument("--conv", default="gine")
    ap.add_argument("--objective", default="gaussian")
    ap.add_argument("--teachers", default="ecfp-count:radius=2,size=2048,maccs,physchem")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--json", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from molmtd.distill import _student_config, prepare
    from molmtd.lightning_module import DistillModule
    from molmtd.recipe import load_recipe
    from molmtd.teachers.base import split_spec_list

    cache = args.cache_dir or tempfile.mkdtemp(prefix="molmtd-bench-")
    recipe = load_recipe(data={
        "name": "bench", "teachers": split_spec_list(args.teachers),
        "corpus": {"max_molecules": args.molecules},
        "store": {"cache_dir": cache},
        "student": {"conv": args.conv, "num_layers": args.layers, "hidden_dim": args.width},
        "objective": {"name": args.objective, "mi_estimate": False},
        "training": {"batch_size": args.batch_size},
    })
    t0 = time.perf_counter()
    dm = prepare(recipe)
    print(f"caches ready in {time.perf_counter() - t0:.1f}s (cache: {cache})")
    module = DistillModule(_student_config(recipe), dm.teacher_dims,
                           recipe.objective.model_dump(), recipe.training.model_dump(),
                           statistics=dm.statistics)
    module.train()

    loader = dm.train_dataloader()
    t0 = time.perf_counter()
    batches = []
    for b in loader:
        batches.append(b)
        if len(batches) == args.batches:
            break
    fetch = time.perf_counter() - t0
    n_mol = sum(b[0].num_graphs for b in batches)
    print(f"data pipeline: {n_mol / fetch:,.0f} mol/s ({len(batches)} batches)")

    opt_s = torch.optim.AdamW(module.student.parameters(), lr=1e-4, fused=True)
    opt_h = torch.optim.AdamW(module.objective.parameters(), lr=1e-4, fused=True)

    def distill_step(batch):
        _, _, total, _ = module._losses(batch)
        opt_s.zero_grad()
        opt_h.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(module.student.parameters(), 1.0)
        opt_s.step()
        opt_h.step()

    def student_step(batch):
        out = module.student.forward_batch(batch[0])
        opt_s.zero_grad()
        out.square().mean().backward()
        opt_s.step()

    for b in batches[:2]:  # warm-up
        distill_step(b)
        student_step(b)
    times = {"distill": 0.0, "student": 0.0}
    for i, b in enumerate(batches):
        order = [("distill", distill_step), ("student", student_step)]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            t = time.perf_counter()
            fn(b)
            times[name] += time.perf_counter() - t
    d, s = n_mol / times["distill"], n_mol / times["student"]
    print(f"student {args.conv} {args.layers}x{args.width}, teachers: {', '.join(dm.labels)} "
          f"(dims {list(dm.teacher_dims.values())}), objective {args.objective}, "
          f"batch {args.batch_size}, {args.threads} threads")
    print(f"distillation training step: {d:,.0f} mol/s")
    print(f"bare student fwd+bwd:       {s:,.0f} mol/s")
    print(f"distill step cost = {s / d:.2f}x a bare student step")
    if args.json:
        import json
        import os

        with open(args.json, "w") as fh:
            json.dump({"data_pipeline_mol_s": n_mol / fetch, "distill_mol_s": d,
                       "student_mol_s": s, "ratio": s / d, "teachers": dm.labels,
                       "load_average": os.getloadavg()[0]}, fh, indent=1)


if __name__ == "__main__":
    main()
