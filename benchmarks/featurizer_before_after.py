"""Before/after ratios of the featurizer stages in one process (alternating calls).

The "before" code is read from a git revision (default: main) into temporary modules:
standardisation (molmtd.molecules), graph building + collation (molmtd.graphs), and the
student forward with torch_geometric's own GINEConv and out-of-place ReLUs; "after" is
this checkout. Ratios (before time / after time) survive a loaded machine better than
absolute rates.

    .venv/bin/python benchmarks/featurizer_before_after.py [--rev main] [--n 2000]
        [--threads 1] [--repeats 2]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import subprocess
import sys
import tempfile
import time


def load_old(rev: str, module: str):
    src = subprocess.run(["git", "show", f"{rev}:molmtd/{module}.py"], capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(__file__)).stdout
    path = os.path.join(tempfile.mkdtemp(), f"old_{module}.py")
    with open(path, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(f"old_{module}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def time_alternating(pairs: dict, repeats: int, warmup: bool = False,
                     header: str = "| stage | before s | after s | before/after |") -> None:
    """Print a markdown row per ``name: (before, after)``: seconds summed over ``repeats``
    alternations (before, after, before, ...) and their ratio; ``warmup`` runs each once
    first (allocator, lazy initialisation). Alternating keeps a load change from landing
    on one side only."""
    print(f"{header}\n|---|---:|---:|---:|")
    for name, (before, after) in pairs.items():
        if warmup:
            before(), after()
        tb = ta = 0.0
        for _ in range(repeats):
            t = time.perf_counter()
            before()
            tb += time.perf_counter() - t
            t = time.perf_counter()
            after()
            ta += time.perf_counter() - t
        print(f"| {name} | {tb:.2f} | {ta:.2f} | {tb / ta:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default="main")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch
    from torch_geometric import nn as gnn

    sys.path.insert(0, os.path.dirname(__file__))
    from teachers import moses

    from molmtd import graphs, molecules
    from molmtd.artifact import load_artifact, make_random_artifact

    torch.set_num_threads(args.threads)
    old_mol, old_graphs = load_old(args.rev, "molecules"), load_old(args.rev, "graphs")
    artifact = load_artifact(make_random_artifact(
        os.path.join(tempfile.mkdtemp(), "r"), hidden_dim=300, num_layers=5))
    new_student = artifact.student
    old_student = copy.deepcopy(new_student)
    for layer in old_student.layers:  # torch_geometric's GINEConv, ReLUs out of place
        conv = gnn.GINEConv(gnn.MLP([300, 300, 300], norm=None))
        conv.load_state_dict(layer.conv.state_dict())
        layer.conv = conv
    smiles = moses(args.n)
    settings = artifact.config["standardize"]
    keys = [k for k in molecules.standardize_many(smiles, **settings)[0] if k]
    batches = [b for _, b in graphs.graph_batches_from_smiles(keys, 256)[0]]

    def forward(student):
        def run():
            with torch.inference_mode():
                for b in batches:
                    student.forward_batch(b)
        return run

    def drain(mod):
        def run():
            for _ in mod.graph_batches_from_smiles(keys, 256)[0]:
                pass
        return run

    def transform(std, grf, student):
        def run():  # the one-process path of Artifact.embed, stage by stage
            k = [x for x in std.standardize_many(smiles, **settings)[0] if x]
            with torch.inference_mode():
                for _, b in grf.graph_batches_from_smiles(k, 256)[0]:
                    student.forward_batch(b)
        return run

    pairs = {
        "standardise": (lambda: old_mol.standardize_many(smiles, **settings),
                        lambda: molecules.standardize_many(smiles, **settings)),
        "graphs + collate": (drain(old_graphs), drain(graphs)),
        "forward": (forward(old_student), forward(new_student)),
        "transform (n_jobs=1)": (transform(old_mol, old_graphs, old_student),
                                 transform(molecules, graphs, new_student)),
    }
    load0 = os.getloadavg()[0]
    print(f"{args.n} MOSES molecules, GINE 5x300, {args.threads} torch thread(s), "
          f"alternating, {args.repeats} repeats; load average {load0:.2f} at start")
    time_alternating(pairs, args.repeats)
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
