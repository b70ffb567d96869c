"""SMILES language-model teachers: ChemNet (from the fcd wheel) and Hugging Face encoders.

Back-ends (fcd, transformers) are imported on first use; a missing one raises
:class:`~molmtd.errors.TeacherUnavailableError` with the pip command that installs it.
Nothing here touches the network unless a Hugging Face teacher is given
``allow_download=true``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.errors import InvalidMoleculeError, TeacherSpecError, TeacherUnavailableError
from molmtd.teachers.base import Teacher, TeacherOutput, register_teacher

# shared with the GNN teachers: optional imports, NaN-row assembly, pickling without models
from molmtd.teachers.gnn import _LazyTeacher, _output, _require, _version

__all__ = ["ChemNetTeacher", "HFTeacher"]

log = logging.getLogger(__name__)

CHEMNET_DIM = 512
# fcd pads every SMILES to 350 one-hot rows (349 characters plus its end token); a longer
# one would make fcd pad the whole batch further and change every row's output.
CHEMNET_PAD = 350


def _parse_reasons(smiles: list[str]) -> dict[int, str]:
    """Positions whose SMILES RDKit cannot read (a language model would embed them anyway)."""
    import datamol as dm

    from molmtd.molecules import to_mol

    reasons = {}
    with dm.without_rdkit_log():
        for i, s in enumerate(smiles):
            try:
                to_mol(s, i)
            except InvalidMoleculeError as err:
                reasons[i] = err.reason
    return reasons


# -- ChemNet ---------------------------------------------------------------------------
@register_teacher("chemnet", "smiles", "ChemNet (the FCD network), penultimate layer, 512-d")
class ChemNetTeacher(_LazyTeacher):
    """ChemNet activations as computed by ``fcd.get_predictions``, from the fcd wheel's weights.

    SMILES are one-hot encoded with fcd's own ``SmilesDataset`` at its default padding
    of 350, so rows equal ``fcd.get_predictions(fcd.load_ref_model(), smiles)``. Masked:
    empty or RDKit-unparseable SMILES, and SMILES longer than 349 characters (fcd would
    pad the whole batch further, changing every molecule's output).

    Args:
        batch_size: molecules per forward pass (fcd's default is 128).
        device: torch device.
    """

    def __init__(self, batch_size: int = 128, device: str = "cpu"):
        self.batch_size = batch_size
        self.device = device

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("fcd") is None:
            return False, "fcd is not installed: pip install 'molmtd[chemnet]'"
        return True, ""

    @property
    def dim(self) -> int:
        return CHEMNET_DIM

    @property
    def version(self) -> str:
        return f"fcd={_version('fcd')},torch={_version('torch')}"

    def _load(self):
        if getattr(self, "_model", None) is None:
            fcd = _require("fcd", "chemnet")
            model = fcd.load_ref_model()  # lru-cached and shared: copy before moving it
            if str(self.device) != "cpu":
                import copy

                model = copy.deepcopy(model).to(self.device)
            self._model = model.eval()
        return self._model

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        import torch
        from fcd.utils import SmilesDataset

        smiles = list(smiles)
        model = self._load()
        reasons = _parse_reasons(smiles)
        for i, s in enumerate(smiles):
            if i not in reasons and len(s) >= CHEMNET_PAD:
                reasons[i] = (f"SMILES of {len(s)} characters exceeds ChemNet's limit of "
                              f"{CHEMNET_PAD - 1}")
        rows = [i for i in range(len(smiles)) if i not in reasons]
        parts = []
        with torch.inference_mode():
            for s in range(0, len(rows), self.batch_size):
                chunk = [smiles[i] for i in rows[s:s + self.batch_size]]
                data = SmilesDataset(chunk, pad_len=CHEMNET_PAD, warn=False)
                x = torch.from_numpy(np.stack([data[j] for j in range(len(chunk))]))
                parts.append(model(x.transpose(1, 2).float().to(self.device)).float().cpu().numpy())
        values = np.concatenate(parts) if parts else np.zeros((0, CHEMNET_DIM), np.float32)
        return _output(len(smiles), CHEMNET_DIM, rows, values, reasons)


# -- Hugging Face ----------------------------------------------------------------------
_HUB_IGNORE = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "*.tflite", "flax_*", "tf_*",
               "rust_model*", "onnx/*", "coreml/*"]


def _looks_like_path(text: str) -> bool:
    # hub ids are "name" or "org/name"; anything else is meant as a directory
    return (text.startswith((".", "/", "~")) or text.count("/") > 1
            or os.sep in text.replace("/", ""))


@register_teacher("hf", "smiles",
                  "a Hugging Face encoder (ChemBERTa, MolFormer...) from a local folder or cache")
class HFTeacher(_LazyTeacher):
    """Pooled last hidden states of a Hugging Face transformer encoder over SMILES.

    ``model`` is a local directory (as written by ``save_pretrained``) or a hub id
    ("DeepChem/ChemBERTa-77M-MLM"), looked up in the local Hugging Face cache only:
    nothing is downloaded unless ``allow_download=true`` (and ``HF_HUB_OFFLINE`` is not
    set). When the model is absent, the error names it, the cache folder to put it in
    and the command that downloads it on a machine with internet.

    SMILES are tokenised with the model's own tokenizer, truncated to ``max_length``
    tokens (a warning counts truncated ones) and batched by length; batches are padded
    and pooled with the attention mask, so padding never changes a molecule's row (up to
    float rounding). Empty or RDKit-unparseable SMILES are masked.

    Args:
        model: directory or hub id.
        pooling: "mean" (attention-mask-aware mean over tokens, special tokens included)
            or "cls" (the first token's hidden state).
        max_length: maximum tokens per SMILES, special tokens included (capped by the
            tokenizer's ``model_max_length``).
        allow_download: fetch a hub model that is not cached (needs network).
        trust_remote_code: run the model repository's own code (MolFormer needs it);
            only for repositories you trust.
        batch_size: molecules per forward pass.
        device: torch device.
    """

    # allow_download changes where the files come from, not what the teacher outputs
    runtime_params = Teacher.runtime_params | {"allow_download"}

    def __init__(self, model: str, pooling: str = "mean", max_length: int = 512,
                 allow_download: bool = False, trust_remote_code: bool = False,
                 batch_size: int = 64, device: str = "cpu"):
        self.model = model
        self.pooling = pooling
        self.max_length = max_length
        self.allow_download = allow_download
        self.trust_remote_code = trust_remote_code
        self.batch_size = batch_size
        self.device = device

    @classmethod
    def available(cls) -> tuple[bool, str]:
        missing = [m for m in ("transformers", "tokenizers", "huggingface_hub")
                   if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"{' and '.join(missing)} not installed: pip install 'molmtd[hf]'"
        return True, ""

    # -- locating the files ------------------------------------------------------------
    def _absent(self, why: str) -> TeacherUnavailableError:
        hub = _require("huggingface_hub", "hf")
        cache = Path(hub.constants.HF_HUB_CACHE)
        folder = cache / ("models--" + str(self.model).replace("/", "--"))
        offline = " (HF_HUB_OFFLINE is set, so downloads are off)" if os.environ.get(
            "HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") else ""
        return TeacherUnavailableError(
            f"Hugging Face model {self.model!r} is not on this machine: {why}. "
            f"It is looked up in the local cache at {folder}{offline}. To put it there, run "
            f"on a machine with internet `hf download {self.model}` (or python -c \"from "
            f"huggingface_hub import snapshot_download; snapshot_download('{self.model}')\") "
            f"and copy {folder} to the same place here (or set HF_HOME to where it lies); "
            f"or save the model with save_pretrained() into a directory and pass "
            f"hf:model=/path/to/that/directory; or let molmtd download it with "
            f"hf:model={self.model},allow_download=true.")

    def local_dir(self) -> Path:
        """The directory the model loads from (downloading it first only if allowed).

        Raises:
            TeacherUnavailableError: the model is not on disk (and may not be downloaded).
        """
        if getattr(self, "_dir", None) is not None:
            return self._dir
        text = str(self.model)
        path = Path(text).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise TeacherUnavailableError(
                    f"Hugging Face model directory {path} has no config.json; put the files "
                    "written by save_pretrained() (config.json, weights, tokenizer files) there")
            self._dir = path
            return path
        if path.exists() or _looks_like_path(text):
            raise TeacherUnavailableError(
                f"Hugging Face model directory {path} does not exist; save the model and its "
                "tokenizer there with save_pretrained(), or pass a hub id such as "
                "hf:model=DeepChem/ChemBERTa-77M-MLM")
        hub = _require("huggingface_hub", "hf")
        from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

        try:
            found = hub.snapshot_download(text, local_files_only=True)
        except HFValidationError as err:
            raise TeacherUnavailableError(
                f"Hugging Face model {text!r} is neither an existing directory nor a valid hub "
                f"id ('org/name'): {err}") from err
        except LocalEntryNotFoundError as err:
            if not self.allow_download:
                raise self._absent("it is not in the local cache and allow_download is "
                                   "false") from err
            try:
                found = hub.snapshot_download(text, ignore_patterns=_HUB_IGNORE)
            except Exception as err2:  # network, auth, unknown repo: the cause is kept
                raise self._absent(f"downloading failed ({type(err2).__name__}: "
                                   f"{err2})") from err2
        self._dir = Path(found)
        return self._dir

    @property
    def version(self) -> str:
        if getattr(self, "_version", None) is None:
            folder = self.local_dir()
            h = hashlib.sha256()
            for f in sorted(folder.iterdir()):
                if f.is_file() and f.suffix in (".json", ".txt", ".model", ".py",
                                                ".safetensors", ".bin"):
                    h.update(f.name.encode())
                    with open(f, "rb") as fh:
                        for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                            h.update(block)
            self._version = f"transformers={_version('transformers')},files={h.hexdigest()[:16]}"
        return self._version

    # -- loading -------------------------------------------------------------------------
    def _check(self) -> None:
        if self.pooling not in ("mean", "cls"):
            raise TeacherSpecError(f"hf teacher: pooling must be 'mean' or 'cls', got "
                                   f"{self.pooling!r}")
        if not isinstance(self.max_length, int) or self.max_length < 2:
            raise TeacherSpecError(f"hf teacher: max_length must be an integer >= 2, got "
                                   f"{self.max_length!r}")

    def _load_config(self):
        if getattr(self, "_config", None) is None:
            self._check()
            transformers = _require("transformers", "hf")
            folder = self.local_dir()
            try:
                self._config = transformers.AutoConfig.from_pretrained(
                    str(folder), local_files_only=True, trust_remote_code=self.trust_remote_code)
            except ValueError as err:
                if "trust_remote_code" in str(err):
                    raise TeacherSpecError(
                        f"Hugging Face model {self.model!r} ships its own code; if you trust "
                        "it, pass trust_remote_code=true") from err
                raise
        return self._config

    def _load(self):
        if getattr(self, "_net", None) is not None:
            return self._tokenizer, self._net
        import torch

        transformers = _require("transformers", "hf")
        config = self._load_config()
        folder = str(self.local_dir())
        common = dict(local_files_only=True, trust_remote_code=self.trust_remote_code)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **common)
            net = transformers.AutoModel.from_pretrained(folder, config=config,
                                                         dtype=torch.float32, **common)
        except (OSError, ValueError) as err:
            raise TeacherUnavailableError(
                f"Hugging Face model {self.model!r} in {folder} could not be loaded "
                f"({type(err).__name__}: {err}); it needs config.json, the weights and the "
                "tokenizer files written by save_pretrained()") from err
        if getattr(net.config, "is_encoder_decoder", False):
            net = net.get_encoder()
        net.eval().to(self.device)
        self._tokenizer, self._net = tokenizer, net
        log.info("loaded Hugging Face model %s from %s", self.model, folder)
        return tokenizer, net

    @property
    def dim(self) -> int:
        config = self._load_config()
        size = getattr(config, "hidden_size", None) or getattr(config, "d_model", None)
        if size is None:  # unusual config: ask the model itself
            self._load()
            return int(self._net.get_input_embeddings().embedding_dim)
        return int(size)

    def _max_tokens(self, tokenizer) -> int:
        limit = getattr(tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 1_000_000:
            return min(self.max_length, limit)
        return self.max_length

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        import torch

        smiles = list(smiles)
        tokenizer, net = self._load()
        dim = self.dim
        reasons = _parse_reasons(smiles)
        rows = [i for i in range(len(smiles)) if i not in reasons]
        # longest first, so each batch pads to similar lengths (stable: deterministic)
        rows.sort(key=lambda i: -len(smiles[i]))
        max_tokens = self._max_tokens(tokenizer)
        parts, truncated = [], 0
        with torch.inference_mode():
            for s in range(0, len(rows), self.batch_size):
                chunk = [smiles[i] for i in rows[s:s + self.batch_size]]
                enc = tokenizer(chunk, padding=True, truncation=True, max_length=max_tokens,
                                return_tensors="pt")
                mask = enc["attention_mask"]
                truncated += int((mask.sum(1) >= max_tokens).sum())
                inputs = {k: v.to(self.device) for k, v in enc.items()
                          if k in ("input_ids", "attention_mask", "token_type_ids")}
                hidden = net(**inputs).last_hidden_state.float()
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    m = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                parts.append(pooled.cpu().numpy())
        if truncated:
            log.warning("%d SMILES reached max_length=%d tokens and were truncated",
                        truncated, max_tokens)
        values = np.concatenate(parts) if parts else np.zeros((0, dim), np.float32)
        return _output(len(smiles), dim, rows, values, reasons)
