"""`make bench`: every benchmark at a reduced size, one JSON and one markdown table.

Runs, each in its own process (so one's threads and worker pools do not disturb the
next): trainer.py (zinc ratio and the reference configuration; fp32, bf16 autocast and
torch.compile; a GPU run when CUDA is available), featurizer.py (an untrained 5x300
student and the released model, molmtd-base, beside molfeat ECFP), fingerprints.py,
memory.py (synthetic stores) and teachers.py. Writes ``benchmarks/results.json`` (all
figures, machine, versions, load averages) and ``benchmarks/results.md`` (the targets
table: measured value, target, met or not, and the command behind each figure).

Usage:
    .venv/bin/python benchmarks/run_all.py [--full] [--out benchmarks]

``--full`` uses the sizes of benchmarks/RESULTS.md instead of the reduced ones (about
10 minutes on an idle 2-core machine for the reduced set).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
GIB = 2 ** 30


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "torch_geometric", "lightning", "rdkit", "datamol", "molfeat",
                "molmtd"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    try:
        out["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                    capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return out


def run(name: str, args: list[str], tmp: Path, timeout: int) -> dict:
    """Run one benchmark script with ``--json``; its figures, command and wall time."""
    out = tmp / f"{name}.json"
    cmd = [sys.executable, str(HERE / args[0]), *args[1:], "--json", str(out)]
    shown = " ".join(["python", f"benchmarks/{args[0]}", *map(shlex.quote, args[1:])])
    print(f"[bench] {shown}", flush=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        error = None if proc.returncode == 0 else proc.stderr[-2000:]
        stdout = proc.stdout
    except subprocess.TimeoutExpired as err:
        error, stdout = f"timed out after {timeout} s", (err.stdout or b"").decode()
    result = {"command": shown, "wall_s": time.perf_counter() - start, "stdout": stdout}
    if out.is_file():
        result["figures"] = json.loads(out.read_text())
    if error:
        result["error"] = error
        print(f"[bench] {name} failed: {error.strip().splitlines()[-1]}", flush=True)
    else:
        print(stdout.strip(), flush=True)
    return result


def _get(results: dict, name: str, *path, default=None):
    node = results.get(name, {}).get("figures")
    for key in path:
        if node is None:
            return default
        node = node[key] if isinstance(key, int) else node.get(key)
    return node if node is not None else default


def targets(r: dict) -> list[dict]:
    """The issue's targets: (what, measured, goal, met, command)."""
    rows = []

    def add(what, value, goal, met, bench, fmt="{:.2f}"):
        shown = "not measured" if value is None else fmt.format(value)
        rows.append({"target": what, "measured": shown, "goal": goal,
                     "met": None if value is None else bool(met(value)),
                     "command": r.get(bench, {}).get("command", "")})

    add("distillation step / bare student step (zinc teachers' widths, GINE 5x300)",
        _get(r, "trainer_fp32", "zinc", "ratio"), "<= 1.05", lambda v: v <= 1.05,
        "trainer_fp32")
    add("training mol/s, reference configuration (GINE 10x512, batch 256, 2 threads)",
        _get(r, "trainer_reference", "reference", "ours_mol_s"), ">= 190 mol/s",
        lambda v: v >= 190, "trainer_reference", "{:,.0f}")
    add("same, molmtd / the reference GINEConv(edge_dim=512) layer, same run",
        _get(r, "trainer_reference", "reference", "speedup"), ">= 1.51 (190/126)",
        lambda v: v >= 190 / 126, "trainer_reference")
    add("data pipeline (memory-mapped graph + teacher rows, collated) / training step",
        (_get(r, "pipeline", "data_pipeline_mol_s") / _get(r, "trainer_fp32", "zinc",
                                                            "distill_mol_s"))
        if _get(r, "pipeline") and _get(r, "trainer_fp32") else None,
        "report (collation cost)", lambda v: True, "pipeline", "{:,.0f}x faster")
    rates = _get(r, "featurizer_5x300", "rates_mol_s", default={})
    add("MTDFeaturizer.transform, 5x300 student, n_jobs=-1 (2 cores)",
        rates.get("transform, all cores"), ">= 1,000 mol/s", lambda v: v >= 1000,
        "featurizer_5x300", "{:,.0f}")
    released = _get(r, "featurizer_released", "rates_mol_s", default={})
    ratio = (released["transform, all cores"] / released["ecfp"]
             if released.get("ecfp") else None)
    add("released model (molmtd-base) transform, all cores / molfeat ECFP, same run", ratio,
        ">= 0.25 (within 4x)", lambda v: v >= 0.25, "featurizer_released")
    ratio8 = (released["transform, int8"] / released["ecfp"]
              if released.get("ecfp") and released.get("transform, int8") else None)
    add("same, precision='int8' (opt-in; close to, not equal to, fp32)", ratio8,
        ">= 0.25 (within 4x)", lambda v: v >= 0.25, "featurizer_released")
    for row in _get(r, "fingerprints", "rows", default=[]):
        add(f"{row['teacher']} n_jobs=1 / plain RDKit loop", row["one_core_vs_loop"],
            ">= 0.8", lambda v: v >= 0.8, "fingerprints")
        n = _get(r, "fingerprints", "n", default=0)
        # teachers start worker processes from 10k molecules per call (_min_parallel)
        add(f"{row['teacher']} n_jobs=-1 / n_jobs=1, {n:,}-molecule calls",
            row["all_vs_one_core"] if n >= 10_000 else None, ">= 1.6 (calls of 10k)",
            lambda v: v >= 1.6, "fingerprints")
    mem = _get(r, "memory", "rows", default=[])
    if mem:
        peaks = [m["peak_rss_anon_bytes"] / GIB for m in mem]
        sizes = ", ".join(f"{m['molecules']:,}: {p:.2f}" for m, p in zip(mem, peaks, strict=True))
        rows.append({"target": "peak anonymous RSS of setup + training (GiB) by corpus size",
                     "measured": sizes, "goal": "flat; <= 4 GiB at 1M",
                     "met": max(peaks) <= 4 and max(peaks) - min(peaks) < 0.25,
                     "command": r["memory"]["command"]})
    teach = _get(r, "teachers", "rows", default=[])
    if teach:
        worst = min(teach, key=lambda t: t["ratio"])
        slowest = min((t for t in teach if t["mode"] == "all"), key=lambda t: t["molmtd"],
                      default=None)
        rows.append({"target": "teacher wrapper / its library call, worst case",
                     "measured": f"{worst['ratio']:.2f} ({worst['teacher']}, {worst['mode']})",
                     "goal": ">= 0.9", "met": worst["ratio"] >= 0.9,
                     "command": r["teachers"]["command"]})
        if slowest:
            rows.append({"target": "stage that bounds cache building (slowest teacher, all "
                                   "cores)", "measured": f"{slowest['teacher']} "
                                                         f"{slowest['molmtd']:.0f} mol/s",
                         "goal": "report", "met": None, "command": r["teachers"]["command"]})
    return rows


def markdown(doc: dict) -> str:
    m, v = doc["machine"], doc["versions"]
    lines = [f"# make bench ({doc['date']})", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}; GPU: "
             f"{m['gpu'] or 'none (GPU molecules/s not measured)'}.",
             "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
             f"Load average: {doc['load_average'][0]:.2f} at start, "
             f"{doc['load_average'][1]:.2f} at end (1-minute; the machine is shared).", "",
             "| target | measured | goal | met | command |", "|---|---|---|---|---|"]
    for t in doc["targets"]:
        met = {True: "yes", False: "**no**", None: "-"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {t['goal']} | {met} | "
                     f"`{t['command']}` |")
    extra = []
    for name in ("trainer_bf16", "trainer_compile", "trainer_gpu"):
        res = doc["results"].get(name)
        if res:
            zinc = res.get("figures", {}).get("zinc")
            shown = (f"distillation {zinc['distill_mol_s']:,.1f} mol/s, bare student "
                     f"{zinc['student_mol_s']:,.1f}, ratio {zinc['ratio']:.2f}" if zinc else
                     (res.get("error") or "no figures").strip().splitlines()[-1])
            extra.append(f"- `{res['command']}`: {shown}")
    if extra:
        lines += ["", "Precision, compilation and GPU:", "", *extra]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--only", default=None, help="comma-separated benchmark names")
    ap.add_argument("--merge", default=None,
                    help="comma-separated results.json files of partial runs (e.g. run side by "
                         "side): merge them into --out without running anything")
    args = ap.parse_args()
    if args.merge:
        docs = [json.loads(Path(f).read_text()) for f in args.merge.split(",")]
        doc = {**docs[0], "results": {k: v for d in docs for k, v in d["results"].items()},
               "load_average": [min(d["load_average"][0] for d in docs),
                                max(d["load_average"][1] for d in docs)]}
        doc["targets"] = targets(doc["results"])
        (Path(args.out) / "results.json").write_text(json.dumps(doc, indent=1, default=str))
        (Path(args.out) / "results.md").write_text(markdown(doc))
        print(markdown(doc))
        return
    import tempfile

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="molmtd-bench-"))
    full = args.full
    plan = {
        "trainer_fp32": ["trainer.py", "--case", "zinc", "--batches", "8" if full else "6"],
        "trainer_reference": ["trainer.py", "--case", "reference", "--batches",
                              "8" if full else "2", "--warmup", "2" if full else "1"],
        "trainer_bf16": ["trainer.py", "--case", "zinc", "--batches", "4", "--precision",
                         "bf16"],
        "trainer_compile": ["trainer.py", "--case", "zinc", "--batches", "4", "--warmup", "3",
                            "--compile"],
        "pipeline": ["distill_throughput.py", "--molecules", "5000" if full else "2000",
                     "--batches", "8", "--teachers", "ecfp-count:radius=2,size=2048,maccs"],
        # 4000: the smallest call for which n_jobs=-1 starts its workers
        "featurizer_5x300": ["featurizer.py", "--featurizer", "random:5x300", "--n",
                             "5000" if full else "4000", "--repeats", "3" if full else "2"],
        "featurizer_released": ["featurizer.py", "--featurizer", "molmtd-base", "--n",
                                "5000" if full else "4000", "--repeats", "3" if full else "2"],
        "fingerprints": ["fingerprints.py", "--n", "10000"],
        "memory": ["memory.py", "--sizes", "100000,300000,1000000" if full else
                   "20000,60000,200000", "--steps", "5" if full else "3",
                   "--dir", str(Path(tempfile.gettempdir()) / "molmtd-bench-memory")],
        # two blocks at least: with one, the wrapper is always timed first (0.83 at 500)
        "teachers": ["teachers.py", "--n", "2000" if full else "1000", "--teachers",
                     "ecfp,physchem,chemprop,minimol,chemnet"],
    }
    if torch.cuda.is_available():
        plan["trainer_gpu"] = ["trainer.py", "--device", "cuda", "--batches", "8"]
    if args.only:
        plan = {k: v for k, v in plan.items() if k in args.only.split(",")}
    load0 = os.getloadavg()[0]
    results = {name: run(name, cmd, tmp, timeout=900) for name, cmd in plan.items()}
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "versions": _versions(),
        "load_average": [load0, os.getloadavg()[0]],
        "results": results,
    }
    out = Path(args.out)
    previous = out / "results.json"
    if args.only and previous.is_file():  # a partial run updates the last full one
        results = {**json.loads(previous.read_text())["results"], **results}
        doc["results"] = results
    doc["targets"] = targets(results)
    (out / "results.json").write_text(json.dumps(doc, indent=1, default=str))
    (out / "results.md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
