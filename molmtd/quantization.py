"""int8 inference for a trained student: the message-passing MLPs run as int8 matmuls.

About two thirds of the released featurizer's transform time is the student's forward
pass, and most of that is the two ``[N, d] x [d, d]`` matmuls of every GIN(E) layer's MLP
(benchmarks/RESULTS.md). :func:`quantize_student` swaps each of those Linears for an
:class:`Int8Linear`: int8 weights (one scale per output channel), each input row (one atom)
quantised to int8 with its own scale, an exact int32 matmul, then back to float32.

Why by hand, and not with a library:

- ``torch.ao.quantization.quantize_dynamic`` (fbgemm) quantises a whole batch with one
  scale, so an atom's result depends on the other molecules in its batch: on molmtd-base,
  shuffling the batches moved each embedding by 3.6% (relative L2, median), nearly its
  whole distance to fp32 (4.2%). A featurizer's row must depend on its molecule alone.
  torch.ao's eager quantisation is also deprecated.
- torchao's ``Int8DynamicActivationInt8WeightConfig`` computes what this module does (per-row
  activation scales, ``torch._int_mm``), through tensor subclasses whose dispatch made it
  1.1-1.8x faster than fp32 on a 300-wide MLP here, against 2.2x for this module, and it
  would be one more dependency.

Per-row scales make each atom's int8 result independent of its batch, up to float rounding
of the other layers. The atom/bond embedding tables, norms, pooling and the final
projection stay float32: the projection reads the pooled readout of every layer, whose
columns differ in scale by orders of magnitude, so it is kept exact.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

__all__ = ["PRECISIONS", "Int8Linear", "quantize_student"]

PRECISIONS = ("fp32", "int8")


class Int8Linear(nn.Module):
    """A Linear layer's weights in int8; inputs quantised per row; for inference only.

    ``y = (q(x) @ q(W).T) * s_x * s_W + b``, where ``q(W)`` is the weight in int8 with one
    symmetric scale per output channel and ``q(x)`` each row of the input with its own
    symmetric scale (``max |x_row| / 127``). The int8 matmul accumulates exactly in int32
    (``torch._int_mm``), so a row's output depends on that row alone.

    Args:
        linear: a float layer with ``weight [out, in]`` and optional ``bias`` (``nn.Linear``
            or torch_geometric's ``Linear``).

    Shapes:
        - **input:** ``[*, in_features]``
        - **output:** ``[*, out_features]`` float32
    """

    def __init__(self, linear: nn.Module):
        super().__init__()
        weight = linear.weight.detach().float()
        self.in_features, self.out_features = weight.shape[1], weight.shape[0]
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
        q = torch.round(weight / scale.unsqueeze(1)).to(torch.int8)
        self.register_buffer("weight_t", q.t().contiguous())  # [in, out], as _int_mm takes it
        self.register_buffer("weight_scale", scale)
        bias = getattr(linear, "bias", None)
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    def forward(self, x: Tensor) -> Tensor:
        shape = x.shape
        x = x.reshape(-1, self.in_features)
        x_scale = x.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
        xq = torch.round(x / x_scale).to(torch.int8)
        out = torch._int_mm(xq, self.weight_t).float()
        out.mul_(x_scale).mul_(self.weight_scale)
        if self.bias is not None:
            out.add_(self.bias)
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, int8 weights, per-row int8 inputs")


def _swap_linears(module: nn.Module) -> int:
    """Replace every Linear below ``module`` (torch's or torch_geometric's) by Int8Linear."""
    from torch_geometric.nn import Linear as PygLinear

    swapped = 0
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, PygLinear)):
            setattr(module, name, Int8Linear(child))
            swapped += 1
        else:
            swapped += _swap_linears(child)
    return swapped


def quantize_student(student: nn.Module) -> nn.Module:
    """Return an int8 copy of a trained student for CPU inference; ``student`` is unchanged.

    The Linear layers inside ``student.layers`` (each convolution's MLP) become
    :class:`Int8Linear`; everything else (embedding tables, norms, pooling, projection)
    stays float32. The copy is in eval mode and for inference only (no gradients).

    Args:
        student: a :class:`~molmtd.student.GNNStudent`.

    Returns:
        The quantised copy on the CPU, with the same forward methods and output shapes.

    Raises:
        RuntimeError: this torch has no int8 matmul (``torch._int_mm``), or the student's
            layers have no Linear to quantise.
    """
    if not hasattr(torch, "_int_mm"):  # a private op: say what to do if a torch drops it
        raise RuntimeError(f"precision='int8' needs torch._int_mm, which torch "
                           f"{torch.__version__} lacks; use precision='fp32' or torch 2.13 "
                           "(molmtd's pin)")
    quantized = copy.deepcopy(student).cpu().eval()
    if _swap_linears(quantized.layers) == 0:
        raise RuntimeError("precision='int8': the student's layers have no Linear to quantise")
    quantized.requires_grad_(False)
    return quantized
