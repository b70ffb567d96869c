"""A fitted MTDRegressor / MTDClassifier on disk: safetensors weights, JSON, a card.

``model.safetensors`` holds every ensemble member's weights (``member{k}.<name>``);
``estimator.json`` the class, parameters and fitted attributes; ``card.md`` a summary.
Nothing is pickled, and loading never unpickles. Files are written atomically and
``estimator.json`` last, so a folder holding it holds a whole model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from molmtd.errors import ArtifactError
from molmtd.safeio import atomic_write, atomic_write_text

__all__ = ["save_estimator", "load_estimator", "ESTIMATOR_FILE", "WEIGHTS_FILE", "is_saved_model"]

FORMAT_VERSION = 1
ESTIMATOR_FILE = "estimator.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "card.md"
_FITTED = ("history_", "best_epochs_", "inner_splits_", "student_config_", "standardize_",
           "n_tasks_", "n_extra_", "n_train_molecules_", "n_features_in_", "_y_1d_")


def is_saved_model(directory: str | os.PathLike) -> bool:
    """Whether ``directory`` holds a finished saved model."""
    return (Path(directory) / ESTIMATOR_FILE).is_file()


def _jsonable(value):
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


def save_estimator(est, directory: str | os.PathLike, card: str | None = None,
                   extra: dict | None = None) -> Path:
    """Write ``est`` (fitted) to ``directory``; returns it.

    Args:
        est: a fitted MTDRegressor or MTDClassifier.
        directory: the model folder (created).
        card: card text (default: a short summary).
        extra: more JSON metadata (the CLI's data and target names).
    """
    from safetensors.numpy import save_file

    from molmtd import __version__

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ESTIMATOR_FILE).unlink(missing_ok=True)  # "unfinished" until written again
    tensors = {f"member{k}.{name}": np.ascontiguousarray(v)
               for k, state in enumerate(est.members_) for name, v in state.items()}
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_file(tensors, str(tmp)))
    fitted = {name: _jsonable(getattr(est, name)) for name in _FITTED}
    if hasattr(est, "classes_"):
        fitted["classes_"] = _jsonable(est.classes_)
    meta = {"format_version": FORMAT_VERSION, "molmtd_version": __version__,
            "estimator": type(est).__name__, "n_models": len(est.members_),
            "params": {k: _jsonable(v) for k, v in est.get_params().items()},
            "fitted": fitted, **(extra or {})}
    atomic_write_text(directory / CARD_FILE, card if card is not None else default_card(est))
    atomic_write_text(directory / ESTIMATOR_FILE, json.dumps(meta, indent=2))
    return directory


def default_card(est) -> str:
    """A short markdown summary of a fitted estimator."""
    lines = [f"# {type(est).__name__}", "",
             f"- encoder: {est.featurizer} ({'pretrained' if est.pretrained else 'random init'}),"
             f" readout {est.readout}",
             f"- extra features: {', '.join(est._extra_specs()) or 'none'}",
             f"- tasks: {est.n_tasks_}; training molecules: {est.n_train_molecules_}",
             f"- models: {len(est.members_)}; chosen epochs: {est.best_epochs_}"]
    return "\n".join(lines) + "\n"


def load_estimator(directory: str | os.PathLike, expected: type | None = None):
    """Load a model written by :func:`save_estimator`.

    Args:
        directory: the model folder.
        expected: the class it must be (None: whichever class it records).

    Raises:
        ArtifactError: missing or unreadable files, another format version, another
            class than ``expected``, or weights that are not safetensors.
    """
    from safetensors.numpy import load_file

    from molmtd.finetune.estimators import MTDClassifier, MTDRegressor

    directory = Path(directory)
    path = directory / ESTIMATOR_FILE
    if not path.is_file():
        hint = (" (it holds checkpoints of an unfinished run: rerun `molmtd finetune ... "
                "--resume`)" if (directory / "checkpoints").is_dir() else "")
        raise ArtifactError(f"{directory} holds no saved model ({ESTIMATOR_FILE} is missing)"
                            f"{hint}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"{path} is unreadable ({err})") from err
    if meta.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: format_version {meta.get('format_version')!r} is not "
                            f"supported (this molmtd reads {FORMAT_VERSION}); written by molmtd "
                            f"{meta.get('molmtd_version', 'unknown')}")
    classes = {"MTDRegressor": MTDRegressor, "MTDClassifier": MTDClassifier}
    cls = classes.get(meta.get("estimator"))
    if cls is None or (expected is not None and cls is not expected):
        raise ArtifactError(f"{directory} holds a {meta.get('estimator')!r}, not a "
                            f"{getattr(expected, '__name__', 'known estimator')}; load it with "
                            f"{meta.get('estimator')}.load")
    try:
        tensors = load_file(str(directory / WEIGHTS_FILE))
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        raise ArtifactError(f"{directory / WEIGHTS_FILE} is not a readable safetensors file "
                            f"({type(err).__name__}: {err}); molmtd never unpickles weights"
                            ) from err
    est = cls(**meta["params"])
    members: list[dict[str, np.ndarray]] = [{} for _ in range(int(meta["n_models"]))]
    for key, value in tensors.items():
        member, name = key.split(".", 1)
        members[int(member.removeprefix("member"))][name] = value
    est.members_ = members
    for name, value in meta["fitted"].items():
        if name == "classes_":
            value = np.asarray(value)
        setattr(est, name, value)
    est._nets = None
    return est
