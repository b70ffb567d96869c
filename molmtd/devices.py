"""Choose the device a model runs on: a requested GPU falls back to the CPU with a warning."""

from __future__ import annotations

import logging
import warnings

__all__ = ["resolve_device", "onnx_providers"]

log = logging.getLogger(__name__)


def resolve_device(device: str | None) -> str | None:
    """``device`` if torch can use it, else "cpu" with a warning (None stays None).

    Args:
        device: a torch device string ("cpu", "cuda", "cuda:1", "mps") or None.
    """
    if device is None or str(device) == "cpu":
        return device
    import torch

    kind = str(device).split(":", 1)[0]
    if kind == "cuda":
        available = torch.cuda.is_available()
        if available and ":" in str(device):
            available = int(str(device).split(":", 1)[1]) < torch.cuda.device_count()
    elif kind == "mps":
        available = torch.backends.mps.is_available()
    else:
        raise ValueError(f"device {device!r}: expected cpu, cuda, cuda:N or mps")
    if available:
        return str(device)
    warnings.warn(f"device {device!r} is not available here (torch {torch.__version__}); "
                  "running on the CPU", RuntimeWarning, stacklevel=2)
    log.warning("device %r is not available; running on the CPU", device)
    return "cpu"


def onnx_providers(device: str | None) -> list[str]:
    """Execution providers of onnxruntime for ``device``: CUDA first when asked and installed.

    Asking for "cuda" without ``CUDAExecutionProvider`` (the CPU-only onnxruntime wheel;
    ``pip install onnxruntime-gpu`` brings it) falls back to the CPU with a warning.
    """
    providers = ["CPUExecutionProvider"]
    if device is None or not str(device).startswith("cuda"):
        return providers
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return ["CUDAExecutionProvider", *providers]
    warnings.warn("device 'cuda' asked for an ONNX teacher, but this onnxruntime has no "
                  "CUDAExecutionProvider (pip install onnxruntime-gpu); running on the CPU",
                  RuntimeWarning, stacklevel=2)
    return providers
