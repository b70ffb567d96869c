"""int8 inference for a trained student: the message-passing MLPs with dynamic quantisation.

About two thirds of the released featurizer's transform time is the student's forward
pass, and most of that is the two ``[N, d] x [d, d]`` matmuls of every GIN(E) layer's MLP
(benchmarks/RESULTS.md). PyTorch's dynamic int8 quantisation (int8 weights, activations
quantised per batch, fbgemm's VNNI kernels on x86) runs those matmuls several times faster
on a CPU. Measured on molmtd-base (``benchmarks/int8_featurizer.py``): see the README's
performance table for the speed-up and the distance to the fp32 embeddings.

Only the per-layer MLPs are quantised. The atom/bond embedding tables are look-ups, and the
final projection reads the concatenated, pooled readout of every layer, whose columns differ
in scale by orders of magnitude: one int8 scale per batch for all of them (what dynamic
quantisation uses) loses most of the signal (measured: relative error ~1 on molmtd-base).

Written on ``torch.ao.quantization.quantize_dynamic``, the one int8 path in the torch that
molmtd pins (2.13.0) that needs no compiler; PyTorch marks it deprecated in favour of
torchao, whose eager int8 kernels ran 3-4x slower than fbgemm's on this CPU (a 300-wide MLP,
one thread). torch_geometric's
``Linear`` is swapped for ``torch.nn.Linear`` (same weights) first, because
``quantize_dynamic`` matches module types exactly.
"""

from __future__ import annotations

import copy
import warnings

from torch import nn

__all__ = ["PRECISIONS", "quantize_student"]

PRECISIONS = ("fp32", "int8")


def _as_torch_linear(layer: nn.Module) -> nn.Linear:
    lin = nn.Linear(layer.in_channels, layer.out_channels, bias=layer.bias is not None)
    lin.weight.data.copy_(layer.weight.data)
    if layer.bias is not None:
        lin.bias.data.copy_(layer.bias.data)
    return lin


def _swap_pyg_linears(module: nn.Module) -> int:
    """Replace every torch_geometric ``Linear`` below ``module`` by ``nn.Linear``; count them."""
    from torch_geometric.nn import Linear as PygLinear

    swapped = 0
    for name, child in module.named_children():
        if isinstance(child, PygLinear):
            setattr(module, name, _as_torch_linear(child))
            swapped += 1
        else:
            swapped += _swap_pyg_linears(child)
    return swapped


def quantize_student(student: nn.Module) -> nn.Module:
    """Return an int8 copy of a trained student for CPU inference; ``student`` is unchanged.

    The Linear layers inside ``student.layers`` (each convolution's MLP) become dynamically
    quantised int8 Linears; everything else (embedding tables, norms, pooling, projection)
    stays float32. The copy is in eval mode and for inference only (no gradients).

    Args:
        student: a :class:`~molmtd.student.GNNStudent` on the CPU.

    Returns:
        The quantised copy, with the same forward methods and output shapes.

    Raises:
        RuntimeError: this torch build has no dynamic int8 quantisation, or the student
            has no Linear layer to quantise.
    """
    import torch

    try:
        from torch.ao.quantization import quantize_dynamic
    except ImportError as err:  # removed from a future torch: say what to do
        raise RuntimeError(
            f"precision='int8' needs torch.ao.quantization.quantize_dynamic, which torch "
            f"{torch.__version__} lacks; use precision='fp32' or torch 2.13 (molmtd's pin)"
        ) from err
    quantized = copy.deepcopy(student).cpu().eval()
    if _swap_pyg_linears(quantized.layers) == 0:
        raise RuntimeError("precision='int8': the student's layers have no Linear to quantise")
    with warnings.catch_warnings():
        # the deprecation notices of torch.ao (see the module docstring) are not the user's
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized.layers = quantize_dynamic(quantized.layers, {nn.Linear}, dtype=torch.qint8)
    return quantized
