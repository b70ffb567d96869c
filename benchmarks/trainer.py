"""Training-step throughput: distillation vs the bare student, and molmtd vs the reference layer.

Two measurements, each a ratio taken in one process on the same pre-collated batches,
the compared steps alternating batch by batch so that the load of a shared machine
weighs on both alike:

  zinc       the zinc recipe's student (GINE 5x300, every layer pooled, the heads on the
             readout: 3000-d since 2026-12-02-meansum-release's mean+sum pooling, 1500-d before;
             ``zinc-projected``: the earlier 300-d projected one) with the
             zinc recipe's teachers' widths (ecfp-count 2048, physchem 217, chemprop 300,
             minimol 512, chemnet 512; gaussian objective, one mode): a full distillation
             step (student forward, standardise, every head, backward, both AdamW steps,
             student gradient clipping) vs the bare student's forward + backward + AdamW step;
             then the heads alone (standardise, heads, backward, their AdamW step) on the
             same batches' readouts, which says where the difference goes.
  reference  the reference trainer's configuration (GINE 10 layers x 512, LayerNorm,
             mean pooling, batch 256, one Gaussian mode per teacher, the zinc teachers'
             widths): molmtd's student, whose layers gather per-layer bond embeddings
             from a table of bond-feature combinations, beside the same network built
             with the reference's layer, torch_geometric's ``GINEConv(nn, edge_dim=512)``
             fed 512-d bond-type embeddings (a Linear(512, 512) on every edge).

Teacher rows are synthetic (standard normal): a step's cost depends on the teachers'
widths, not their values. Graphs are MOSES molecules (benchmarks/teachers.py's reader).

Usage:
    .venv/bin/python benchmarks/trainer.py [--case zinc,reference] [--batches 8]
        [--threads 2] [--precision 32|bf16] [--compile] [--profile FILE.md] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import torch

ZINC_TEACHER_DIMS = {"ecfp-count": 2048, "physchem": 217, "chemprop": 300, "minimol": 512,
                     "chemnet": 512}  # get_teacher(spec).dim of recipes/zinc.yaml's teachers
OBJECTIVE = {"name": "gaussian", "n_modes": 1, "head_hidden_dim": 512, "head_num_layers": 2,
             "loss_scale": 1.0, "standardize_teachers": True, "standardize_clip": 5.0,
             "min_log_scale": -2.5, "mi_estimate": False}


def batches_of(n_batches: int, batch_size: int):
    sys.path.insert(0, os.path.dirname(__file__))
    from teachers import moses

    from molmtd.graphs import graph_batches_from_smiles

    smiles = moses(n_batches * batch_size)
    return [b for _, b in graph_batches_from_smiles(smiles, batch_size)[0]]


def zinc_student_config() -> dict:
    """The student recipes/zinc.yaml trains (jk=cat and heads on the readout since
    2026-12-01-embedding-width; mean+sum pooling, a 3000-d readout, since
    2026-12-02-meansum-release)."""
    from molmtd.distill import _student_config
    from molmtd.recipe import load_recipe

    root = os.path.join(os.path.dirname(__file__), "..")
    return _student_config(load_recipe(os.path.join(root, "recipes", "zinc.yaml")))


def build_module(num_layers: int, width: int, reference: bool = False,
                 config: dict | None = None, teacher_dims: dict | None = None,
                 objective: dict | None = None):
    """A DistillModule with the zinc teachers' widths; ``reference`` swaps in its layer.

    ``config``: a student config to use instead of GINE ``num_layers`` x ``width`` with
    mean pooling of the last layer and a projection. ``teacher_dims`` and ``objective``
    replace the zinc teachers' widths and update the objective (e.g. a relational term).
    """
    from torch_geometric import nn as gnn

    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
    from molmtd.lightning_module import DistillModule
    from molmtd.student import FeatureEmbedding, GNNStudent

    if config is None:
        config = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, conv="gine",
                            num_layers=num_layers, hidden_dim=width, norm="layer",
                            pooling="mean").config()
    torch.manual_seed(0)
    module = DistillModule(config, teacher_dims or ZINC_TEACHER_DIMS,
                           {**OBJECTIVE, **(objective or {})}, {})
    if reference:
        for layer in module.student.layers:
            # the reference's layer: bond type embedded at the conv width, then GINEConv's
            # own Linear(width, width) applied to every edge
            layer.conv = gnn.GINEConv(gnn.MLP([width, width, width], norm=None), edge_dim=width)
            layer.bond_encoder = FeatureEmbedding(BOND_FEATURE_DIMS, width, columns=[0])
    return module.train()


class Stepper:
    """One module's distillation step and bare-student step, with their own optimisers."""

    def __init__(self, module, precision: str, compile_student: bool, device: str = "cpu",
                 fused: bool = True):
        self.module = module = module.to(device)
        # the optimisers DistillModule.configure_optimizers builds (fused AdamW)
        kind = {"fused": True} if fused else {"foreach": True}
        self.opt_s = torch.optim.AdamW(module.student.parameters(), lr=1e-4, **kind)
        self.opt_h = torch.optim.AdamW(module.objective.parameters(), lr=1e-4, **kind)
        self.autocast = (lambda: torch.autocast(device, dtype=torch.bfloat16)) \
            if precision == "bf16" else contextlib.nullcontext
        if compile_student:
            module.student.compile(dynamic=True)

    def distill(self, graphs, teachers) -> None:
        with self.autocast():
            s, targets, total, _ = self.module._losses((graphs, teachers))
            _, relational = self.module._relational_penalty(s, targets)  # as training_step
            if relational is not None:
                total = total + relational
        self.opt_s.zero_grad()
        self.opt_h.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(self.module.student.parameters(), 1.0)
        self.opt_s.step()
        self.opt_h.step()

    def student(self, graphs, teachers) -> None:
        with self.autocast():
            out = self.module.student.forward_batch(graphs)
        self.opt_s.zero_grad()
        out.float().square().mean().backward()
        self.opt_s.step()

    def heads(self, readout, teachers) -> None:
        """The objective's share of a distillation step: teacher standardisation, every
        head, their backward down to the readout's gradient, and the heads' AdamW step, on
        a readout computed beforehand (``readouts``)."""
        s = readout.clone().requires_grad_()
        with self.autocast():
            targets = {label: (self.module.standardizers[label](t), ok)
                       for label, (t, ok) in teachers.items()}
            total, _ = self.module.objective(s, targets)
        self.opt_h.zero_grad()
        total.backward()
        self.opt_h.step()

    def readouts(self, batches) -> list:
        with torch.no_grad():
            return [self.module.student.forward_batch(g).float() for g in batches]


def interleaved(steps: dict, batches, teachers, warmup: int = 2) -> dict[str, float]:
    """Molecules/s of each named step over all batches, alternating the order per batch."""
    for fn in steps.values():
        for i in range(min(warmup, len(batches))):
            fn(batches[i], teachers[i])
    spent = dict.fromkeys(steps, 0.0)
    names = list(steps)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for i, (g, t) in enumerate(zip(batches, teachers, strict=True)):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            sync()
            start = time.perf_counter()
            steps[name](g, t)
            sync()
            spent[name] += time.perf_counter() - start
    n = sum(len(b) if isinstance(b, torch.Tensor) else b.num_graphs for b in batches)
    return {name: n / s for name, s in spent.items()}


def profile_table(fn, batches, teachers, rows: int = 15) -> str:
    """Top operators by self CPU time over a few steps (torch.profiler), as markdown."""
    from torch.profiler import ProfilerActivity, profile

    steps = min(3, len(batches))
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for g, t in zip(batches[:steps], teachers[:steps], strict=True):
            fn(g, t)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1
    lines = ["| operator | self CPU ms / step | share | calls / step |", "|---|---:|---:|---:|"]
    for e in events[:rows]:
        lines.append(f"| {e.key} | {e.self_cpu_time_total / steps / 1e3:.1f} | "
                     f"{e.self_cpu_time_total / total:.0%} | {e.count / steps:.0f} |")
    return "\n".join(lines)


def _dump(path: str | None, results: dict) -> None:
    if path:
        with open(path, "w") as fh:
            json.dump(results, fh, indent=1)


def synthetic_teachers(batches, teacher_dims: dict | None = None):
    g = torch.Generator().manual_seed(0)
    return [{label: (torch.randn(b.num_graphs, d, generator=g),
                     torch.ones(b.num_graphs, dtype=torch.bool))
             for label, d in (teacher_dims or ZINC_TEACHER_DIMS).items()} for b in batches]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", default="zinc,reference")
    ap.add_argument("--batches", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps per step kind")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="32", choices=["32", "bf16"])
    ap.add_argument("--compile", action="store_true", help="torch.compile the students")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (GPU molecules/s)")
    ap.add_argument("--foreach-adamw", action="store_true",
                    help="AdamW's foreach step (molmtd before fused AdamW), for a before/after")
    ap.add_argument("--profile", default=None, help="write operator profiles (markdown) here")
    ap.add_argument("--json", default=None, help="write the figures as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    batches = batches_of(args.batches, args.batch_size)
    teachers = synthetic_teachers(batches)
    dev = args.device
    batches = [b.to(dev) for b in batches]
    teachers = [{k: (v.to(dev), ok.to(dev)) for k, (v, ok) in t.items()} for t in teachers]
    atoms = sum(b.num_nodes for b in batches) / sum(b.num_graphs for b in batches)
    edges = sum(b.num_edges for b in batches) / sum(b.num_graphs for b in batches)
    setting = (f"{len(batches)} batches of {args.batch_size} MOSES molecules ({atoms:.1f} atoms, "
               f"{edges:.1f} directed edges per molecule), {args.threads} threads, precision "
               f"{args.precision}{', torch.compile' if args.compile else ''}, device {dev}")
    print(setting, flush=True)
    results: dict = {"setting": setting}
    profiles = []
    load = [os.getloadavg()[0]]
    if "zinc" in args.case:
        # "zinc-projected": the student the zinc recipe trained before 2026-12-01-embedding-width
        # (last layer pooled, projected to 300-d, the heads read the projection)
        config = None if "zinc-projected" in args.case else zinc_student_config()
        s = Stepper(build_module(5, 300, config=config), args.precision, args.compile, dev,
                    not args.foreach_adamw)
        rates = interleaved({"distill": s.distill, "student": s.student}, batches, teachers,
                            args.warmup)
        results["zinc"] = {"distill_mol_s": rates["distill"], "student_mol_s": rates["student"],
                           "ratio": rates["student"] / rates["distill"]}
        _dump(args.json, results)  # partial figures survive a later timeout
        # where the overhead goes: the heads alone on the same batches' readouts
        heads = interleaved({"heads": s.heads}, s.readouts(batches), teachers, args.warmup)
        ms = {k: 1e3 * args.batch_size / v for k, v in
              (("distill", rates["distill"]), ("student", rates["student"]),
               ("heads", heads["heads"]))}
        results["zinc"].update({"heads_mol_s": heads["heads"],
                                "ms_per_batch": ms})
        _dump(args.json, results)
        which = ("projected 5x300" if config is None else
                 f"GINE 5x300, {config['pooling']} pooling, heads on the "
                 f"{s.module.student.out_dim}-d readout")
        print(f"zinc recipe ({which}, zinc teachers' widths): distillation step "
              f"{rates['distill']:,.0f} mol/s, bare student {rates['student']:,.0f} mol/s, "
              f"ratio {rates['student'] / rates['distill']:.3f}", flush=True)
        print(f"  ms per batch of {args.batch_size}: distillation {ms['distill']:.0f}, bare "
              f"student {ms['student']:.0f}, heads alone {ms['heads']:.0f} (standardise, "
              f"heads, their backward and AdamW; timed after the others)", flush=True)
        if args.profile:
            profiles.append(("zinc recipe, distillation step", profile_table(
                s.distill, batches, teachers)))
            profiles.append(("zinc recipe, bare student step", profile_table(
                s.student, batches, teachers)))
    if "reference" in args.case:
        ours = Stepper(build_module(10, 512), args.precision, args.compile, dev)
        ref = Stepper(build_module(10, 512, reference=True), args.precision, args.compile,
                      dev)
        rates = interleaved({"ours": ours.distill, "reference_layer": ref.distill,
                             "ours_student": ours.student, "reference_student": ref.student},
                            batches, teachers, args.warmup)
        results["reference"] = {f"{k}_mol_s": v for k, v in rates.items()}
        results["reference"]["speedup"] = rates["ours"] / rates["reference_layer"]
        print(f"reference configuration (GINE 10x512, LayerNorm, mean pool, batch "
              f"{args.batch_size}, gaussian 1 mode): molmtd {rates['ours']:,.0f} mol/s "
              f"(bare student {rates['ours_student']:,.0f}); reference layer "
              f"{rates['reference_layer']:,.0f} mol/s (bare {rates['reference_student']:,.0f}); "
              f"speed-up {rates['ours'] / rates['reference_layer']:.2f}x", flush=True)
        if args.profile:
            profiles.append(("GINE 10x512, molmtd layer, distillation step", profile_table(
                ours.distill, batches, teachers)))
            profiles.append(("GINE 10x512, reference layer, distillation step", profile_table(
                ref.distill, batches, teachers)))
    load.append(os.getloadavg()[0])
    results["load_average"] = load
    print(f"load average {load[0]:.2f} at start, {load[1]:.2f} at end")
    if args.profile:
        with open(args.profile, "w") as fh:
            fh.write(f"# Operator profiles ({setting})\n\n")
            for title, table in profiles:
                fh.write(f"## {title}\n\n{table}\n\n")
    _dump(args.json, results)


if __name__ == "__main__":
    main()
