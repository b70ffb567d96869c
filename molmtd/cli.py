"""The ``molmtd`` command line: parses, calls the library, prints. The library never imports it."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from molmtd.errors import MolmtdError
from molmtd.paths import resolve_cache_dir

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Task-agnostic multi-teacher distillation of molecular representations.")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


def _fail(err: Exception) -> None:
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def distill(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML, e.g. recipes/zinc.yaml")],
    out: Annotated[
        Path | None, typer.Option(help="run directory (default runs/<recipe name>)")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a field: key.sub=value")] = None,
    resume: Annotated[bool, typer.Option(help="continue from OUT/checkpoints/last.ckpt")] = False,
    prepare_only: Annotated[bool, typer.Option(
        help="build the caches (corpus, graphs, teacher embeddings) and stop")] = False,
    teachers: Annotated[str | None, typer.Option(
        help="with --prepare-only: build only these teachers' caches (comma-separated labels "
             "or specs, e.g. minimol); N processes started so divide the shards (SLURM "
             "array)")] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    verbose: Annotated[bool, typer.Option("-v", help="debug logging")] = False,
) -> None:
    """Distil the recipe's teachers into a GNN student and write its featurizer."""
    _setup_logging(verbose)
    from molmtd.distill import distill as run
    from molmtd.recipe import load_recipe

    try:
        r = load_recipe(recipe, set_ or [])
        path = run(r, out or Path("runs") / r.name, resume=resume, prepare_only=prepare_only,
                   progress=progress,
                   teachers=[t.strip() for t in teachers.split(",")] if teachers else None)
    except (MolmtdError, FileNotFoundError, ValueError) as err:
        _fail(err)
    typer.echo(f"done: {path}")


@app.command()
def embed(
    input: Annotated[Path, typer.Argument(help="molecules: .smi/.txt/.csv/.tsv/.parquet/.sdf")],
    output: Annotated[Path, typer.Option("-o", "--output", help=(
        "output: OUT.parquet (a parquet dataset: a directory of part files, streamed in "
        "constant memory) or OUT.npy (in memory, for inputs that fit)"))],
    teacher: Annotated[str | None, typer.Option(help="teacher spec, e.g. ecfp:radius=2")] = None,
    featurizer: Annotated[str | None, typer.Option(
        help="distilled featurizer path or name; comma-separated to compare several")] = None,
    column: Annotated[str | None, typer.Option(help="SMILES column of a table")] = None,
    readout: Annotated[str, typer.Option(
        help="with --featurizer: auto (the one its release recommends, else embedding), "
             "embedding (the distilled embedding) or layers (every GNN layer's pooled states, "
             "concatenated, before the projection; molmtd-base: 3000-d)")] = "auto",
    precision: Annotated[str, typer.Option(
        help="with --featurizer: fp32 (exact) or int8 (CPU: the message-passing MLPs with "
             "dynamic int8 quantisation; faster, close to fp32)")] = "fp32",
    device: Annotated[str | None, typer.Option(
        help="torch device for the featurizer or teacher, e.g. cuda (falls back to the CPU "
             "with a warning when absent)")] = None,
    n_jobs: Annotated[int, typer.Option(help="processes for standardisation")] = 1,
    shard: Annotated[str | None, typer.Option(
        help="parquet: write only share I/N of the parts (I from 0), e.g. "
             "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT; global positions are kept")] = None,
    part_size: Annotated[int | None, typer.Option(
        help="parquet: input rows per part file (default 10000)")] = None,
    resume: Annotated[bool, typer.Option(
        help="parquet: continue an interrupted run, keeping its finished parts")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an existing output")] = False,
    verbose: Annotated[bool, typer.Option("-v", help="debug logging")] = False,
) -> None:
    """Embed every input row (NaN rows for invalid molecules), in input order."""
    _setup_logging(verbose)
    if (teacher is None) == (featurizer is None):
        _fail(ValueError("give exactly one of --teacher SPEC or --featurizer PATH_OR_NAME"))
    from molmtd.embedding import embed_file

    try:
        summary = embed_file(input, output, teacher=teacher, featurizer=featurizer, column=column,
                             readout=readout, precision=precision, device=device,
                             n_jobs=n_jobs, shard=shard, part_size=part_size, resume=resume,
                             overwrite=overwrite)
    except (MolmtdError, FileNotFoundError, ValueError) as err:
        _fail(err)
    typer.echo(json.dumps(summary, indent=2, default=str))


@app.command()
def teachers(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    measure: Annotated[bool, typer.Option(
        help="measure throughput on 1k MOSES molecules where not cached yet (first run: "
             "about a minute); --no-measure shows cached values only")] = True,
) -> None:
    """List every teacher: family, dimension, whether it runs here, throughput."""
    from molmtd.teachers.catalog import describe_teachers

    rows = describe_teachers(measure=measure)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    typer.echo(f"{'teacher':<20} {'family':<12} {'dim':>6} {'mol/s':>8}  available")
    for r in rows:
        rate = r.get("throughput_mol_s")
        rate_s = f"{rate:8.0f}" if isinstance(rate, (int, float)) else f"{'-':>8}"
        avail = "yes" if r["available"] else f"no: {r.get('reason', '')}"
        if r["available"] and r.get("requires"):
            avail += " (spec needs " + ", ".join(f"{p}=..." for p in r["requires"]) + ")"
        dim = r.get("dim") if r.get("dim") is not None else "-"
        typer.echo(f"{r['name']:<20} {r['family']:<12} {dim!s:>6} {rate_s}  {avail}")


@app.command()
def evaluate(
    ctx: typer.Context,
    featurizer: Annotated[str | None, typer.Option(
        help="distilled featurizer path or name; comma-separated to compare several; with "
             "--finetune: the one featurizer of the ft- and base- systems (default "
             "molmtd-base)")] = None,
    against: Annotated[str, typer.Option(help="comma-separated teacher specs")] = "ecfp",
    datasets: Annotated[str | None, typer.Option(
        help="comma-separated dataset names (default: the report tasks under 5000 molecules)")
    ] = None,
    seeds: Annotated[int, typer.Option(help="number of random seeds")] = 3,
    model: Annotated[str, typer.Option(
        help="probe(s), comma-separated: linear, mlp, knn, ridge, rf, gbm "
             "(e.g. linear,mlp,knn; ridge is the fast linear probe for screening)")
    ] = "linear",
    allow_dev_tasks: Annotated[bool, typer.Option(
        "--allow-dev-tasks", help="score development (model-selection) tasks too")] = False,
    max_molecules: Annotated[int | None, typer.Option(help="cap per dataset")] = None,
    out: Annotated[Path, typer.Option(
        help="report directory (with --finetune: runs.jsonl and tables.md, default "
             "runs/evaluate-finetune)")] = Path("runs/evaluate"),
    cache_dir: Annotated[Path | None, typer.Option(
        help="embeddings of each featurizer and dataset are kept under <cache-dir>/evaluate "
             "(with --finetune: <cache-dir>/evaluate-finetune) and reused; default "
             "$MOLMTD_CACHE_DIR or ~/.cache/molmtd")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="embed everything anew")] = False,
    readout: Annotated[str, typer.Option(
        help="distilled featurizer readouts to score: embedding, layers or embedding,layers")
    ] = "embedding",
    finetune: Annotated[bool, typer.Option(
        "--finetune", help="compare fine-tuning against frozen heads, chemprop and ECFP "
                           "baselines (docs/finetune.md); writes OUT/runs.jsonl (resumable) "
                           "and OUT/tables.md")] = False,
    systems: Annotated[str | None, typer.Option(
        help="with --finetune: comma-separated systems (default all ten: ft-base, "
             "ft-base+ecfp, ft-random, base-mlp, base-svr, minimol-mlp, minimol-svr, "
             "chemprop, rf-ecfp, svr-tanimoto)")] = None,
    splits: Annotated[str, typer.Option(
        help="with --finetune: comma-separated splits, scaffold and/or random")
    ] = "scaffold,random",
    learning_curve: Annotated[str | None, typer.Option(
        help="with --finetune: training sizes run besides the whole training side, "
             "e.g. 50,100,200,500")] = None,
    max_epochs: Annotated[int | None, typer.Option(
        help="with --finetune: epochs in all of the ft- systems (default: MTDRegressor's, "
             "30)")] = None,
    verbose: Annotated[bool, typer.Option("-v", help="debug logging")] = False,
) -> None:
    """Compare a distilled featurizer with its teachers on bundled benchmark tasks.

    With --finetune: fine-tuned molmtd-base against frozen heads, chemprop and ECFP models.
    """
    _setup_logging(verbose)
    # by name: typer ships its own copy of click, whose ParameterSource is another enum
    given = {name for name in ctx.params
             if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"}
    if finetune:
        _evaluate_finetune(
            given, featurizer=featurizer, datasets=datasets, seeds=seeds, systems=systems,
            splits=splits, learning_curve=learning_curve, max_epochs=max_epochs,
            max_molecules=max_molecules, out=out if "out" in given else None,
            cache_dir=None if no_cache else resolve_cache_dir(cache_dir),
            command=_command_line(ctx, given))
        return
    only_finetune = sorted(given & _FINETUNE_ONLY)
    if only_finetune:
        _fail(ValueError(", ".join(_option(n) for n in only_finetune)
                         + " only apply with --finetune"))
    from molmtd.downstream.evaluate import evaluate_featurizers
    from molmtd.teachers.base import split_spec_list

    try:
        report = evaluate_featurizers(
            featurizer.split(",") if featurizer else None, split_spec_list(against),
            datasets=datasets.split(",") if datasets else None, seeds=tuple(range(seeds)),
            model=model.split(","), max_molecules=max_molecules, out_dir=out,
            cache_dir=None if no_cache else resolve_cache_dir(cache_dir),
            readouts=readout.split(","), allow_dev_tasks=allow_dev_tasks)
    except (MolmtdError, FileNotFoundError, ImportError) as err:  # ImportError names the wheel
        _fail(err)
    typer.echo(f"report: {report}")


# evaluate's options that only the featurizer comparison reads, and only --finetune reads
_NOT_WITH_FINETUNE = {"against", "model", "readout", "allow_dev_tasks"}
_FINETUNE_ONLY = {"systems", "splits", "learning_curve", "max_epochs"}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _int_list(text: str, what: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        _fail(ValueError(f"{what} takes comma-separated integers, got {text!r}"))


def _command_line(ctx: typer.Context, given: set[str]) -> str:
    """The command as typed, rebuilt from the options given (for the tables' header)."""
    parts = ["molmtd", ctx.info_name or "evaluate"]
    for param in ctx.command.params:
        if param.name not in given:
            continue
        value = ctx.params[param.name]
        if isinstance(value, bool):
            parts.append(param.opts[0])
        else:
            parts += [param.opts[0], str(value)]
    return " ".join(parts)


def _evaluate_finetune(given: set[str], *, featurizer, datasets, seeds, systems, splits,
                       learning_curve, max_epochs, max_molecules, out, cache_dir,
                       command) -> None:
    """``molmtd evaluate --finetune``: the fine-tuning comparison of docs/finetune.md."""
    clash = sorted(given & _NOT_WITH_FINETUNE)
    if clash:
        _fail(ValueError(", ".join(_option(n) for n in clash) + " cannot be combined with "
                         "--finetune (it compares the systems of --systems)"))
    if featurizer and "," in featurizer:
        _fail(ValueError("with --finetune, --featurizer takes one featurizer"))
    from molmtd.downstream.datasets import DEFAULT_DATASETS
    from molmtd.downstream.finetune_benchmark import run_finetune_benchmark
    from molmtd.downstream.finetune_systems import SYSTEMS, SystemRunner

    runner = SystemRunner(
        featurizer=featurizer or "molmtd-base",
        cache_dir=None if cache_dir is None else Path(cache_dir) / "evaluate-finetune",
        finetune_params={} if max_epochs is None else {"max_epochs": max_epochs})
    try:
        runs, tables = run_finetune_benchmark(
            out or Path("runs/evaluate-finetune"),
            tasks=datasets.split(",") if datasets else list(DEFAULT_DATASETS),
            splits=[s.strip() for s in splits.split(",") if s.strip()],
            seeds=list(range(seeds)),
            systems=systems.split(",") if systems else list(SYSTEMS),
            learning_curve=_int_list(learning_curve or "", "--learning-curve"),
            max_molecules=max_molecules, runner=runner,
            command=command)
    except (MolmtdError, FileNotFoundError, ImportError, ValueError) as err:
        _fail(err)
    typer.echo(f"rows: {runs}\ntables: {tables}")


@app.command()
def finetune(
    data: Annotated[Path, typer.Argument(help="training table: .csv/.tsv/.parquet")],
    out: Annotated[Path, typer.Option(help="model folder to write")],
    target: Annotated[list[str], typer.Option(
        help="target column; repeat for a multi-task model (empty cells = missing labels)")],
    smiles_column: Annotated[str, typer.Option(help="SMILES column")] = "smiles",
    task: Annotated[str, typer.Option(help="regression or classification (binary)")
                    ] = "regression",
    featurizer: Annotated[str, typer.Option(
        help="featurizer artifact (path or released name) whose encoder is fine-tuned")
    ] = "molmtd-base",
    from_scratch: Annotated[bool, typer.Option(
        "--from-scratch", help="same architecture from random weights (no pretraining)")
    ] = False,
    readout: Annotated[str, typer.Option(
        help="embedding (the distilled embedding) or layers (every layer's pooled states)")
    ] = "embedding",
    features: Annotated[list[str] | None, typer.Option(
        "--features", help="extra molecule-level features joining the readout: a teacher "
                           "spec, e.g. ecfp-count or physchem; repeatable")] = None,
    max_epochs: Annotated[int, typer.Option(help="epochs in all")] = 30,
    freeze_epochs: Annotated[int, typer.Option(
        help="head-only epochs before the encoder unfreezes (>= max-epochs: frozen encoder)")
    ] = 5,
    patience: Annotated[int, typer.Option(help="early-stopping patience, epochs")] = 5,
    lr: Annotated[float, typer.Option(help="head learning rate")] = 1e-3,
    encoder_lr: Annotated[float, typer.Option(help="encoder learning rate once unfrozen")
                          ] = 1e-5,
    batch_size: Annotated[int, typer.Option(help="molecules per step")] = 32,
    validation_split: Annotated[str, typer.Option(
        help="inner validation split for early stopping: random or scaffold")] = "random",
    validation_fraction: Annotated[float, typer.Option(help="share held out")] = 0.1,
    n_models: Annotated[int, typer.Option(help="ensemble of seeds")] = 1,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
    precision: Annotated[str, typer.Option(help="auto, 32-true or bf16-mixed")] = "auto",
    resume: Annotated[bool, typer.Option(
        help="continue an interrupted run from OUT/checkpoints")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace what OUT holds")] = False,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    verbose: Annotated[bool, typer.Option("-v", help="debug logging")] = False,
) -> None:
    """Fine-tune a distilled featurizer on labelled molecules and write a model folder."""
    _setup_logging(verbose)
    from molmtd.finetune.cli_run import finetune_csv

    try:
        path = finetune_csv(
            data, out, smiles_column=smiles_column, targets=target, task=task,
            resume=resume, overwrite=overwrite, featurizer=featurizer,
            pretrained=not from_scratch, readout=readout, extra_features=features or None,
            max_epochs=max_epochs, freeze_epochs=freeze_epochs, patience=patience, lr=lr,
            encoder_lr=encoder_lr, batch_size=batch_size, validation_split=validation_split,
            validation_fraction=validation_fraction, n_models=n_models, random_state=seed,
            device=device, precision=precision, progress=progress)
    except (MolmtdError, FileNotFoundError, FileExistsError, ValueError) as err:
        _fail(err)
    typer.echo(f"done: {path} (card: {path / 'card.md'})")


@app.command()
def predict(
    model: Annotated[Path, typer.Argument(help="model folder written by `molmtd finetune`")],
    data: Annotated[Path, typer.Argument(help="molecules: .csv/.tsv/.parquet")],
    output: Annotated[Path, typer.Option("-o", "--output", help="predictions .csv")],
    smiles_column: Annotated[str | None, typer.Option(
        help="SMILES column (default: the one the model was trained with)")] = None,
    progress: Annotated[bool, typer.Option(help="show progress bars")] = True,
    verbose: Annotated[bool, typer.Option("-v", help="debug logging")] = False,
) -> None:
    """Predict every row (in order; empty predictions for invalid molecules)."""
    _setup_logging(verbose)
    from molmtd.finetune.cli_run import predict_csv

    try:
        summary = predict_csv(model, data, output, smiles_column=smiles_column,
                              progress=progress)
    except (MolmtdError, FileNotFoundError, ValueError) as err:
        _fail(err)
    typer.echo(json.dumps(summary, indent=2, default=str))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":
    main()
