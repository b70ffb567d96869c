"""The recipe: a validated description of one distillation run (YAML in, pydantic model out).

Every field has a default except the teachers, so a recipe states only what it changes.
``--set key=value`` overrides any field by its dotted path (``training.lr=3e-4``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from molmtd.errors import RecipeError

__all__ = [
    "Recipe",
    "CorpusConfig",
    "StoreConfig",
    "StudentConfig",
    "ObjectiveConfig",
    "TrainingConfig",
    "TrainerConfig",
    "CompressionConfig",
    "load_recipe",
    "apply_overrides",
]


def teacher_labels(specs: list[str]) -> list[str]:
    """Short names for metrics and module keys: the spec's name, suffixed when repeated."""
    names = [s.split(":", 1)[0].strip() for s in specs]
    return [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]


class _Section(BaseModel):
    # unknown keys are typos: reject them instead of silently ignoring
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StandardizeConfig(_Section):
    """datamol standardisation steps applied to every molecule (see molmtd.molecules)."""

    largest_fragment: bool = True
    uncharge: bool = True
    normalize: bool = True
    reionize: bool = True
    stereo: bool = True
    isotopes: bool = True
    max_heavy_atoms: int | None = Field(default=None, ge=1)
    min_heavy_atoms: int = Field(default=1, ge=0)


class CorpusConfig(_Section):
    """Which molecules the student learns from."""

    source: str = Field(
        default="moses", description="bundled corpus name ('moses') or a file path"
    )
    column: str | None = Field(default=None, description="SMILES column of a CSV/TSV/parquet")
    max_molecules: int | None = Field(default=20_000, ge=1)
    use_molecules: int | None = Field(
        default=None, ge=2,
        description="train on the first N molecules of the corpus only (its rows are a "
                    "seeded random sample). Teacher caches are those of the whole corpus, "
                    "built up to row N: runs at 50k share the shards of a 250k corpus, and "
                    "can start before its caches are finished; null = all")
    standardize: StandardizeConfig = StandardizeConfig()
    n_jobs: int = Field(default=-1, description="processes for standardisation; -1 = all cores")


class StoreConfig(_Section):
    """Where and how teacher embeddings and graphs are cached."""

    cache_dir: str | None = Field(
        default=None, description="shared across runs and checkouts; null = $MOLMTD_CACHE_DIR "
                                  "or ~/.cache/molmtd (molmtd.paths)")
    dtype: Literal["float16", "float32"] = "float32"
    shard_size: int = Field(default=10_000, ge=1)
    embed_batch_size: int = Field(default=1_000, ge=1)
    n_jobs: int = Field(default=-1, description="processes for fingerprints and graphs")


class StudentConfig(_Section):
    """The GNN encoder (molmtd.student.GNNStudent)."""

    conv: str = "gine"
    num_layers: int = Field(default=5, ge=1)
    hidden_dim: int = Field(default=300, ge=1)
    out_dim: int | None = Field(default=None, ge=1)
    norm: str = "layer"
    pooling: str = "mean"
    projection: bool = True
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    residual: bool = False
    positional_encoding: int = Field(
        default=0, ge=0, description="random-walk steps fed to every atom (RWPE); 0 = none")
    laplacian_pe: int = Field(
        default=0, ge=0, description="Laplacian eigenvectors fed to every atom (LapPE); 0 = none")
    virtual_node: bool = Field(default=False, description="a node joined to every atom")
    jk: Literal["last", "cat", "max"] = Field(
        default="last", description="pooling reads the last layer, every layer concatenated "
                                    "(cat) or their elementwise max (jumping knowledge)")
    output_norm: Literal["none", "layer"] = Field(
        default="none", description="LayerNorm (no parameters) on the embedding the heads read")
    atom_features: list[str] | None = Field(
        default=None, description="atom feature columns the student reads (names from "
                                  "molmtd.graphs.ATOM_FEATURE_NAMES); null = all")
    bond_features: list[str] | None = Field(
        default=None, description="bond feature columns the student reads (names from "
                                  "molmtd.graphs.BOND_FEATURE_NAMES); null = all")


class ObjectiveConfig(_Section):
    """The distillation loss (molmtd.objectives)."""

    name: str = Field(default="gaussian", description="gaussian | l2 | cosine")
    n_modes: int = Field(default=1, ge=1)
    head_hidden_dim: int = Field(default=512, ge=1)
    head_num_layers: int = Field(default=2, ge=1)
    loss_scale: float = Field(default=1.0, gt=0)
    teacher_weights: dict[str, float] = Field(
        default_factory=dict,
        description="teacher label (the spec's name, e.g. minimol) -> weight > 0 of its loss; "
                    "teachers left out weigh 1")
    # Defaults from runs/qs10k_* (quickstart teachers, 10k MOSES, 15 epochs; see README): with
    # -7 and no clip, MACCS validation NLL rose from epoch 1 and early stopping fired at 4;
    # with clip 5 and -2.5 every teacher's validation loss fell for 12 epochs.
    min_log_scale: float = Field(
        default=-2.5, lt=5.0,
        description="gaussian: lower clamp of the heads' log standard deviations (standardised "
                    "units); higher values stop binary teacher dims from collapsing the scale")
    standardize_teachers: bool = Field(
        default=True, description="z-score teacher dims with statistics fixed from the corpus"
    )
    standardize_clip: float | None = Field(
        default=5.0, gt=0,
        description="clamp standardised teacher values to [-clip, clip]; null = no clamp")
    variance_weight: float = Field(
        default=0.0, ge=0, description="VICReg variance term on the student embedding: "
                                       "mean over dims of relu(1 - batch std)")
    covariance_weight: float = Field(
        default=0.0, ge=0, description="VICReg covariance term: sum of squared off-diagonal "
                                       "batch covariances of the embedding / its width")
    relational_weight: float = Field(
        default=0.0, ge=0,
        description="weight of a relational term that matches the student's within-batch "
                    "pairwise geometry to each teacher's (molmtd.objectives.relational)")
    relational_form: Literal["distance", "similarity"] = Field(
        default="distance",
        description="distance: relational KD's normalised distances (Park et al. 2019); "
                    "similarity: similarity-preserving KD's Gram matrices (Tung & Mori 2019)")
    relational_teachers: list[str] = Field(
        default_factory=list,
        description="teacher labels the relational term reads (e.g. [minimol]); empty = all")
    mi_estimate: bool = Field(default=True, description="log a per-teacher MI estimate")
    mi_fit_molecules: int = Field(default=5_000, ge=100)


class TrainingConfig(_Section):
    """Optimisation, validation, checkpoints."""

    batch_size: int = Field(default=256, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    head_lr: float | None = Field(default=None, gt=0, description="defaults to lr")
    weight_decay: float = Field(default=0.0, ge=0)
    max_epochs: int = Field(default=10, ge=1)
    max_steps: int = Field(default=-1, ge=-1)
    val_fraction: float = Field(default=0.1, gt=0, lt=1)
    grad_clip: float | None = Field(default=1.0, gt=0, description="student grad-norm clip")
    scheduler: Literal["none", "cosine", "plateau"] = "cosine"
    warmup_steps: int = Field(default=0, ge=0)
    early_stopping_patience: int | None = Field(default=5, ge=1)
    checkpoint_every_n_steps: int = Field(default=200, ge=1)
    val_check_interval: float | int = Field(default=1.0, description="Lightning's meaning")
    log_every_n_steps: int = Field(default=20, ge=1)
    num_workers: int = Field(
        default=0, ge=0, description="DataLoader worker processes that read and collate "
                                     "batches from the memory-mapped stores (0 = in the "
                                     "training process; see benchmarks/RESULTS.md)")
    compile: bool = Field(
        default=False, description="torch.compile the student (dynamic shapes). Measured "
                                   "on 2 CPU cores: see benchmarks/RESULTS.md")
    select_by: Literal["val_loss", "dev_probe"] = Field(
        default="val_loss", description="what picks the released epoch and stops early: the "
                                        "validation loss, or a linear probe on the development "
                                        "tasks (molmtd.selection)")
    seed: int | None = Field(
        default=None, description="seed of the student's initialisation, the batch order and "
                                  "the marginals' fit; null = the recipe's seed. The corpus "
                                  "sample and the train/validation split keep the recipe's "
                                  "seed, so runs that differ only here share caches and "
                                  "validation molecules (a second training of one recipe)")
    rank_molecules: int = Field(
        default=2048, ge=0, description="validation molecules (the first, a fixed sample) whose "
                                        "embedding's effective rank is logged every epoch; 0 = off")


class TrainerConfig(_Section):
    """Passed through to lightning.Trainer, so DDP and multi-node work unchanged."""

    accelerator: str = "auto"
    devices: int | str | list[int] = "auto"
    strategy: str = "auto"
    num_nodes: int = Field(default=1, ge=1)
    precision: str | int = Field(
        default="32-true", description="Lightning's precision: 32-true, bf16-mixed (autocast), "
                                       "16-mixed, ..., or auto: bf16-mixed where the device "
                                       "computes bf16 natively (a GPU with bf16, a CPU with "
                                       "AVX512-BF16 or AMX), 32-true elsewhere "
                                       "(molmtd.precision)")


class CompressionConfig(_Section):
    """After training: the embedding becomes a PCA of the layer readout (molmtd.compression)."""

    dim: int | None = Field(
        default=None, ge=1,
        description="keep the top `dim` principal components of the z-scored layer readout as "
                    "the embedding (needs student.jk: cat and mean pooling, or no projection: then "
                    "the pooled embedding is compressed); null = the "
                    "distilled embedding as trained")
    molecules: int = Field(default=20_000, ge=1,
                           description="training-set molecules (seeded sample) the PCA is "
                                       "fitted on")


class Recipe(_Section):
    """One distillation run: corpus, teachers, student, objective, training."""

    name: str = "run"
    seed: int = 0
    corpus: CorpusConfig = CorpusConfig()
    teachers: list[str] = Field(min_length=1, description="teacher spec strings")
    store: StoreConfig = StoreConfig()
    student: StudentConfig = StudentConfig()
    objective: ObjectiveConfig = ObjectiveConfig()
    training: TrainingConfig = TrainingConfig()
    trainer: TrainerConfig = TrainerConfig()
    compression: CompressionConfig = CompressionConfig()

    @property
    def training_seed(self) -> int:
        """The seed of the training's randomness (``training.seed``, else ``seed``)."""
        return self.seed if self.training.seed is None else self.training.seed

    @field_validator("teachers")
    @classmethod
    def _teachers_are_unique(cls, specs: list[str]) -> list[str]:
        seen = set()
        for spec in specs:
            if spec in seen:
                raise ValueError(f"teacher {spec!r} is listed twice; remove one")
            seen.add(spec)
        return specs

    @model_validator(mode="after")
    def _weights_name_teachers(self) -> Recipe:
        # caught here, before hours of cache building, rather than when the heads are built
        labels = teacher_labels(self.teachers)
        unknown = sorted(set(self.objective.teacher_weights) - set(labels))
        if unknown:
            raise ValueError(f"objective.teacher_weights names {unknown}, which are not among "
                             f"the teachers' labels {labels}")
        bad = {k: w for k, w in self.objective.teacher_weights.items() if not 0 < w < float("inf")}
        if bad:
            raise ValueError(f"objective.teacher_weights must be finite and > 0; got {bad}")
        unknown = sorted(set(self.objective.relational_teachers) - set(labels))
        if unknown:
            raise ValueError(f"objective.relational_teachers names {unknown}, which are not "
                             f"among the teachers' labels {labels}")
        return self

    @model_validator(mode="after")
    def _compression_fits_the_student(self) -> Recipe:
        # the PCA replaces the projection of the pooled layers: only a student whose
        # embedding is a linear map of that readout can take it (checked again on the model)
        dim, st = self.compression.dim, self.student
        if dim is None:
            return self
        from molmtd.student import POOLING_WIDTH

        if st.output_norm == "none" and st.jk == "cat" and st.pooling == "mean":
            width, what = st.num_layers * st.hidden_dim, "the layer readout"
        elif st.output_norm == "none" and not st.projection:
            width = ((st.num_layers if st.jk == "cat" else 1) * st.hidden_dim
                     * POOLING_WIDTH.get(st.pooling, 1))
            what = "the pooled embedding"
        else:
            raise ValueError(
                f"compression.dim={dim} needs student.output_norm: none and either "
                f"student.jk: cat with student.pooling: mean, or student.projection: false "
                f"(got jk={st.jk!r}, pooling={st.pooling!r}, projection={st.projection!r}, "
                f"output_norm={st.output_norm!r}); set those or compression.dim: null")
        if dim > width:
            raise ValueError(f"compression.dim={dim} is wider than {what} ({width}-d)")
        return self

    def to_yaml(self) -> str:
        """The recipe as YAML, every field spelled out (defaults included)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a raw recipe dict (values parsed as YAML).

    Raises:
        RecipeError: an override is not of the form key=value.
    """
    for item in overrides:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise RecipeError(
                f"--set {item!r}: expected key=value with a dotted key, e.g. training.lr=3e-4"
            )
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(f"--set {item!r}: {part!r} is not a section of the recipe")
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise RecipeError(f"--set {item!r}: the value is not valid YAML: {err}") from err
    return data


def _format_error(err: ValidationError, source: str) -> str:
    lines = [f"invalid recipe {source}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        got = e.get("input")
        if not e["loc"]:  # a check across sections (model validator): its message says all
            lines.append(f"  - {e['msg'].removeprefix('Value error, ')}")
        elif e["type"] == "extra_forbidden":
            fix = "remove it or check its spelling (see recipes/quickstart.yaml)"
            lines.append(f"  - field '{field}' is not a recipe field; {fix}")
        elif e["type"] == "missing":
            lines.append(f"  - field '{field}' is required; add it to the recipe")
        else:
            shown = repr(got)[:60]
            lines.append(f"  - field '{field}': {e['msg']} (got {shown}); fix it in the recipe "
                         f"or with --set {field}=...")
    return "\n".join(lines)


def load_recipe(path: str | Path | None = None, overrides: list[str] | None = None,
                data: dict[str, Any] | None = None) -> Recipe:
    """Read a YAML recipe (or a dict), apply ``--set`` overrides and validate it.

    Raises:
        RecipeError: the file is missing or not YAML, or a field is invalid; the message
            names the field and the fix.
    """
    source = str(path) if path is not None else "<dict>"
    if data is None:
        if path is None:
            raise RecipeError("load_recipe needs a path or data")
        p = Path(path)
        if not p.is_file():
            raise RecipeError(f"recipe file {p} does not exist; see recipes/ for examples")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as err:
            raise RecipeError(f"recipe {p} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise RecipeError(f"recipe {source} must be a mapping of fields, got {type(data).__name__}")
    data = apply_overrides(copy.deepcopy(data), overrides or [])
    try:
        return Recipe.model_validate(data)
    except ValidationError as err:
        raise RecipeError(_format_error(err, source)) from None
