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
    """datamol/RDKit standardisation steps applied to every molecule (molmtd.molecules).

    The featurizer records them and applies the same steps to the molecules it embeds.
    Changing one changes the corpus's keys: a new corpus and new teacher caches are built.
    """

    largest_fragment: bool = Field(
        default=True,
        description="keep only the largest fragment, preferring organic ones: strips salts, "
                    "counter-ions and solvents (RDKit LargestFragmentChooser)")
    uncharge: bool = Field(
        default=True,
        description="neutralise charges where a neutral form exists, e.g. carboxylate -> acid "
                    "(RDKit Uncharger)")
    normalize: bool = Field(
        default=True,
        description="draw common functional groups one way: nitro, N-oxides, sulfoxides, "
                    "azides, ... (RDKit Normalizer)")
    reionize: bool = Field(
        default=True,
        description="when acids are ionised, move the charge to the most acidic site "
                    "(RDKit Reionizer)")
    stereo: bool = Field(
        default=True,
        description="keep stereochemistry (re-assigned and cleaned); false removes every "
                    "stereo label, so stereoisomers become one molecule")
    isotopes: bool = Field(
        default=True,
        description="keep isotope labels; false removes them (`[2H]C` -> `C`)")
    max_heavy_atoms: int | None = Field(
        default=None, ge=1,
        description="reject molecules with more heavy atoms (after the steps above; listed "
                    "with the reason in the corpus's invalid.csv); null = no limit")
    min_heavy_atoms: int = Field(
        default=1, ge=0,
        description="reject molecules with fewer heavy atoms; a molecule without heavy atoms "
                    "is always rejected")


class CorpusConfig(_Section):
    """Which molecules the student learns from."""

    source: str = Field(
        default="moses",
        description="a bundled corpus ('moses': MOSES's training split, 1.58M ZINC-derived "
                    "molecules; 'moses-test': its 176k test split) or a file path (.smi, .txt, "
                    ".csv, .tsv, .parquet, .sdf, each also gzipped)")
    column: str | None = Field(
        default=None,
        description="SMILES column of a CSV/TSV/parquet file; null = the column named "
                    "'smiles' (any case)")
    max_molecules: int | None = Field(
        default=20_000, ge=1,
        description="corpus size: a seeded random sample (the recipe's `seed`) of this many "
                    "distinct valid molecules, rejected rows replaced by further ones; null = "
                    "every valid unique molecule, in file order. Recipes with the same corpus "
                    "settings share its caches")
    use_molecules: int | None = Field(
        default=None, ge=2,
        description="train on the first N molecules of the corpus only (its rows are a "
                    "seeded random sample). Teacher caches are those of the whole corpus, "
                    "built up to row N: runs at 50k share the shards of a 250k corpus, and "
                    "can start before its caches are finished; null = all. molmtd-base used "
                    "50k of the 250k; all 250k gave no held-out gain (2026-12-03-release-250k)")
    standardize: StandardizeConfig = Field(
        default=StandardizeConfig(),
        description="the standardisation steps (corpus.standardize.*)")
    n_jobs: int = Field(
        default=-1,
        description="processes that standardise the corpus; -1 = all cores. The corpus is "
                    "the same whatever the value")


class StoreConfig(_Section):
    """Where and how teacher embeddings and graphs are cached."""

    cache_dir: str | None = Field(
        default=None,
        description="folder of the corpus, graph and teacher caches, shared across runs and "
                    "checkouts (finished shards are never recomputed); null = "
                    "$MOLMTD_CACHE_DIR, else $XDG_CACHE_HOME/molmtd, else ~/.cache/molmtd "
                    "(molmtd.paths)")
    dtype: Literal["float16", "float32"] = Field(
        default="float32",
        description="precision of the cached teacher embeddings: float16 halves disk and page "
                    "cache (for the whole 1.58M-molecule corpus), and a teacher value beyond "
                    "its range is refused. An existing cache keeps its dtype: changing it raises "
                    "a StoreError, so use another cache_dir")
    shard_size: int = Field(
        default=10_000, ge=1,
        description="molecules per cache shard file: the unit that is resumed, checksummed, "
                    "shared between cooperative builders and built for `corpus.use_molecules`. "
                    "An existing cache keeps its shard size (a StoreError otherwise)")
    embed_batch_size: int = Field(
        default=1_000, ge=1,
        description="molecules per teacher call inside a shard; each finished batch is kept, "
                    "so an interrupted slow teacher (Mordred: ~15 mol/s on 2 cores) loses at "
                    "most one batch")
    n_jobs: int = Field(
        default=-1,
        description="processes for the fingerprint and descriptor teachers, graph building "
                    "and the compression's embedding; -1 = all cores")


class StudentConfig(_Section):
    """The GNN encoder (molmtd.student.GNNStudent): the part that becomes the featurizer."""

    conv: str = Field(
        default="gine",
        description="message-passing layer: gine, gin, gat, gatv2 or graphsage; gine, gat and "
                    "gatv2 read bond features, gat and gatv2 need hidden_dim a multiple of 4 "
                    "(4 attention heads)")
    num_layers: int = Field(
        default=5, ge=1,
        description="message-passing layers (the receptive field in bonds). 8 did not help "
                    "at 10k and cost 1.6x the step time "
                    "(2026-11-30-receptive-field-teacher-count-10k)")
    hidden_dim: int = Field(
        default=300, ge=1,
        description="width of every atom state, and of each layer's block of the pooled "
                    "readout. 512 fitted the teachers a little better at 10k for ~1.8x the "
                    "step time (2026-11-30-receptive-field-teacher-count-10k)")
    out_dim: int | None = Field(
        default=None, ge=1,
        description="embedding width after the projection; null = the pooled width "
                    "(hidden_dim, times num_layers with jk: cat, times 2 or 3 with mean+sum or "
                    "mean+sum+max pooling). Without projection it must be null or that width")
    norm: str = Field(
        default="layer",
        description="normalisation in each layer: layer (per atom), batch, graph or none "
                    "(torch_geometric.nn.norm)")
    pooling: str = Field(
        default="mean",
        description="atoms -> molecule: mean, sum, max, attention, mean+sum (twice the width; "
                    "the sum carries molecule size) or mean+sum+max (three times). molmtd-base "
                    "uses mean+sum (2026-12-02-meansum-readout); adding max traded columns "
                    "without a gain (2026-12-02-heldout-base-max-int8)")
    projection: bool = Field(
        default=True,
        description="a Linear layer from the pooled readout to out_dim. molmtd-base has none: "
                    "its heads read the readout itself, so what the loss shapes is what users "
                    "get (2026-12-01-layer-heads-pca512)")
    dropout: float = Field(
        default=0.0, ge=0.0, lt=1.0,
        description="dropout probability after each layer, in [0, 1); no shipped recipe "
                    "uses it")
    residual: bool = Field(
        default=False,
        description="add each layer's input to its output. Level with the release over three "
                    "draws, not adopted (2026-12-03-compression-residual-teacher-count)")
    positional_encoding: int = Field(
        default=0, ge=0,
        description="random-walk steps fed to every atom (RWPE); 0 = none. 16 steps did not "
                    "help at 10k (2026-11-30-receptive-field-teacher-count-10k)")
    laplacian_pe: int = Field(
        default=0, ge=0,
        description="Laplacian eigenvectors fed to every atom (LapPE); 0 = none. 8 did not "
                    "help at 10k (2026-11-30-receptive-field-teacher-count-10k)")
    virtual_node: bool = Field(
        default=False,
        description="a node joined to every atom, between consecutive layers. It did not "
                    "help at 10k (2026-11-30-receptive-field-teacher-count-10k)")
    jk: Literal["last", "cat", "max"] = Field(
        default="last",
        description="pooling reads the last layer, every layer concatenated (cat) or their "
                    "elementwise max (jumping knowledge). cat was the only 10k lever that "
                    "helped downstream, and molmtd-base uses it "
                    "(2026-11-30-10k-screen-downstream)")
    output_norm: Literal["none", "layer"] = Field(
        default="none",
        description="LayerNorm (no parameters) on the embedding the heads read; it ranked "
                    "below the plain student at 10k (2026-11-30-10k-screen-downstream). "
                    "compression.dim needs none")
    atom_features: list[str] | None = Field(
        default=None,
        description="atom feature columns the student reads, for input ablations (names from "
                    "molmtd.graphs.ATOM_FEATURE_NAMES); null = all")
    bond_features: list[str] | None = Field(
        default=None,
        description="bond feature columns the student reads, for input ablations (names from "
                    "molmtd.graphs.BOND_FEATURE_NAMES); null = all")


class ObjectiveConfig(_Section):
    """The distillation loss (molmtd.objectives): one head per teacher on the student."""

    name: str = Field(
        default="gaussian",
        description="gaussian (the paper's: each head predicts a Gaussian density of its "
                    "teacher; loss = NLL per dimension), l2 (squared error) or cosine "
                    "(1 - cosine). At the same readout the three were level over two draws "
                    "(2026-12-02-loss-seeds)")
    n_modes: int = Field(
        default=1, ge=1,
        description="mixture components per gaussian head (l2 and cosine ignore it). 4 "
                    "collapsed the embedding more than 1 at 10k "
                    "(2026-11-30-10k-screen-training)")
    head_hidden_dim: int = Field(
        default=512, ge=1,
        description="hidden width of each teacher's head MLP (the heads are used in training "
                    "only; the featurizer is the student)")
    head_num_layers: int = Field(
        default=2, ge=1,
        description="Linear layers per head; 1 = a linear head, which collapsed the embedding "
                    "more at 10k (2026-11-30-10k-screen-training)")
    loss_scale: float = Field(
        default=1.0, gt=0,
        description="multiplies the summed per-teacher losses (each per dimension; the "
                    "paper's reference used 512). Under AdamW it mainly shifts their balance "
                    "against the VICReg and relational terms and training.grad_clip")
    teacher_weights: dict[str, float] = Field(
        default_factory=dict,
        description="teacher label (the spec's name, e.g. minimol) -> weight > 0 of its loss; "
                    "teachers left out weigh 1. MiniMol 3x fitted MiniMol better but moved no "
                    "held-out column (2026-12-03-minimol-weight-bf16)")
    # Defaults from runs/qs10k_* (quickstart teachers, 10k MOSES, 15 epochs; see README): with
    # -7 and no clip, MACCS validation NLL rose from epoch 1 and early stopping fired at 4;
    # with clip 5 and -2.5 every teacher's validation loss fell for 12 epochs.
    min_log_scale: float = Field(
        default=-2.5, lt=5.0,
        description="gaussian: lower clamp of the heads' log standard deviations (standardised "
                    "units; the upper clamp is 5); higher values stop binary teacher dims from "
                    "collapsing the scale. With clip 5, -2.5 trained all 15 epochs where -7 "
                    "stopped at epoch 9 (2026-11-23-teacher-standardisation)")
    standardize_teachers: bool = Field(
        default=True,
        description="z-score teacher dims with statistics fixed from the training split; "
                    "false feeds raw values to the heads (constant dims are dropped either way)")
    standardize_clip: float | None = Field(
        default=5.0, gt=0,
        description="clamp standardised teacher values to [-clip, clip]; null = no clamp. "
                    "Rare fingerprint bits z-score to ~30 and dominate the density loss "
                    "without it (2026-11-23-teacher-standardisation)")
    variance_weight: float = Field(
        default=0.0, ge=0,
        description="VICReg variance term on the student embedding: mean over dims of "
                    "relu(1 - batch std); 0 = off. 1.0 (with covariance 0.04) did not spread "
                    "the embedding at 10k (2026-11-30-10k-screen-training)")
    covariance_weight: float = Field(
        default=0.0, ge=0,
        description="VICReg covariance term: sum of squared off-diagonal batch covariances of "
                    "the embedding / its width; 0 = off. 0.04 (with variance 1.0) did not "
                    "spread the embedding at 10k (2026-11-30-10k-screen-training)")
    relational_weight: float = Field(
        default=0.0, ge=0,
        description="weight of a relational term that matches the student's within-batch "
                    "pairwise geometry to each teacher's (molmtd.objectives.relational); 0 = "
                    "off. 25 on MiniMol cut its distance mismatch 3x at 10k "
                    "(2026-12-07-relational-kd)")
    relational_form: Literal["distance", "similarity"] = Field(
        default="distance",
        description="distance: relational KD's normalised distances (Park et al. 2019); "
                    "similarity: similarity-preserving KD's Gram matrices (Tung & Mori 2019)")
    relational_teachers: list[str] = Field(
        default_factory=list,
        description="teacher labels the relational term reads (e.g. [minimol]); empty = all. "
                    "Those named are measured in validation even at weight 0")
    mi_estimate: bool = Field(
        default=True,
        description="gaussian: log a per-teacher mutual-information estimate (`val/mi/...`: "
                    "a fitted marginal density's NLL minus the head's)")
    mi_fit_molecules: int = Field(
        default=5_000, ge=100,
        description="training molecules (a seeded sample) the MI estimate's marginal densities "
                    "are fitted on, before training")


class TrainingConfig(_Section):
    """Optimisation, validation, checkpoints."""

    batch_size: int = Field(
        default=256, ge=1,
        description="molecules per batch and per process (under DDP the global batch is "
                    "batch_size x ranks)")
    lr: float = Field(
        default=1e-3, gt=0,
        description="AdamW learning rate of the student (and of the heads unless head_lr)")
    head_lr: float | None = Field(
        default=None, gt=0,
        description="AdamW learning rate of the heads; null = lr")
    weight_decay: float = Field(
        default=0.0, ge=0, description="AdamW weight decay of the student and the heads")
    max_epochs: int = Field(
        default=10, ge=1,
        description="passes over the training split. molmtd-base trained 12; 24 were not "
                    "better (2026-12-02-loss-seeds)")
    max_steps: int = Field(
        default=-1, ge=-1,
        description="stop after this many batches if that comes before max_epochs; -1 = no "
                    "limit")
    val_fraction: float = Field(
        default=0.1, gt=0, lt=1,
        description="share of the usable corpus held out for validation, in (0, 1); the split "
                    "is seeded by the recipe's `seed`")
    grad_clip: float | None = Field(
        default=1.0, gt=0,
        description="student gradient-norm clip (the heads are not clipped); null = none")
    scheduler: Literal["none", "cosine", "plateau"] = Field(
        default="cosine",
        description="learning-rate schedule of both optimisers: cosine (linear warmup, then "
                    "cosine decay to 5% of lr at the last step), plateau (halved once the "
                    "validation loss has not fallen for 3 validations) or none")
    warmup_steps: int = Field(
        default=0, ge=0,
        description="batches of linear warmup of the cosine schedule (the others ignore it)")
    early_stopping_patience: int | None = Field(
        default=5, ge=1,
        description="validations without improvement of the `select_by` metric before "
                    "training stops; null = never (molmtd-base ran its 12 epochs)")
    checkpoint_every_n_steps: int = Field(
        default=200, ge=1,
        description="batches between writes of checkpoints/last.ckpt, which --resume "
                    "continues from exactly; an interruption loses at most this many batches")
    val_check_interval: float | int = Field(
        default=1.0,
        description="Lightning's: a float is the fraction of an epoch between validations "
                    "(1.0 = once per epoch), an int a number of batches")
    log_every_n_steps: int = Field(
        default=20, ge=1,
        description="Lightning's: how often training losses are written to logs/metrics.csv")
    num_workers: int = Field(
        default=0, ge=0,
        description="DataLoader worker processes that read and collate batches from the "
                    "memory-mapped stores (0 = in the training process: collation is under "
                    "0.5% of a CPU step, benchmarks/RESULTS.md); set it on GPU nodes")
    compile: bool = Field(
        default=False,
        description="torch.compile the student (dynamic shapes). Kept off: it added nothing "
                    "to bf16 on 2 CPU cores (benchmarks/RESULTS.md)")
    select_by: Literal["val_loss", "dev_probe"] = Field(
        default="val_loss",
        description="what picks the released epoch and stops early: the validation loss, or "
                    "a linear probe on the development tasks (molmtd.selection). dev_probe "
                    "picked a worse epoch at 10k "
                    "(2026-11-30-receptive-field-teacher-count-10k)")
    seed: int | None = Field(
        default=None,
        description="seed of the student's initialisation, the batch order and the "
                    "marginals' fit; null = the recipe's seed. The corpus sample and the "
                    "train/validation split keep the recipe's seed, so runs that differ only "
                    "here share caches and validation molecules (a second training of one "
                    "recipe)")
    rank_molecules: int = Field(
        default=2048, ge=0,
        description="validation molecules (the first, a fixed sample) whose embedding's "
                    "effective rank is logged every epoch; 0 = off")


class TrainerConfig(_Section):
    """Passed through to lightning.Trainer, so DDP and multi-node work unchanged."""

    accelerator: str = Field(
        default="auto",
        description="Lightning's accelerator: auto, cpu, gpu, ...")
    devices: int | str | list[int] = Field(
        default="auto",
        description="Lightning's devices per node: auto, a count or a list of indices "
                    "(on SLURM: tasks per node)")
    strategy: str = Field(
        default="auto",
        description="Lightning's strategy, e.g. ddp for several devices (build the caches "
                    "first with --prepare-only)")
    num_nodes: int = Field(
        default=1, ge=1,
        description="machines; on SLURM, the job's node count")
    precision: str | int = Field(
        default="32-true",
        description="Lightning's precision: 32-true, bf16-mixed (autocast), 16-mixed, ..., "
                    "or auto: bf16-mixed where the device computes bf16 natively (a GPU with "
                    "bf16, a CPU with AVX512-BF16 or AMX), 32-true elsewhere "
                    "(molmtd.precision). A bf16 draw of molmtd-base's configuration (trained "
                    "at 32-true) scored within the fp32 draws' spread, 1.5x faster "
                    "(2026-12-03-minimol-weight-bf16)")


class CompressionConfig(_Section):
    """After training: the embedding becomes a PCA of the layer readout (molmtd.compression)."""

    dim: int | None = Field(
        default=None, ge=1,
        description="keep the top `dim` principal components of the z-scored layer readout as "
                    "the embedding (needs student.jk: cat and mean pooling, or no projection: then "
                    "the pooled embedding is compressed); null = the "
                    "distilled embedding as trained. 512 kept by 2026-12-01-embedding-width "
                    "(256 led kNN, lost ridge); molmtd-base is such a PCA 512, fitted after "
                    "its run by experiments/compress.py")
    molecules: int = Field(default=20_000, ge=1,
                           description="training-set molecules (seeded sample) the PCA is "
                                       "fitted on")


class Recipe(_Section):
    """One distillation run: corpus, teachers, student, objective, training."""

    name: str = Field(
        default="run",
        description="the run's name, written into the featurizer's config and card title "
                    "(the output folder is `molmtd distill --out`)")
    seed: int = Field(
        default=0,
        description="seed of the corpus sample, the train/validation split and the "
                    "compression's molecules, and of training unless training.seed is set. "
                    "With corpus.max_molecules set another seed samples other molecules, so "
                    "new teacher caches: to redraw only the training, set training.seed")
    corpus: CorpusConfig = Field(default=CorpusConfig(), description="the molecules")
    teachers: list[str] = Field(
        min_length=1,
        description="teacher spec strings, e.g. `ecfp-count:radius=2,size=2048` (the Teachers "
                    "page, `molmtd teachers`), no repeats. Caches are built in this order, so "
                    "list cheap ones first; a repeated name is labelled `name_i`")
    store: StoreConfig = Field(default=StoreConfig(), description="the caches")
    student: StudentConfig = Field(default=StudentConfig(), description="the GNN encoder")
    objective: ObjectiveConfig = Field(default=ObjectiveConfig(), description="the loss")
    training: TrainingConfig = Field(default=TrainingConfig(),
                                     description="optimisation, validation, checkpoints")
    trainer: TrainerConfig = Field(default=TrainerConfig(),
                                   description="devices and precision (lightning.Trainer)")
    compression: CompressionConfig = Field(default=CompressionConfig(),
                                           description="a PCA of the readout after training")

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
