r"""Release a finished run as a named featurizer: featurizers/<name>/ with a Hugging Face card.

Copies RUN/featurizer (model.safetensors, config.json) to featurizers/<name>/, renames it,
and writes its card.md in the Hugging Face model-card format (molmtd.card): YAML front
matter (license, tags, library_name, datasets, metrics and a ``model-index`` of the held-out
scores in the given evaluation reports), then the sections intended use, how to use,
training data and teachers, evaluation (one rank table per probe and split, the release
against the rest of the reports' field: experiments/ranks_by_split.py), limitations,
training compute and ablations. Each section is built from the featurizer's config and
the reports; a notes file adds text under a section of the same ``## `` heading (other
headings are appended at the end). A card over molmtd.card.MAX_CARD_CHARS is refused.

    .venv/bin/python experiments/release.py ~/.cache/molmtd/runs/pca/noproj-meansum-e12-pca512 \
        molmtd-base --readout embedding --report REPORTS/ridge --report REPORTS/ridge-large \
        --report REPORTS/mlp-knn --report REPORTS/mlp-large --exclude 'concat(,noproj' \
        --notes featurizers/molmtd-base/release-notes.md

RUN may also be a released folder itself (featurizers/molmtd-base): its card is rewritten
in place, its weights untouched. The folder then loads as ``MTDFeaturizer("<name>")`` from a
clone and, after the next build, from the wheel (setup.py copies every released folder).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
sys.path.insert(0, str(ROOT))

from ranks_by_split import _held_out_means, _rank_table  # noqa: E402

from molmtd.card import (  # noqa: E402
    HUB_METRICS,
    MAX_CARD_CHARS,
    front_matter,
    hub_metadata,
)

WEIGHTS = ("model.safetensors", "config.json")
FILES = (*WEIGHTS, "card.md")
PROBES = {"ridge": "ridge", "linear": "logistic/linear", "mlp": "MLP", "knn": "kNN",
          "rf": "random forest", "gbm": "gradient boosting"}
METRIC_NAMES = {"auroc": "AUROC", "r2": "R2"}
HUB_TASKS = {"classification": "tabular-classification", "regression": "tabular-regression"}
# the card's sections, in order; a notes file adds to them by heading
SECTIONS = ("Intended use", "How to use", "Training data and teachers", "Evaluation",
            "Limitations", "Training compute", "Ablations")
EXPERIMENTS = "docs/EXPERIMENTS.md"


def parse_notes(text: str) -> dict[str, str]:
    """``## Heading`` -> its markdown; text before the first heading is refused.

    Raises:
        SystemExit: the notes have text outside a ``## `` section.
    """
    parts = re.split(r"^## +(.+?) *$", text, flags=re.M)
    if parts[0].strip():
        raise SystemExit("release notes: every paragraph must sit under a '## Section' heading "
                         f"({', '.join(SECTIONS)} or a new one); found text before the first")
    return {h.strip(): body.strip() for h, body in zip(parts[1::2], parts[2::2], strict=True)}


def _repo_link(path: str) -> str:
    # a card lives at featurizers/<name>/card.md: the link resolves when the repository is
    # browsed (the docs site renders such links as the path: docs/scripts/gen_pages.py)
    return f"[{path}](../../{path})"


def _short(featurizer: str) -> str:
    # "molmtd:molmtd-base" -> "molmtd-base"; "chemprop:checkpoint=..." -> "chemprop"
    if featurizer.startswith("molmtd:"):
        return featurizer.split(":", 1)[1].split("@", 1)[0]
    return featurizer.split(":", 1)[0]


def _ordered_columns(columns: list[str]) -> list[str]:
    order = {p: i for i, p in enumerate(PROBES)}
    return sorted(columns, key=lambda c: (order.get(c.split(" ")[0], 99), c))


def held_out_scores(reports: list[Path], label: str, exclude: tuple[str, ...] = ()
                    ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Mean primary score per (task, split, probe, featurizer) of ``label`` and its field.

    Returns the scores and task -> task type ("classification" / "regression").

    Raises:
        SystemExit: ``label`` is not among the reports' featurizers.
    """
    mean = _held_out_means(list(reports))
    names = set(mean["featurizer"])
    if label not in names:
        raise SystemExit(f"{label!r} is not in the reports; featurizers: {sorted(names)} "
                         "(pass --label)")
    dropped = mean["featurizer"].map(lambda f: f != label and any(x in f for x in exclude))
    types = pd.concat([pd.read_csv(r / "results.csv", usecols=["dataset", "task_type"])
                       for r in reports]).drop_duplicates().set_index("dataset")["task_type"]
    return mean[~dropped], types.to_dict()


def rank_table(scores: pd.DataFrame, label: str) -> str:
    """Markdown: one row per featurizer, its average rank per probe and split, best first."""
    table = _rank_table(scores).drop(columns="mean")
    table = table[_ordered_columns(list(table.columns))]
    table = table.loc[table.mean(axis=1).sort_values().index]
    shown = [" ".join([PROBES.get(c.split(" ")[0], c.split(" ")[0]), *c.split(" ")[1:]])
             for c in table.columns]
    header = "| featurizer | " + " | ".join(shown) + " |"
    lines = [header, "|---" * (len(table.columns) + 1) + "|"]
    for featurizer, row in table.iterrows():
        name = _short(featurizer) + (" (this model)" if featurizer == label else "")
        cells = [f"**{v:.2f}**" if v == table[c].min() else f"{v:.2f}" for c, v in row.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def leaders(scores: pd.DataFrame, label: str) -> list[str]:
    """One phrase per probe and split where another featurizer ranks ahead of ``label``."""
    table = _rank_table(scores).drop(columns="mean")
    out = []
    for column in _ordered_columns(list(table.columns)):
        best = table[column].idxmin()
        if table.loc[best, column] < table.loc[label, column]:
            shown = " ".join([PROBES.get(column.split(" ")[0], column.split(" ")[0]),
                              *column.split(" ")[1:]])
            out.append(f"{shown} ({_short(best)} {table.loc[best, column]:.2f} vs "
                       f"{table.loc[label, column]:.2f})")
    return out


def model_index(name: str, scores: pd.DataFrame, types: dict[str, str], label: str,
                probes: tuple[str, ...] | None = None) -> tuple[list[dict], list[str]]:
    """The Hub's ``model-index``: one result per task and split, one metric per probe.

    Args:
        name: the model's name in the index.
        scores: :func:`held_out_scores`' scores.
        types: task -> "classification" or "regression".
        label: the release's featurizer name in ``scores``.
        probes: the probes whose scores it holds (None: all); one keeps the card short.

    Returns the model-index and the Hub metric ids it uses.
    """
    mine = scores[scores["featurizer"] == label]
    if probes:
        mine = mine[mine["model"].isin(probes)]
    results, used = [], []
    for (task, split), rows in mine.groupby(["dataset", "split"], sort=True):
        metric = {"classification": "auroc", "regression": "r2"}[types[task]]
        hub_metric = HUB_METRICS[metric]
        used.append(hub_metric)
        metrics = [{"type": hub_metric, "value": round(float(r.value), 4),
                    "name": f"{METRIC_NAMES[metric]}, {PROBES.get(r.model, r.model)}"}
                   for r in rows.sort_values("model").itertuples()]
        results.append({"task": {"type": HUB_TASKS[types[task]]},
                        "dataset": {"name": task, "type": task, "split": split},
                        "metrics": metrics})
    return [{"name": name, "results": results}], sorted(set(used))


def _masking_teachers(specs: list[str]) -> dict[str, int]:
    """Teacher name -> the heavy-atom count above which it masks molecules (none: absent)."""
    from molmtd.teachers import get_teacher

    out = {}
    for spec in specs:
        try:  # constructors store arguments only: nothing is loaded
            limit = getattr(get_teacher(spec), "_max_heavy_atoms", None)
        except Exception:  # an unavailable back-end: it cannot be asked, say nothing
            limit = None
        if limit is not None:
            out[spec.split(":", 1)[0]] = int(limit)
    return out


def corpus_profile(source: str, molecules: int = 20_000, seed: int = 0) -> dict | None:
    """Heavy atoms, weight, elements and charges of a seeded sample of a bundled corpus.

    None for a corpus that is a file path (it may not exist where the release is made).
    """
    import gzip
    import random

    import numpy as np
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    from molmtd.corpus import bundled_corpora, bundled_corpus_path

    if source not in bundled_corpora():
        return None
    with gzip.open(bundled_corpus_path(source), "rt") as fh:
        rows = [line.split(",", 1)[0].strip() for line in fh][1:]
    sample = random.Random(seed).sample(rows, min(molecules, len(rows)))
    heavy, weight, elements, charged = [], [], set(), 0
    for smiles in sample:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            continue
        heavy.append(mol.GetNumHeavyAtoms())
        weight.append(Descriptors.MolWt(mol))
        elements.update(a.GetSymbol() for a in mol.GetAtoms())
        charged += any(a.GetFormalCharge() for a in mol.GetAtoms())
    heavy_a = np.asarray(heavy)
    return {"n": len(heavy), "rows": len(rows), "heavy": (int(heavy_a.min()), int(heavy_a.max())),
            "heavy_5_95": tuple(int(v) for v in np.percentile(heavy_a, [5, 95])),
            "weight": (round(min(weight)), round(max(weight))),
            "elements": sorted(elements), "charged": charged}


def build_card(name: str, config: dict, layers_dim: int | None, reports: list[Path],
               notes: dict[str, str], label: str, exclude: tuple[str, ...] = (),
               profile: dict | None = None, index_probes: tuple[str, ...] | None = ("mlp",)
               ) -> str:
    """The release's card (front matter and markdown) from its config, reports and notes.

    ``index_probes``: the probes whose per-task scores go in the ``model-index`` (the
    rank table covers every probe in the reports).
    """
    teachers = list(config.get("teachers", []))
    corpus = config.get("corpus", {})
    source = str(corpus.get("source", ""))
    st = config.get("student", {})
    dim = config.get("embedding_dim") or st.get("out_dim") or st.get("hidden_dim")
    readout = config.get("readout", "embedding")
    used = corpus.get("n_train", 0) + corpus.get("n_val", 0)

    scores = types = None
    index, metrics = None, None
    if reports:
        scores, types = held_out_scores(reports, label, exclude)
        present = tuple(p for p in index_probes or () if p in set(scores["model"]))
        index, metrics = model_index(name, scores, types, label, present or None)
    meta = hub_metadata(source, model_index=index, metrics=metrics)

    teacher_names = ", ".join(s.split(":", 1)[0] for s in teachers) or "no teachers"
    sections: dict[str, list[str]] = {}
    sections["Intended use"] = [
        f"Fixed {dim}-d features of small organic molecules for property prediction with a "
        "small model fitted on them (linear, MLP, kNN, trees), similarity search and "
        "chemical-space maps. It predicts no property itself."]
    how = [
        "```python",
        "from molmtd import MTDFeaturizer  # a clone's `make env`, or its built wheel",
        f'X = MTDFeaturizer("{name}", on_error="nan").transform(["CCO", "c1ccccc1O"])',
        "```", "",
        f"A scikit-learn transformer; command line: `molmtd embed in.smi -o out.npy "
        f"--featurizer {name}` (a row per input, NaN where a molecule fails, with the reason). "
        f"Default readout: `{readout}` ({dim}-d)"]
    if layers_dim:
        how[-1] += f"; `readout=\"layers\"` gives every layer's pooled states ({layers_dim}-d)"
    how[-1] += "."
    comp = config.get("compression")
    if comp:
        how[-1] += (f" The embedding is the top {comp.get('dim')} principal components of "
                    f"the z-scored pooled readout, fitted on {comp.get('n_molecules', 0):,} "
                    "corpus molecules (molmtd.compression).")
    sections["How to use"] = how

    data = []
    if corpus:
        data.append(f"The first {used:,} molecules ({corpus.get('n_train', 0):,} train, "
                    f"{corpus.get('n_val', 0):,} validation) of a seeded "
                    f"{corpus.get('n_molecules', used):,}-molecule sample of `{source}`."
                    if used < corpus.get("n_molecules", used) else
                    f"{used:,} molecules of the `{source}` corpus "
                    f"({corpus.get('n_train', 0):,} train, {corpus.get('n_val', 0):,} "
                    "validation).")
    if st:
        data += [""] if data else []
        data.append(f"Student: {st.get('num_layers')}-layer {str(st.get('conv')).upper()}, "
                    f"width {st.get('hidden_dim')}, {st.get('pooling')} pooling; objective "
                    f"`{config.get('objective', '-')}` (a density head per teacher).")
    val = config.get("validation", {})
    if teachers:
        data += ["", "| teacher | spec | validation NLL per dimension |", "|---|---|---|"]
        for label_, spec in config.get("teacher_labels", {}).items():
            loss = val.get(label_, {}).get("loss")
            data.append(f"| {label_} | `{spec}` | {'-' if loss is None else f'{loss:.3f}'} |")
    sections["Training data and teachers"] = data or [f"Teachers: {teacher_names}."]

    if scores is not None:
        n_tasks = scores.groupby("model")["dataset"].nunique()
        tasks = ", ".join(sorted(scores["dataset"].unique()))
        probes = ", ".join(f"{PROBES.get(p, p)} {n}" for p, n in n_tasks.items())
        sections["Evaluation"] = [
            f"Held-out tasks (no teacher was trained on their labels): {tasks}; tasks per "
            f"probe: {probes}. Random and scaffold splits; AUROC or R2 averaged over "
            "evaluation seeds, ranked per task. Average rank (lower is better; bold: first):",
            "",
            rank_table(scores, label), "",
            "Per-task scores: the `model-index` above and the reports in "
            f"{_repo_link('experiments/results/')}; the table: "
            "`experiments/ranks_by_split.py`."]
    else:
        sections["Evaluation"] = ["Not evaluated at release: no report was given."]

    limits = []
    if scores is not None:
        ahead = leaders(scores, label)
        if ahead:
            limits.append("- Ranked behind on " + "; ".join(ahead) + ".")
    if profile:
        elements = ", ".join(profile["elements"])
        limits.append(
            f"- Corpus: `{source}` ({profile['n']:,} of its {profile['rows']:,} rows sampled) "
            f"holds only {elements}; {'no' if not profile['charged'] else profile['charged']} "
            f"charged molecules; {profile['weight'][0]}-{profile['weight'][1]} Da; "
            f"{profile['heavy'][0]}-{profile['heavy'][1]} heavy atoms (5-95%: "
            f"{profile['heavy_5_95'][0]}-{profile['heavy_5_95'][1]}). Metals, charged "
            "species, other elements and other sizes are outside what it saw.")
    cap = config.get("standardize", {}).get("max_heavy_atoms")
    masking = _masking_teachers(teachers)
    grows = (" and its sum-pooled features grow with size"
             if "sum" in str(st.get("pooling", "")) else "")
    size = (f"- Size: molecules above {cap} heavy atoms are refused at input. "
            if cap else
            "- Size: any size is embedded (no heavy-atom cap), but molecules above 100 heavy "
            "atoms (peptides, macrocycles, polymers) lie far outside the corpus"
            f"{grows}: treat them as extrapolation. ")
    if masking:
        size += ("Teachers that mask molecules above a size: " + ", ".join(
            f"{t} (above {n} heavy atoms)" for t, n in masking.items()) + ".")
    limits.append(size.rstrip())
    sections["Limitations"] = limits

    compute = []
    if config.get("global_step"):
        precision = config.get("precision") or config.get("recipe", {}).get(
            "trainer", {}).get("precision", "-")
        took = (f"{config['fit_seconds'] / 60:.0f} min of training, "
                if config.get("fit_seconds") else "")
        compute.append(f"{config['global_step']:,} optimisation steps, {took}"
                       f"precision {precision}.")
    sections["Training compute"] = compute or ["Not recorded in the featurizer's config."]
    sections["Ablations"] = [f"Each design choice's ablation and its commands: "
                             f"{_repo_link(EXPERIMENTS)}."]

    for heading, body in notes.items():
        sections.setdefault(heading, []).extend(["", body] if sections.get(heading) else [body])
    summary = (f"A molecular featurizer distilled by molmtd from {len(teachers)} teachers "
               f"({teacher_names}) into one graph neural network: SMILES in, a {dim}-d "
               "vector out.")
    parts = [front_matter(meta), f"# {name}", "", summary, ""]
    for heading, body in sections.items():
        parts += [f"## {heading}", "", "\n".join(body).strip(), ""]
    return "\n".join(parts)


def release(run: Path, name: str, reports: list[Path], notes: Path | None,
            target_root: Path = ROOT / "featurizers", readout: str | None = None,
            label: str | None = None, exclude: tuple[str, ...] = (),
            profile_molecules: int = 20_000) -> Path:
    """Copy the run's featurizer to ``target_root/name`` and write its card.

    Raises:
        SystemExit: the run is unfinished, a report lacks the release, or the card is over
            molmtd.card.MAX_CARD_CHARS.
    """
    from molmtd.artifact import load_artifact

    source = run / "featurizer" if (run / "featurizer").is_dir() else run
    missing = [f for f in WEIGHTS if not (source / f).is_file()]
    if missing:
        raise SystemExit(f"{source}: not a finished run (missing {', '.join(missing)})")
    target = target_root / name
    target.mkdir(parents=True, exist_ok=True)
    if source.resolve() != target.resolve():  # a released folder itself: card only
        for f in WEIGHTS:
            shutil.copy2(source / f, target / f)
    config = json.loads((target / "config.json").read_text())
    before = dict(config)
    config["name"] = name  # the name it loads by, whatever the run was called
    if readout is not None:  # what readout="auto" (the default) gives users of this release
        config["readout"] = readout
    if config != before:  # a card-only rewrite leaves the file byte for byte
        (target / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    student = load_artifact(target).student
    layers_dim = getattr(student, "layers_dim", None)
    profile = (corpus_profile(str(config["corpus"].get("source", "")), profile_molecules)
               if "corpus" in config and profile_molecules else None)
    card = build_card(name, config, layers_dim, reports,
                      parse_notes(notes.read_text()) if notes is not None else {},
                      label or f"molmtd:{name}", exclude, profile)
    if len(card) > MAX_CARD_CHARS:
        raise SystemExit(f"the card is {len(card):,} characters, over {MAX_CARD_CHARS:,}: "
                         "shorten the notes (details belong in docs/EXPERIMENTS.md)")
    (target / "card.md").write_text(card)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path,
                        help="run directory (RUN/featurizer) or a released folder")
    parser.add_argument("name", help="released name, e.g. molmtd-base")
    parser.add_argument("--report", type=Path, action="append", default=[],
                        help="evaluation report directory (results.csv, report.md); several "
                             "are pooled (disjoint tasks per probe)")
    parser.add_argument("--label", default=None,
                        help="the release's featurizer name in the reports (default molmtd:NAME)")
    parser.add_argument("--exclude", default="",
                        help="comma-separated substrings: featurizers left out of the rank table")
    parser.add_argument("--notes", type=Path, default=None,
                        help="markdown whose '## Section' text joins the card's section")
    parser.add_argument("--readout", choices=("embedding", "layers"), default=None,
                        help="the readout users get by default (config.json's 'readout')")
    args = parser.parse_args()
    exclude = tuple(x for x in args.exclude.split(",") if x)
    print(release(args.run, args.name, args.report, args.notes, readout=args.readout,
                  label=args.label, exclude=exclude))


if __name__ == "__main__":
    main()
