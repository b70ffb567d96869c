"""Peak memory of distillation against corpus size, on synthetic stores of the zinc widths.

For each corpus size a synthetic graph store (MOSES graphs repeated, keys ``k0..kN``) and
one synthetic float16 embedding store per zinc teacher width (ecfp-count 2048, physchem
217, chemprop 300, minimol 512, chemnet 512) are written once under ``--dir``; then, in a
fresh process per size, the real ``DistillDataModule.setup`` (ok masks, seeded split,
streamed standardisation statistics) and a Lightning ``Trainer.fit`` of ``--steps``
steps run on them, through the real loader (``training.num_workers``).

Reported per size: peak anonymous RSS (``RssAnon`` of /proc/self/status sampled every
20 ms: the process's own memory, not the page cache of the memory-mapped store files),
peak total RSS (``VmHWM``, which counts resident pages of the mapped files too) and the
store files' size. Flat in corpus size means the anonymous peak does not grow with N.

Usage:
    .venv/bin/python benchmarks/memory.py [--sizes 100000,300000,1000000] [--steps 20]
        [--dir /tmp/molmtd-memory] [--num-workers 0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ZINC_TEACHER_DIMS = {"ecfp-count": 2048, "physchem": 217, "chemprop": 300, "minimol": 512,
                     "chemnet": 512}


class _BlockTeacher:
    """A stand-in teacher: rows cut from one fixed random block (building stays I/O bound)."""

    version = "synthetic-1"

    def __init__(self, label: str, dim: int):
        self.spec, self.dim = f"synthetic:{label}", dim
        self.block = np.random.default_rng(dim).standard_normal((10_000, dim)).astype(np.float32)
        self.offset = 0

    def embed(self, smiles):
        from molmtd.teachers.base import TeacherOutput

        n = len(smiles)
        rows = np.take(self.block, np.arange(self.offset, self.offset + n) % len(self.block),
                       axis=0)
        self.offset += n
        return TeacherOutput(rows, np.ones(n, dtype=bool), {})


def build_stores(root: Path, n: int) -> Path:
    """Synthetic graph and embedding stores of ``n`` molecules under ``root/n`` (once)."""
    from molmtd.graphs import GraphStore, _featurize, _write_chunk
    from molmtd.store import EmbeddingStore, keys_sha256

    sys.path.insert(0, os.path.dirname(__file__))
    from teachers import moses

    directory = root / str(n)
    done = directory / "done"
    if done.is_file():
        return directory
    keys = [f"k{i}" for i in range(n)]
    graphs = directory / "graphs"
    graphs.mkdir(parents=True, exist_ok=True)
    block = _featurize(moses(2_000), 1)
    chunk = 50_000
    manifest = {"format": "molmtd-graph-store", "format_version": 1,
                "feature_schema": __import__("molmtd.graphs").graphs.feature_schema(),
                "keys_sha256": keys_sha256(keys), "n_molecules": n, "chunk_size": chunk,
                "n_chunks": -(-n // chunk), "chunks": []}
    for c in range(manifest["n_chunks"]):
        m = min(chunk, n - c * chunk)
        reps = -(-m // len(block.num_atoms))
        # the 2000 MOSES graphs repeated: concatenated arrays, per-molecule offsets
        tiled = type(block)(np.concatenate([block.x] * reps),
                            np.concatenate([block.edge_index] * reps, axis=1),
                            np.concatenate([block.edge_attr] * reps),
                            np.tile(block.num_atoms, reps), np.tile(block.num_edges, reps), {})
        a = int(tiled.num_atoms[:m].sum())
        e = int(tiled.num_edges[:m].sum())
        tiled = type(block)(tiled.x[:a], tiled.edge_index[:, :e], tiled.edge_attr[:e],
                            tiled.num_atoms[:m], tiled.num_edges[:m], {})
        manifest["chunks"].append(_write_chunk(graphs, c, tiled))
    (graphs / "keys.txt").write_text("".join(k + "\n" for k in keys))
    (graphs / "manifest.json").write_text(json.dumps(manifest))
    GraphStore(graphs)  # opens: the manifest is consistent
    for label, dim in ZINC_TEACHER_DIMS.items():
        EmbeddingStore.build(_BlockTeacher(label, dim), keys, directory / label,
                             shard_size=10_000, dtype="float16", batch_size=10_000,
                             progress=False)
    done.write_text("ok")
    return directory


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def measure(directory: Path, steps: int, num_workers: int) -> dict:
    """In this process: setup + fit on the stores of ``directory``; peak memory figures."""
    import lightning as L
    import torch

    from molmtd.datamodule import DistillDataModule
    from molmtd.distill import _student_config
    from molmtd.graphs import GraphStore
    from molmtd.lightning_module import DistillModule
    from molmtd.recipe import load_recipe
    from molmtd.store import EmbeddingStore

    torch.set_num_threads(2)
    peak = {"anon": _status("RssAnon")}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak["anon"] = max(peak["anon"], _status("RssAnon"))
            time.sleep(0.02)

    threading.Thread(target=sample, daemon=True).start()
    baseline = _status("RssAnon")
    n = int(directory.name)

    class Corpus:
        def __len__(self):
            return n

    class SyntheticDataModule(DistillDataModule):
        def _build_caches(self):
            stores = {label: EmbeddingStore(directory / label) for label in ZINC_TEACHER_DIMS}
            return Corpus(), GraphStore(directory / "graphs"), stores

    recipe = load_recipe("recipes/zinc.yaml", [
        "corpus.max_molecules=null", f"training.num_workers={num_workers}",
        "teachers=[" + ",".join(ZINC_TEACHER_DIMS) + "]"])
    dm = SyntheticDataModule(recipe)
    dm.labels = list(ZINC_TEACHER_DIMS)
    t0 = time.perf_counter()
    dm.setup("fit")
    setup_s = time.perf_counter() - t0
    after_setup = peak["anon"]
    t = recipe.training.model_dump()
    module = DistillModule(_student_config(recipe), dm.teacher_dims,
                           recipe.objective.model_dump() | {"mi_estimate": False}, t,
                           statistics=dm.statistics)
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=2 * steps, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, use_distributed_sampler=False,
                        limit_val_batches=0, num_sanity_val_steps=0)
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=dm)
    fit_s = time.perf_counter() - t0
    stop.set()
    files = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    model = sum(p.numel() * p.element_size() for p in module.parameters())
    return {"molecules": n, "peak_rss_anon_bytes": peak["anon"],
            "rss_anon_after_imports_bytes": baseline, "peak_after_setup_bytes": after_setup,
            "peak_rss_total_bytes_vmhwm": _status("VmHWM"), "store_files_bytes": files,
            "model_parameter_bytes": model, "setup_s": setup_s, "fit_s": fit_s,
            "steps": steps, "num_workers": num_workers}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dir", default="/tmp/molmtd-memory")
    ap.add_argument("--num-workers", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--measure", default=None, help=argparse.SUPPRESS)  # child process
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.steps, args.num_workers)))
        return
    root = Path(args.dir)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        t0 = time.perf_counter()
        directory = build_stores(root, n)
        built = time.perf_counter() - t0
        out = subprocess.run([sys.executable, __file__, "--measure", str(directory),
                              "--steps", str(args.steps), "--num-workers",
                              str(args.num_workers)], capture_output=True, text=True)
        if out.returncode:
            sys.exit(out.stderr[-3000:])
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["build_s"] = built
        rows.append(row)
        gib = 2 ** 30
        print(f"{n:>9,} molecules: peak RssAnon {row['peak_rss_anon_bytes'] / gib:.2f} GiB "
              f"(after imports {row['rss_anon_after_imports_bytes'] / gib:.2f}, after setup "
              f"{row['peak_after_setup_bytes'] / gib:.2f}), VmHWM "
              f"{row['peak_rss_total_bytes_vmhwm'] / gib:.2f} GiB, store files "
              f"{row['store_files_bytes'] / gib:.2f} GiB; setup {row['setup_s']:.0f} s, "
              f"{row['steps']} steps {row['fit_s']:.0f} s", flush=True)
    result = {"rows": rows, "load_average": os.getloadavg()[0]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
