"""``trainer.precision: auto``: bf16 autocast where the hardware computes in bf16 natively.

Whether bf16 autocast pays depends on the machine, not on the recipe. `make bench`, zinc
recipe's training step (benchmarks/RESULTS.md): on an AMD EPYC with avx512_bf16 it ran
847 mol/s against 429 in fp32 (2.0x); on an EPYC of the same family without it, 283 against
706 (0.4x: the bf16 matmuls are emulated). ``auto`` asks torch what the device supports and
picks bf16-mixed only where that is native; every other precision string goes to Lightning
unchanged.
"""

from __future__ import annotations

import torch

AUTO = "auto"
BF16 = "bf16-mixed"
FP32 = "32-true"
# torch's own CPU capability probes (private, hence looked up defensively): oneDNN runs bf16
# matmuls natively with AVX512-BF16 or AMX, and emulates them otherwise
_CPU_BF16_PROBES = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")


def native_bf16(device_type: str) -> bool:
    """Whether ``device_type`` ("cpu" or "cuda") computes bf16 matrix products natively."""
    if device_type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device_type == "cpu":
        return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in _CPU_BF16_PROBES)
    return False


def resolve_precision(precision: str | int, accelerator: str = "auto") -> str | int:
    """The Lightning precision to train with: ``precision`` itself unless it is ``"auto"``.

    ``auto`` gives bf16-mixed on a CUDA GPU with bf16, or on a CPU with native bf16 (when
    the accelerator is the CPU, or ``auto`` and no GPU is visible), and 32-true elsewhere
    (other accelerators included).
    """
    if precision != AUTO:
        return precision
    accelerator = str(accelerator).lower()
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        device = "cuda"
    elif accelerator in ("auto", "cpu"):
        device = "cpu"
    else:
        return FP32
    return BF16 if native_bf16(device) else FP32
