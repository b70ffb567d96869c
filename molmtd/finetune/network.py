"""The fine-tuning network: a GNNStudent encoder, a readout, extra features, an FFN head.

``readout="embedding"`` reads the student's distilled embedding (``out_dim``, 512 for
molmtd-base); ``"layers"`` reads every layer's pooled states before the projection
(``layers_dim``, 3000 for molmtd-base). The readout and the extra features are z-scored with
statistics fixed at the start of ``fit`` (kept as buffers, so a saved model predicts from its
weights alone): without it a head on sum-pooled states and ECFP counts starts far from unit
scale and the frozen-encoder epochs spend themselves rescaling. Target scaling (regression)
is also a buffer, so :meth:`FineTuneNet.predict_units` returns values in the user's units
(chemprop's ``UnscaleTransform``, the same idea).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from molmtd.student import GNNStudent

__all__ = ["FineTuneNet", "READOUTS"]

READOUTS = ("embedding", "layers")
#: bound on z-scored extra features (as molmtd.downstream.models.Z_CLIP for the probes)
EXTRA_CLIP = 10.0


class FineTuneNet(nn.Module):
    """Encoder + readout + optional extra features -> FFN head with ``n_tasks`` outputs.

    Args:
        encoder: the GNN student (pretrained or freshly built).
        readout: "embedding" or "layers".
        n_extra: width of the extra molecule-level features (0 = none).
        n_tasks: outputs (one per regression target or binary task).
        head_hidden: hidden width of the FFN head.
        head_layers: hidden layers of the head (0 = a linear head).
        dropout: dropout before each Linear of the head.

    Shapes:
        - **input:** a torch_geometric ``Batch`` of ``B`` molecules and extra ``[B, n_extra]``
        - **output:** ``[B, n_tasks]`` (standardised targets, or logits)
    """

    def __init__(self, encoder: GNNStudent, readout: str, n_extra: int, n_tasks: int,
                 head_hidden: int = 256, head_layers: int = 1, dropout: float = 0.1):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"The 'readout' parameter must be one of {READOUTS}. Got "
                             f"{readout!r} instead.")
        self.encoder = encoder
        self.readout = readout
        self.readout_dim = encoder.layers_dim if readout == "layers" else encoder.out_dim
        in_dim = self.readout_dim + n_extra
        self.register_buffer("feature_mean", torch.zeros(in_dim))
        self.register_buffer("feature_scale", torch.ones(in_dim))
        self.register_buffer("target_mean", torch.zeros(n_tasks))
        self.register_buffer("target_scale", torch.ones(n_tasks))
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(head_layers):
            layers += [nn.Dropout(dropout), nn.Linear(width, head_hidden), nn.ReLU()]
            width = head_hidden
        layers += [nn.Dropout(dropout), nn.Linear(width, n_tasks)]
        self.head = nn.Sequential(*layers)

    def encode(self, batch) -> Tensor:
        """The readout of a batch, ``[B, readout_dim]`` (not z-scored)."""
        if self.readout == "layers":
            return self.encoder.layer_embeddings(batch)
        return self.encoder.forward_batch(batch)

    def head_forward(self, readout: Tensor, extra: Tensor) -> Tensor:
        """The head on a readout (possibly cached) and extra features, ``[B, n_tasks]``.

        Extra features are clipped to ``EXTRA_CLIP`` once z-scored: an ECFP bit that fires
        once in the training set z-scores to ~20, and one a test molecule alone has would
        reach the scale floor's 1/0.01 (R2 -1.7 on a scaffold split before the clip).
        """
        z = (readout - self.feature_mean[:self.readout_dim]) / self.feature_scale[:self.readout_dim]
        if not extra.shape[1]:
            return self.head(z)
        z_extra = ((extra - self.feature_mean[self.readout_dim:])
                   / self.feature_scale[self.readout_dim:]).clamp(-EXTRA_CLIP, EXTRA_CLIP)
        return self.head(torch.cat([z, z_extra], dim=1))

    def forward(self, batch, extra: Tensor) -> Tensor:
        return self.head_forward(self.encode(batch), extra)

    def predict_units(self, batch, extra: Tensor) -> Tensor:
        """Outputs in the user's units (targets unscaled; logits unchanged for classifiers)."""
        return self.forward(batch, extra) * self.target_scale + self.target_mean
