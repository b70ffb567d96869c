"""Benchmark a distilled featurizer against its teachers, their concatenation and ECFP.

Every featurizer is scored on the same molecules with the same splits and model seeds:
bundled labelled tasks (:mod:`molmtd.downstream.datasets`) -> standardise and deduplicate
-> embed with every featurizer -> drop molecules any featurizer could not embed (for all
of them) -> per split kind and seed, fit a fresh model per featurizer -> per-task metrics,
average ranks, clustering quality, ``report.md``. This is what ``molmtd evaluate`` runs.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from molmtd.errors import MolmtdError
from molmtd.teachers.base import Teacher

__all__ = ["EvaluationError", "evaluate_featurizers"]

log = logging.getLogger(__name__)

ECFP_SPEC = "ecfp"


class EvaluationError(MolmtdError, ValueError):
    """An evaluation argument is invalid (dataset, split, model, seeds)."""


@dataclass
class _Source:
    label: str
    kind: str  # "distilled", "teacher" or "baseline"
    teacher: Teacher  # distilled featurizers too (DistilledTeacher): spec + version key the cache


def _sources(featurizer, against: Sequence, include_ecfp: bool,
             readouts: Sequence[str] = ("embedding",)) -> list[_Source]:
    from molmtd.teachers.base import get_teacher, parse_spec
    from molmtd.teachers.distilled import DistilledTeacher

    sources: list[_Source] = []
    if featurizer is None:
        featurizers = []
    elif isinstance(featurizer, (str, Path)):
        featurizers = [featurizer]
    else:
        featurizers = list(featurizer)
    for entry in featurizers:
        from molmtd.artifact import READOUTS, load_artifact

        # an entry is a path/name, or a (path/name, readouts) pair with its own readouts
        path_or_name, own = entry if isinstance(entry, tuple) else (entry, readouts)
        bad = [r for r in own if r not in READOUTS]
        if bad or not own:
            raise EvaluationError(f"unknown readout(s) {bad} for {path_or_name}; expected "
                                  f"some of {', '.join(READOUTS)}")
        loaded = load_artifact(path_or_name)
        for readout in own:
            artifact = copy.copy(loaded)  # shares the student: the weights are read once
            artifact.readout = readout
            label = f"molmtd:{artifact.name}" + ("" if readout == "embedding" else f"[{readout}]")
            if label in {s.label for s in sources}:
                raise EvaluationError(f"two distilled featurizers are both named "
                                      f"{artifact.name!r} ({path_or_name}); give them distinct "
                                      "recipe names")
            teacher = DistilledTeacher(featurizer=str(artifact.directory), readout=readout)
            teacher._loaded = artifact  # already loaded: don't read the weights twice
            sources.append(_Source(label, "distilled", teacher))
    names = set()
    for spec in against:
        teacher = get_teacher(spec)
        label = spec.strip() if isinstance(spec, str) else teacher.spec
        if label in {s.label for s in sources}:
            continue
        ok, why = teacher.available()
        if not ok:
            from molmtd.errors import TeacherUnavailableError

            raise TeacherUnavailableError(f"teacher {label!r} cannot run here: {why}")
        names.add(teacher.name)
        sources.append(_Source(label, "teacher", teacher))
    if include_ecfp and parse_spec(ECFP_SPEC)[0] not in names:
        sources.append(_Source(ECFP_SPEC, "baseline", get_teacher(ECFP_SPEC)))
    if not sources:
        raise EvaluationError("nothing to compare: give --featurizer and/or --against specs")
    return sources


def _check_args(datasets, splits, seeds, models, allow_dev_tasks: bool) -> list[str]:
    from molmtd.downstream.datasets import DEFAULT_DATASETS, dataset_names, dev_tasks
    from molmtd.downstream.models import MODELS
    from molmtd.downstream.splits import SPLITS

    datasets = list(DEFAULT_DATASETS if datasets is None else datasets)
    unknown = [d for d in datasets if d not in dataset_names()]
    if unknown or not datasets:
        raise EvaluationError(f"unknown dataset(s) {unknown}; known: {', '.join(dataset_names())}")
    dev = [d for d in datasets if d in dev_tasks()]
    if dev and not allow_dev_tasks:
        raise EvaluationError(
            f"dataset(s) {dev} are development tasks, used to select models (see "
            f"molmtd.downstream.datasets.dev_tasks(): {', '.join(dev_tasks())}); a score on "
            "them is not a held-out result. Leave them out of a report, or pass "
            "allow_dev_tasks=True (molmtd evaluate --allow-dev-tasks) to score them anyway")
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise EvaluationError(f"unknown split(s) {bad}; expected some of {', '.join(SPLITS)}")
    if not seeds:
        raise EvaluationError("give at least one seed")
    bad = [m for m in models if m not in MODELS]
    if bad or not models:
        raise EvaluationError(f"unknown model(s) {bad}; expected some of {', '.join(MODELS)}")
    return datasets


def _prepare_dataset(name: str, max_molecules: int | None):
    """Load, standardise (keys) and deduplicate; returns keys, labels and a row of counts."""
    from molmtd.downstream.datasets import load_dataset
    from molmtd.molecules import standardize_many

    raw, y, task_type = load_dataset(name, max_molecules=max_molecules, seed=0)
    keys, reasons = standardize_many(raw)
    seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k is not None and k not in seen:
            seen[k] = i
    idx = np.asarray(sorted(seen.values()), dtype=np.int64)
    counts = {"dataset": name, "task": task_type, "loaded": len(raw), "invalid": len(reasons),
              "duplicates": len(raw) - len(reasons) - len(idx)}
    return [keys[i] for i in idx], y[idx], task_type, counts


def _embed(teacher: Teacher, keys: list[str],
           cache_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and ok mask of ``keys``; through an EmbeddingStore when caching.

    The store is keyed by the teacher's spec and version and by the exact key list, so a
    cached entry is reused only for the same featurizer (distilled ones: same weights) on
    the same molecules; re-scoring with another model, split or seed embeds nothing.
    """
    if cache_dir is None:
        out = teacher.embed(keys)
        return out.embeddings, out.ok
    from molmtd.datamodule import CacheLayout
    from molmtd.store import EmbeddingStore, keys_sha256

    directory = CacheLayout(cache_dir / "evaluate").teacher_dir(
        teacher.spec, teacher.version, keys_sha256(keys))
    store = EmbeddingStore.build(teacher, keys, directory, progress=False)
    return store.rows(np.arange(len(keys)))


def _embed_all(sources: list[_Source], keys: list[str], include_concat: bool,
               cache_dir: Path | None = None):
    embs: dict[str, np.ndarray] = {}
    failed: dict[str, int] = {}
    seconds: dict[str, float] = {}
    for src in sources:
        t0 = time.perf_counter()
        values, ok = _embed(src.teacher, keys, cache_dir)
        seconds[src.label] = time.perf_counter() - t0
        ok = ok & np.isfinite(values).all(axis=1)
        failed[src.label] = int((~ok).sum())
        emb = values.astype(np.float32, copy=True)
        emb[~ok] = np.nan
        embs[src.label] = emb
        log.info("embedded %d molecules with %s in %.1fs (%d failed)", len(keys), src.label,
                 seconds[src.label], failed[src.label])
    teachers = [s.label for s in sources if s.kind == "teacher"]
    if include_concat and len(teachers) >= 2:
        embs[_concat_label(teachers)] = np.hstack([embs[t] for t in teachers])
    return embs, failed, seconds


def _label_leaks(sources: list[_Source], datasets: list[str]) -> dict[str, list[str]]:
    """Featurizer label -> the benchmark datasets whose labels it (or a teacher) learnt from."""
    from molmtd.downstream.datasets import dataset_info

    leaks = {}
    for src in sources:
        tasks = src.teacher.trained_on()
        seen = [d for d in datasets if tasks & set(dataset_info(d).label_tasks)]
        if seen:
            leaks[src.label] = seen
    teachers = [s.label for s in sources if s.kind == "teacher"]
    parts = [d for d in datasets if any(d in leaks.get(t, ()) for t in teachers)]
    if parts:  # the concatenation carries every part's labels
        leaks[_concat_label(teachers)] = parts
    return leaks


def _concat_label(teachers: list[str]) -> str:
    return f"concat({'+'.join(teachers)})"


def _leakage_section(leaks: dict[str, list[str]], labels: set[str]) -> tuple[str, str] | None:
    """The report's label-leakage section: which featurizer learnt which task's labels."""
    leaks = {label: ds for label, ds in leaks.items() if label in labels}
    if not leaks:
        return None
    lines = ["These featurizers were trained (or distilled from a teacher trained) on the "
             "labels of these benchmark tasks, so their scores there are not held out:", ""]
    lines += [f"- `{label}`: {', '.join(ds)}" for label, ds in leaks.items()]
    return ("Label leakage", "\n".join(lines))


def _headline(results, leaks: dict[str, list[str]], datasets: list[str],
              out_dir: Path) -> tuple[str, str]:
    """The headline: average rank on the tasks whose labels no compared featurizer learnt.

    Writes ``average_ranks_held_out.csv`` when some tasks are not held out.
    """
    from molmtd.downstream.ranks import average_ranks
    from molmtd.downstream.report import markdown_table

    labels = set(results["featurizer"])
    leaked = {d for label, ds in leaks.items() if label in labels for d in ds}
    held_out = [d for d in datasets if d not in leaked]
    if not held_out:
        return ("Held-out ranking", "No task is held out for every featurizer (see *Label "
                "leakage*); only the all-task ranking below exists.")
    part = results[results["dataset"].isin(held_out)]
    summary = average_ranks(part)
    lines = []
    if leaked:
        out_dir.mkdir(parents=True, exist_ok=True)
        summary.to_csv(out_dir / "average_ranks_held_out.csv", index=False)
        lines += [f"Average rank on the held-out tasks only ({', '.join(held_out)}): no "
                  "compared featurizer, nor any teacher behind it, was trained on their labels "
                  f"(left out: {', '.join(d for d in datasets if d in leaked)}; see *Label "
                  "leakage*).", ""]
    else:
        lines += ["No compared featurizer (nor any teacher behind it) declares training on "
                  "the labels of these tasks, so every task is held out.", ""]
    lines.append(markdown_table(summary))
    if "model" in part.columns and part["model"].nunique() > 1:
        per_model = {m: average_ranks(part[part["model"] == m]).set_index("featurizer")
                     ["average_rank"] for m in dict.fromkeys(part["model"])}
        import pandas as pd

        table = pd.DataFrame(per_model).reindex(summary["featurizer"])
        table.index.name = "featurizer"
        lines += ["", "Average rank on the same tasks, per probe:", "",
                  markdown_table(table, index=True)]
    return ("Held-out ranking (headline)", "\n".join(lines))


def _clustering_rows(name: str, keys: list[str], embs: dict[str, np.ndarray],
                     max_molecules: int) -> list[dict]:
    from sklearn.preprocessing import StandardScaler

    from molmtd.downstream.clustering import (
        butina_clusters,
        cluster_embeddings,
        clustering_scores,
        ecfp_fingerprints,
        scaffold_families,
        tanimoto_distance_matrix,
    )

    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(len(keys))[:max_molecules])
    sub = [keys[i] for i in idx]
    families = scaffold_families(sub)
    k = int(min(np.unique(families).size, max(2, len(sub) // 10)))
    rows = []
    for label, X in embs.items():
        Z = StandardScaler().fit_transform(X[idx].astype(np.float64))
        labels = cluster_embeddings(Z, "kmeans", n_clusters=k, seed=0)
        rows.append({"dataset": name, "method": f"k-means (k={k})", "featurizer": label,
                     **clustering_scores(labels, Z, families)})
    labels = butina_clusters(sub)
    D = tanimoto_distance_matrix(ecfp_fingerprints(sub))
    rows.append({"dataset": name, "method": "Butina (Tanimoto 0.6)", "featurizer": "ecfp bits",
                 **clustering_scores(labels, D, families, metric="precomputed")})
    for r in rows:
        r["n_clusters"] = int(r["n_clusters"])
        r.pop("noise_fraction")
    return rows


def evaluate_featurizers(featurizer: str | Path | Sequence[str | Path] | None,
                         against: Sequence[str | Teacher], *,
                         datasets: Sequence[str] | None = None,
                         splits: Sequence[str] = ("random", "scaffold"),
                         seeds: Sequence[int] = (0, 1, 2),
                         model: str | Sequence[str] = "linear",
                         max_molecules: int | None = None,
                         out_dir: str | Path = "runs/evaluate", test_size: float = 0.2,
                         include_ecfp: bool = True, include_concat: bool = True,
                         clustering: bool = True, clustering_max_molecules: int = 1000,
                         cache_dir: str | Path | None = None,
                         readouts: Sequence[str] = ("embedding",),
                         allow_dev_tasks: bool = False,
                         same_molecules_as: Sequence[str | Teacher] = ()) -> Path:
    """Compare a distilled featurizer with teachers, their concatenation and ECFP.

    Args:
        featurizer: distilled featurizer path or released name, or a list of them (each
            is labelled ``molmtd:<recipe name>``); a list entry may be a ``(path or name,
            readouts)`` pair, scored with its own readouts instead of ``readouts`` (e.g. a
            compressed featurizer, whose layer readout is its source's); None: teachers only.
        against: teacher specs (e.g. "ecfp:radius=2", "maccs", "physchem") or Teachers.
        datasets: task names (default :data:`~molmtd.downstream.datasets.DEFAULT_DATASETS`,
            the report tasks under 5000 molecules). Development tasks
            (:func:`~molmtd.downstream.datasets.dev_tasks`) are refused unless
            ``allow_dev_tasks``.
        splits: "random" (stratified for classification) and/or "scaffold".
        seeds: one split and one model seed per value.
        model: one model name or several ("linear", "mlp", "knn", "rf", "gbm"; see
            :mod:`molmtd.downstream.models`); with several, featurizers are ranked within
            each model and the ranks averaged over all (dataset, split, model) tasks.
        max_molecules: cap per dataset (seeded stratified subsample), for quick runs.
        out_dir: where ``report.md``, ``results.csv``, ``average_ranks.csv``,
            ``clustering.csv`` and ``ranks.png`` go.
        test_size: share of molecules in each test set.
        include_ecfp: add the ECFP baseline (unless an "ecfp" teacher is already given).
        include_concat: add the concatenation of the teachers (when there are >= 2).
        clustering: add the clustering-quality section.
        clustering_max_molecules: molecules per dataset for clustering (seeded sample).
        cache_dir: keep every featurizer's embeddings of every dataset under
            ``<cache_dir>/evaluate`` (an :class:`~molmtd.store.EmbeddingStore` each, keyed by
            spec, version and molecules) and reuse them on the next run; None: no cache.
        readouts: the readouts of each distilled featurizer to score, "embedding" and/or
            "layers" (labelled ``molmtd:<name>[layers]``; see :class:`~molmtd.artifact.Artifact`).
        allow_dev_tasks: score development tasks too (the report says so).
        same_molecules_as: teacher specs or Teachers embedded only to drop the molecules
            they fail on, not scored: an earlier report that scored them then has the same
            molecules and splits, so featurizers scored later can join it (e.g. one new
            student, without fitting every teacher's probe again).

    Returns:
        path of ``report.md``.

    Raises:
        EvaluationError: unknown dataset, split or model, a development task without
            ``allow_dev_tasks``, no seeds, nothing to compare, or a dataset too small for
            the requested split.
        FileNotFoundError: the featurizer does not exist.
        TeacherSpecError, TeacherUnavailableError: a bad or unavailable teacher spec.
    """
    import pandas as pd

    from molmtd import __version__
    from molmtd.downstream.models import Z_CLIP
    from molmtd.downstream.property import fit_and_score
    from molmtd.downstream.report import write_report
    from molmtd.downstream.splits import make_split

    models = [model] if isinstance(model, str) else list(model)
    models = list(dict.fromkeys(m.strip() for part in models for m in part.split(",")))
    datasets = _check_args(datasets, splits, seeds, models, allow_dev_tasks)
    from molmtd.artifact import READOUTS

    bad = [r for r in readouts if r not in READOUTS]
    if bad or not readouts:
        raise EvaluationError(f"unknown readout(s) {bad}; expected some of {', '.join(READOUTS)}")
    sources = _sources(featurizer, against, include_ecfp, readouts)
    maskers = [_sources(None, [t], False, readouts)[0] for t in same_molecules_as]
    out_dir = Path(out_dir)
    rows, table, cluster_rows, dropped_notes = [], [], [], []
    for name in datasets:
        keys, y, task_type, counts = _prepare_dataset(name, max_molecules)
        embs, failed, seconds = _embed_all(sources, keys, include_concat,
                                           Path(cache_dir) if cache_dir is not None else None)
        embedded = [np.isfinite(e).all(axis=1) for e in embs.values()]
        for masker in maskers:  # embedded for their failures only (cached: cheap)
            values, ok = _embed(masker.teacher, keys,
                                Path(cache_dir) if cache_dir is not None else None)
            embedded.append(ok & np.isfinite(values).all(axis=1))
            failed[masker.label] = int((~embedded[-1]).sum())
        keep = np.flatnonzero(np.all(embedded, axis=0))
        counts["not embedded"] = len(keys) - len(keep)
        counts["used"] = len(keep)
        table.append(counts)
        if counts["not embedded"]:
            per = ", ".join(f"{k}: {v}" for k, v in failed.items() if v)
            dropped_notes.append(f"{name}: {counts['not embedded']} dropped ({per})")
        keys = [keys[i] for i in keep]
        y = y[keep]
        embs = {k: v[keep] for k, v in embs.items()}
        stratify = y if task_type == "classification" else None
        for kind in splits:
            for seed in seeds:
                try:
                    train, test = make_split(kind, keys, test_size, seed, stratify)
                except ValueError as err:
                    raise EvaluationError(f"dataset {name!r}, {kind} split: {err}") from err
                for model_name in models:
                    for label, X in embs.items():
                        scores = fit_and_score(X[train], y[train], X[test], y[test],
                                               task_type, model_name, seed)
                        rows += [{"dataset": name, "task_type": task_type, "split": kind,
                                  "seed": seed, "model": model_name, "featurizer": label,
                                  "metric": m, "value": v, "n_train": len(train),
                                  "n_test": len(test)}
                                 for m, v in scores.items()]
                log.info("%s / %s / seed %d done", name, kind, seed)
        if clustering:
            cluster_rows += _clustering_rows(name, keys, embs, clustering_max_molecules)

    results = pd.DataFrame(rows)
    clusters = pd.DataFrame(cluster_rows)
    leaks = _label_leaks(sources, datasets)
    headline = _headline(results, leaks, datasets, out_dir)
    leak_section = _leakage_section(leaks, set(results["featurizer"]))
    sections = [leak_section] if leak_section else []
    if clustering:
        out_dir.mkdir(parents=True, exist_ok=True)
        clusters.to_csv(out_dir / "clustering.csv", index=False)
    labels = list(dict.fromkeys(results["featurizer"]))
    setup = {
        "distilled featurizer": (", ".join(map(str, featurizer))
                                 if isinstance(featurizer, (list, tuple))
                                 else str(featurizer) if featurizer is not None else "none"),
        "compared": ", ".join(f"`{x}`" for x in labels),
        "datasets": ", ".join(datasets),
        "splits": ", ".join(splits) + f" (test share {test_size})",
        "seeds": ", ".join(map(str, seeds)),
        "models": ", ".join(models),
        "max molecules per dataset": max_molecules if max_molecules is not None else "all",
        "molmtd": __version__,
    }
    from molmtd.downstream.datasets import dev_tasks

    dev_used = [d for d in datasets if d in dev_tasks()]
    if dev_used:
        setup["development tasks"] = (f"{', '.join(dev_used)}, included on request: they "
                                      "select models, so their scores are not held out")
    notes = [
        "Molecules are standardised (molmtd.molecules.standardize_smiles); unparseable ones "
        "and duplicates of an earlier key are removed (see the Datasets table).",
        "Molecules that any featurizer could not embed are dropped for every featurizer, so "
        "all featurizers are scored on exactly the same molecules and splits: "
        + ("; ".join(dropped_notes) if dropped_notes else "none were dropped") + ".",
        "Features are z-scored with statistics from each training split (StandardScaler "
        "inside the model pipeline), never from the test molecules, and clipped to "
        f"+-{Z_CLIP:g} (a dimension almost constant in training would otherwise explode "
        "a linear model's test predictions).",
        f"Every featurizer sees the same train/test indices for a given split and seed; each "
        f"model ({', '.join(models)}) is seeded with the same seed.",
        "Probes: linear = RidgeCV / logistic regression with C by 3-fold AUROC; mlp = the "
        "paper's probe (one hidden layer of 128, LayerNorm, Adam 1e-3, early stopping); knn = "
        "k nearest neighbours (Euclidean on the z-scores, k in 3/5/10/20 by 3-fold inner CV); "
        "see molmtd.downstream.models.",
    ]
    path = write_report(out_dir, results=results, setup=setup,
                        datasets_table=pd.DataFrame(table),
                        clustering=clusters if clustering else None, notes=notes,
                        sections=sections, headline=headline)
    log.info("report written to %s", path)
    return path
