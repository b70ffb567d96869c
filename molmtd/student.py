"""The student: a GNN encoder over categorical atom/bond features, built from torch-geometric.

Atom and bond features (see :mod:`molmtd.graphs`) are embedded by table look-ups. Each
layer that reads bonds gets its own bond embedding at the width the convolution needs, so
no layer applies a Linear to every edge: GINEConv is called without ``edge_dim`` (its
``edge_dim`` adds a width x width Linear over all edges, about half of a layer's time in
the reference, although bond features take only a handful of distinct values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric import nn as gnn

from molmtd.errors import ShapeError

__all__ = ["GNNStudent", "FeatureEmbedding", "GNNLayer", "VirtualNode", "list_components",
           "laplacian_encoding", "random_walk_encoding"]


class FeatureEmbedding(nn.Module):
    """Sum over categorical columns of one learned vector per value (OGB's AtomEncoder).

    One ``nn.EmbeddingBag(mode="sum")`` over offset indices computes the same sum as one
    ``nn.Embedding`` per column, in one kernel (measured 2x faster forward+backward on CPU
    for 12k edges at width 300). Each column's table is initialised like OGB's encoders.

    When the used columns have few value combinations (at most ``max_combinations``: the
    bond features have 5*7*2*2 = 140), the sum is computed once per combination, a
    ``[combinations, out_dim]`` table, and gathered by combination id (``F.embedding``):
    the same values and parameters, but no per-row bag reduction and a backward pass
    that scatters into 140 rows instead of sorting 4 indices per edge (measured 2.4-3x
    faster forward+backward for 11k edges at width 512, benchmarks/trainer.py profile).
    torch_geometric has no such encoder; this is the "compute once per distinct
    combination and gather" the reference's per-edge Linear lacks.

    Args:
        feature_dims: vocabulary size of each column.
        out_dim: embedding width.
        columns: indices of the columns to embed (None = all); the others are ignored, so
            a student can be trained on a subset of the stored features.
        max_combinations: largest number of value combinations of the used columns for
            which the combination table is used (0 = never).

    Shapes:
        - **input:** long ``[N, len(feature_dims)]``
        - **output:** ``[N, out_dim]``
    """

    def __init__(self, feature_dims: Sequence[int], out_dim: int,
                 columns: Sequence[int] | None = None, max_combinations: int = 4096):
        super().__init__()
        self.feature_dims = [int(d) for d in feature_dims]
        all_columns = list(range(len(self.feature_dims)))
        self.columns = all_columns if columns is None else [int(c) for c in columns]
        if not self.columns or len(set(self.columns)) != len(self.columns) or not set(
                self.columns) <= set(all_columns):
            raise ValueError(f"{type(self).__name__} columns must be distinct indices in "
                             f"[0, {len(self.feature_dims)}). Got {columns!r} instead.")
        self.out_dim = out_dim
        used = [self.feature_dims[c] for c in self.columns]
        self.bag = nn.EmbeddingBag(sum(used), out_dim, mode="sum")
        offsets = torch.tensor([0, *used[:-1]]).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.register_buffer("column_index", torch.tensor(self.columns), persistent=False)
        self.select = self.columns != all_columns
        n_combinations = math.prod(used)
        self.use_table = n_combinations <= max_combinations
        if self.use_table:
            # every combination of the used columns' values, row-major, as bag indices;
            # combination id of a row = sum(value_c * stride_c)
            grids = torch.meshgrid(*[torch.arange(d) for d in used], indexing="ij")
            combos = torch.stack([g.reshape(-1) for g in grids], dim=1)
            strides = [math.prod(used[c + 1:]) for c in range(len(used))]
            self.register_buffer("combinations", combos + offsets, persistent=False)
            self.register_buffer("strides", torch.tensor(strides), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for start, c in zip(self.offsets.tolist(), self.columns, strict=True):
                nn.init.xavier_uniform_(self.bag.weight[start:start + self.feature_dims[c]])

    def forward(self, features: Tensor) -> Tensor:
        if features.dim() != 2 or features.size(1) != len(self.feature_dims):
            raise ShapeError(f"{type(self).__name__} input (categorical feature indices)",
                             ("N", len(self.feature_dims)), tuple(features.shape))
        if self.select:
            features = features.index_select(1, self.column_index)
        if self.use_table:
            table = self.bag(self.combinations)  # [combinations, out_dim]
            return F.embedding(features @ self.strides, table)
        return self.bag(features + self.offsets)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.feature_dims}, {self.out_dim})"


# -- registries ---------------------------------------------------------------------------
GAT_HEADS = 4
JK_MODES = ("last", "cat", "max")


def _bond_rank(hidden_dim: int, bond_feature_dims: Sequence[int]) -> int:
    # A sum of per-feature embeddings spans at most sum(bond_feature_dims) dimensions, so
    # a wider edge input to GAT's own edge Linear would add cost and no expressiveness.
    return min(hidden_dim, sum(bond_feature_dims))


@dataclass(frozen=True)
class _Conv:
    build: Callable[[int, int | None], nn.Module]  # (hidden_dim, edge width) -> layer
    edge_width: Callable[[int, Sequence[int]], int | None]  # None: the conv ignores bonds


def _mlp(d: int) -> nn.Module:
    # Linear, ReLU, Linear; the ReLU rectifies the first Linear's fresh output in place
    # (one [N, d] allocation less per layer; autograd-safe: addmm's backward does not read
    # its output)
    return gnn.MLP([d, d, d], norm=None, act_kwargs={"inplace": True})


class _GINEConv(gnn.GINEConv):
    """torch_geometric's ``GINEConv``, its message computed in place at inference.

    Without ``edge_dim`` and with no gradient recorded, ``x_j`` is a fresh gather of the
    source atoms' states (``index_select``, ``[E, d]``), so ``relu(x_j + bond)`` can be
    written into it: two ``[E, d]`` allocations fewer per layer, the same values (the
    profile of ``benchmarks/featurizer.py`` had the message's add and ReLU at ~15% of the
    forward). While training, the parent's message runs. Parameters and state-dict keys
    are the parent's.
    """

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        if torch.is_grad_enabled() or self.lin is not None or x_j.size(-1) != edge_attr.size(-1):
            return super().message(x_j, edge_attr)
        return x_j.add_(edge_attr).relu_()


CONVS: dict[str, _Conv] = {
    "gine": _Conv(lambda d, e: _GINEConv(_mlp(d)), lambda d, bonds: d),
    "gin": _Conv(lambda d, e: gnn.GINConv(_mlp(d)), lambda d, bonds: None),
    "gat": _Conv(lambda d, e: gnn.GATConv(d, d // GAT_HEADS, heads=GAT_HEADS, edge_dim=e),
                 _bond_rank),
    "gatv2": _Conv(lambda d, e: gnn.GATv2Conv(d, d // GAT_HEADS, heads=GAT_HEADS, edge_dim=e),
                   _bond_rank),
    "graphsage": _Conv(lambda d, e: gnn.SAGEConv(d, d), lambda d, bonds: None),
}
# name -> (factory, whether forward takes (x, batch, batch_size))
NORMS: dict[str, tuple[Callable[[int], nn.Module], bool]] = {
    "layer": (lambda d: gnn.LayerNorm(d, mode="node"), False),  # per atom, as the reference
    "batch": (lambda d: gnn.BatchNorm(d, allow_single_element=True), False),
    "graph": (lambda d: gnn.GraphNorm(d), True),
    "none": (lambda d: nn.Identity(), False),
}
POOLINGS: dict[str, Callable[[int], gnn.Aggregation]] = {
    "mean": lambda d: gnn.MeanAggregation(),
    "sum": lambda d: gnn.SumAggregation(),
    "max": lambda d: gnn.MaxAggregation(),
    # no gate bias: the softmax over a molecule's atoms cancels it (its gradient is zero)
    "attention": lambda d: gnn.AttentionalAggregation(gate_nn=nn.Linear(d, 1, bias=False)),
    # the mean (what a molecule is like) beside the sum (how much of it there is): mean
    # pooling alone hides molecule size, which size-extensive properties such as melting
    # and boiling points need (docs/EXPERIMENTS.md, 2026-12-02-ten-heldout-tasks's size probe)
    "mean+sum": lambda d: gnn.MultiAggregation(["mean", "sum"]),
    # and the max beside them: whether an atom environment occurs at all, which the mean dilutes
    # and the sum confounds with how often it occurs (2026-12-02-max-pooling's readout ablation)
    "mean+sum+max": lambda d: gnn.MultiAggregation(["mean", "sum", "max"]),
}
# poolings that return several aggregations side by side: how many times the pooled width
POOLING_WIDTH: dict[str, int] = {"mean+sum": 2, "mean+sum+max": 3}
# poolings that reduce every feature column on its own (not attention, whose gate reads
# all columns): pooling each layer's states equals pooling their concatenation
COLUMNWISE_POOLINGS = frozenset({"mean", "sum", "max", "mean+sum", "mean+sum+max"})


def list_components() -> dict[str, list[str]]:
    """The names :class:`GNNStudent` accepts for ``conv``, ``norm`` and ``pooling``."""
    return {"conv": sorted(CONVS), "norm": sorted(NORMS), "pooling": sorted(POOLINGS)}


# -- one layer ----------------------------------------------------------------------------
def _check(ok: bool, name: str, value, expected: str, owner: str = "GNNStudent") -> None:
    if not ok:
        raise ValueError(f"The {name!r} parameter of {owner} must be {expected}. "
                         f"Got {value!r} instead.")


def _is_int(value, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


class GNNLayer(nn.Module):
    """Convolution (with its own bond embedding), norm, ReLU, dropout, optional residual.

    Args:
        conv: a name of :func:`list_components` ``["conv"]``.
        hidden_dim: node width in and out.
        bond_feature_dims: vocabulary sizes of the bond features.
        norm: a name of :func:`list_components` ``["norm"]``.
        activation: apply ReLU (the student's last layer has none).
        dropout: dropout probability on the layer output.
        residual: add the layer input to its output.
        bond_columns: bond feature columns to read (None = all).

    Shapes:
        - **input:** h ``[N, hidden_dim]``, edge_index ``[2, E]``, edge_attr long
          ``[E, len(bond_feature_dims)]``, batch ``[N]``
        - **output:** ``[N, hidden_dim]``
    """

    def __init__(self, conv: str, hidden_dim: int, bond_feature_dims: Sequence[int], *,
                 norm: str = "layer", activation: bool = True, dropout: float = 0.0,
                 residual: bool = False, bond_columns: Sequence[int] | None = None):
        super().__init__()
        for name, value, table in (("conv", conv, CONVS), ("norm", norm, NORMS)):
            _check(value in table, name, value, f"one of {sorted(table)}", type(self).__name__)
        spec = CONVS[conv]
        edge_width = spec.edge_width(hidden_dim, bond_feature_dims)
        self.conv = spec.build(hidden_dim, edge_width)
        self.bond_encoder = (None if edge_width is None
                             else FeatureEmbedding(bond_feature_dims, edge_width, bond_columns))
        make_norm, self.norm_takes_batch = NORMS[norm]
        self.norm = make_norm(hidden_dim)
        self.activation = activation
        self.dropout = dropout
        self.residual = residual

    def reset_parameters(self) -> None:
        self.conv.reset_parameters()
        if self.bond_encoder is not None:
            self.bond_encoder.reset_parameters()
        if hasattr(self.norm, "reset_parameters"):
            self.norm.reset_parameters()

    def forward(self, h: Tensor, edge_index: Tensor, edge_attr: Tensor | None, batch: Tensor,
                num_graphs: int) -> Tensor:
        if self.bond_encoder is None:
            out = self.conv(h, edge_index)
        else:
            if edge_attr is None:
                raise ValueError(f"conv {type(self.conv).__name__} reads bond features: pass "
                                 "edge_attr (long [E, len(bond_feature_dims)])")
            out = self.conv(h, edge_index, self.bond_encoder(edge_attr))
        out = self.norm(out, batch, num_graphs) if self.norm_takes_batch else self.norm(out)
        if self.activation:  # in place at inference: the norm's output is fresh
            out = out.relu() if torch.is_grad_enabled() else out.relu_()
        out = F.dropout(out, self.dropout, self.training)
        return h + out if self.residual else out



# -- what a 5-bond receptive field cannot see ----------------------------------------------
def random_walk_encoding(edge_index: Tensor, batch: Tensor, num_graphs: int,
                         steps: int) -> Tensor:
    """Return probabilities of 1..steps-step random walks, per atom (RWPE, Dwivedi et al.).

    The same values as torch_geometric's ``AddRandomWalkPE`` transform, computed for a whole
    batch at once on the GPU/CPU inside the model: molecules are small, so each graph's
    transition matrix is dense (``to_dense_adj``, [B, n_max, n_max]) and the walk is a
    batched matmul. The transform runs per ``Data`` in the loader, and would have to be
    stored with every graph or recomputed at inference; here it costs one ``bmm`` per step.

    Shapes:
        - **input:** edge_index ``[2, E]``, batch ``[N]``
        - **output:** ``[N, steps]``
    """
    from torch_geometric.utils import to_dense_adj, to_dense_batch

    adj = to_dense_adj(edge_index, batch, batch_size=num_graphs)  # [B, n, n]
    deg = adj.sum(-1, keepdim=True)
    walk = adj / deg.clamp(min=1)  # an isolated atom has no walk: all its probabilities stay 0
    _, mask = to_dense_batch(batch.new_zeros(batch.size(0), 1), batch, batch_size=num_graphs)
    current, out = walk, []
    for step in range(steps):
        out.append(current.diagonal(dim1=-2, dim2=-1))
        if step + 1 < steps:
            current = current @ walk
    return torch.stack(out, dim=-1)[mask]


def laplacian_encoding(edge_index: Tensor, batch: Tensor, num_graphs: int, k: int,
                       sign_flip: bool = False) -> Tensor:
    """Return the k lowest non-trivial eigenvectors of each molecule's Laplacian, per atom.

    The symmetric normalised Laplacian ``I - D^-1/2 A D^-1/2`` (what torch_geometric's
    ``AddLaplacianEigenvectorPE`` uses), decomposed for a whole batch at once: one batched
    ``torch.linalg.eigh`` of the dense ``[B, n_max, n_max]`` matrices, inside the model,
    for the reason given in :func:`random_walk_encoding`. Padding atoms get a diagonal
    of 3 (above the normalised Laplacian's spectrum, which lies in [0, 2]), so their
    eigenvectors sort last and never mix with a molecule's own. The first eigenvector
    (eigenvalue 0, no positional information) is dropped; a molecule with fewer than
    ``k + 1`` atoms gets zeros in the columns it lacks.

    An eigenvector's sign is arbitrary, so ``sign_flip`` (for training) multiplies each
    molecule's eigenvectors by random signs, as in Dwivedi et al. 2020 and GraphGPS.

    Shapes:
        - **input:** edge_index ``[2, E]``, batch ``[N]``
        - **output:** ``[N, k]``
    """
    from torch_geometric.utils import to_dense_adj, to_dense_batch

    adj = to_dense_adj(edge_index, batch, batch_size=num_graphs)  # [B, n, n]
    _, mask = to_dense_batch(batch.new_zeros(batch.size(0), 1), batch, batch_size=num_graphs)
    deg = adj.sum(-1)
    inv_sqrt = deg.clamp(min=1).rsqrt() * (deg > 0)
    lap = -inv_sqrt.unsqueeze(-1) * adj * inv_sqrt.unsqueeze(-2)
    # atoms: 1 on the diagonal (0 for an isolated atom, as in the transform); padding: 3
    diag = torch.where(mask, (deg > 0).to(adj.dtype), torch.full_like(deg, 3.0))
    lap = lap + torch.diag_embed(diag)
    _, vectors = torch.linalg.eigh(lap)  # ascending eigenvalues, [B, n, n]
    vectors = vectors[..., 1:k + 1]
    if vectors.size(-1) < k:  # every molecule of the batch has at most k atoms
        vectors = F.pad(vectors, (0, k - vectors.size(-1)))
    # a molecule of m atoms has m - 1 non-trivial eigenvectors; the rest are padding's
    atoms = mask.sum(-1, keepdim=True)  # [B, 1]
    keep = torch.arange(1, k + 1, device=adj.device) < atoms  # [B, k]
    vectors = vectors * keep.unsqueeze(1)
    if sign_flip:
        signs = torch.randint(0, 2, (num_graphs, 1, k), device=adj.device) * 2 - 1
        vectors = vectors * signs
    return vectors[mask]


class VirtualNode(nn.Module):
    """A per-molecule node joined to every atom (Gilmer et al. 2017; OGB's GIN-virtual).

    Between two message-passing layers, the virtual node takes in the sum of the atoms'
    states through an MLP and adds its state to every atom, so information crosses the
    whole molecule in one layer instead of one bond per layer. torch_geometric only has a
    ``VirtualNode`` *transform*, which adds a real node and edges to each graph (a new
    bond type for the bond encoders, and a node that pooling would count as an atom), so
    this small module is written here.

    Args:
        hidden_dim: node width.

    Shapes:
        - **input:** h ``[N, hidden_dim]``, vn ``[B, hidden_dim]``, batch ``[N]``
        - **output:** (h ``[N, hidden_dim]``, vn ``[B, hidden_dim]``)
    """

    def __init__(self, hidden_dim: int):
        super().__init__()
        self.mlp = gnn.MLP([hidden_dim, hidden_dim, hidden_dim], norm="layer_norm")

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, h: Tensor, vn: Tensor, batch: Tensor, num_graphs: int):
        vn = vn + self.mlp(gnn.global_add_pool(h, batch, num_graphs))
        return h + vn[batch], vn


# -- the student --------------------------------------------------------------------------
class GNNStudent(nn.Module):
    """Message-passing encoder: molecule graph -> one embedding per molecule.

    Atom embedding, ``num_layers`` :class:`GNNLayer` (ReLU between layers, none after the
    last, as the reference), graph pooling, then an optional Linear projection (the
    reference: GINE, 10 layers, width 512, LayerNorm, mean pooling, Linear(512, 512)).

    Args:
        atom_feature_dims: vocabulary size of each atom feature column
            (:data:`molmtd.graphs.ATOM_FEATURE_DIMS`).
        bond_feature_dims: vocabulary size of each bond feature column
            (:data:`molmtd.graphs.BOND_FEATURE_DIMS`).
        conv: "gine", "gin", "gat", "gatv2" or "graphsage"; gine, gat and gatv2 read bond
            features. gat/gatv2 use 4 heads, so ``hidden_dim`` must be a multiple of 4.
        num_layers: message-passing layers.
        hidden_dim: node width.
        out_dim: embedding width; None means ``hidden_dim``.
        norm: "layer" (per atom), "batch", "graph" or "none" (torch_geometric.nn.norm).
        pooling: "mean", "sum", "max", "attention" (torch_geometric.nn.aggr), "mean+sum"
            (both side by side: twice the pooled width) or "mean+sum+max" (three times).
        projection: a Linear(hidden_dim, out_dim) after pooling.
        dropout: dropout probability after each layer.
        residual: add each layer's input to its output.
        atom_columns: atom feature columns the student reads (None = all), e.g. ``[0, 1]``
            for atomic number and chirality only; the graphs still carry every column.
        bond_columns: bond feature columns the student reads (None = all).
        positional_encoding: random-walk steps k fed to every atom as extra input (RWPE,
            :func:`random_walk_encoding`, through a Linear(k, hidden_dim)); 0 = none.
        laplacian_pe: Laplacian eigenvectors k fed to every atom as extra input (LapPE,
            :func:`laplacian_encoding`, through a Linear(k, hidden_dim); random signs
            while training); 0 = none.
        virtual_node: a :class:`VirtualNode` between consecutive layers.
        jk: what pooling reads: "last" (the last layer's states), "cat" (every layer's
            states concatenated, width ``num_layers * hidden_dim``) or "max" (elementwise
            max over layers); torch_geometric's ``JumpingKnowledge``.
        output_norm: "none" or "layer" (a LayerNorm without parameters on the embedding:
            every molecule's embedding has mean 0 and variance 1 over its dimensions, so the
            heads cannot read information from its overall scale).

    Shapes:
        - **input:** x long ``[N, len(atom_feature_dims)]``, edge_index ``[2, E]``,
          edge_attr long ``[E, len(bond_feature_dims)]``, batch ``[N]``
        - **output:** ``[num_graphs, out_dim]``

    Raises:
        ValueError: an unknown conv/norm/pooling name (the message lists the choices), a
            bad number, or ``out_dim != hidden_dim`` without a projection.
    """

    def __init__(self, atom_feature_dims: Sequence[int], bond_feature_dims: Sequence[int], *,
                 conv: str = "gine", num_layers: int = 5, hidden_dim: int = 300,
                 out_dim: int | None = None, norm: str = "layer", pooling: str = "mean",
                 projection: bool = True, dropout: float = 0.0, residual: bool = False,
                 atom_columns: Sequence[int] | None = None,
                 bond_columns: Sequence[int] | None = None, positional_encoding: int = 0,
                 virtual_node: bool = False, jk: str = "last", output_norm: str = "none",
                 laplacian_pe: int = 0):
        super().__init__()
        for name, dims in (("atom_feature_dims", atom_feature_dims),
                           ("bond_feature_dims", bond_feature_dims)):
            _check(len(dims) > 0 and all(_is_int(d, 1) for d in dims), name, dims,
                   "a non-empty list of vocabulary sizes >= 1")
        for name, value, table in (("conv", conv, CONVS), ("norm", norm, NORMS),
                                   ("pooling", pooling, POOLINGS)):
            _check(value in table, name, value, f"one of {sorted(table)}")
        _check(_is_int(num_layers, 1), "num_layers", num_layers, "an int >= 1")
        _check(_is_int(hidden_dim, 1), "hidden_dim", hidden_dim, "an int >= 1")
        _check(out_dim is None or _is_int(out_dim, 1), "out_dim", out_dim, "None or an int >= 1")
        _check(isinstance(dropout, (int, float)) and 0 <= dropout < 1, "dropout", dropout,
               "a float in [0, 1)")
        _check(isinstance(projection, bool), "projection", projection, "a bool")
        _check(isinstance(residual, bool), "residual", residual, "a bool")
        _check(_is_int(positional_encoding, 0), "positional_encoding", positional_encoding,
               "an int >= 0 (random-walk steps; 0 = none)")
        _check(_is_int(laplacian_pe, 0), "laplacian_pe", laplacian_pe,
               "an int >= 0 (Laplacian eigenvectors; 0 = none)")
        _check(isinstance(virtual_node, bool), "virtual_node", virtual_node, "a bool")
        _check(jk in JK_MODES, "jk", jk, f"one of {sorted(JK_MODES)}")
        _check(output_norm in ("none", "layer"), "output_norm", output_norm, "'none' or 'layer'")
        if conv in ("gat", "gatv2"):
            _check(hidden_dim % GAT_HEADS == 0, "hidden_dim", hidden_dim,
                   f"a multiple of {GAT_HEADS} with conv={conv!r} ({GAT_HEADS} heads)")
        pooled_dim = ((hidden_dim * num_layers if jk == "cat" else hidden_dim)
                      * POOLING_WIDTH.get(pooling, 1))
        if not projection and out_dim not in (None, pooled_dim):
            raise ValueError(f"The 'out_dim' parameter of GNNStudent must be None or equal "
                             f"the pooled width {pooled_dim} when projection=False. Got "
                             f"{out_dim!r} instead; set projection=True to project to another "
                             "width.")

        self.atom_feature_dims = [int(d) for d in atom_feature_dims]
        self.bond_feature_dims = [int(d) for d in bond_feature_dims]
        self.conv_name, self.norm_name, self.pooling_name = conv, norm, pooling
        self.num_layers, self.hidden_dim = num_layers, hidden_dim
        self.out_dim = pooled_dim if out_dim is None else out_dim
        self.positional_encoding, self.virtual_node = positional_encoding, virtual_node
        self.laplacian_pe = laplacian_pe
        self.jk_mode, self.output_norm = jk, output_norm
        self.projection_enabled, self.dropout, self.residual = projection, float(dropout), residual

        self.atom_columns = None if atom_columns is None else [int(c) for c in atom_columns]
        self.bond_columns = None if bond_columns is None else [int(c) for c in bond_columns]
        self.atom_encoder = FeatureEmbedding(self.atom_feature_dims, hidden_dim, self.atom_columns)
        self.layers = nn.ModuleList(
            GNNLayer(conv, hidden_dim, self.bond_feature_dims, norm=norm,
                     activation=i < num_layers - 1, dropout=self.dropout, residual=residual,
                     bond_columns=self.bond_columns)
            for i in range(num_layers))
        self.pe_encoder = (nn.Linear(positional_encoding, hidden_dim) if positional_encoding
                           else None)
        self.lap_encoder = nn.Linear(laplacian_pe, hidden_dim) if laplacian_pe else None
        self.virtual_nodes = (nn.ModuleList(VirtualNode(hidden_dim)
                                            for _ in range(num_layers - 1))
                              if virtual_node else None)
        self.jk = (None if jk == "last"
                   else gnn.JumpingKnowledge(jk, hidden_dim, num_layers))
        self.pool = POOLINGS[pooling](pooled_dim)
        self.projection = nn.Linear(pooled_dim, self.out_dim) if projection else nn.Identity()
        self.final_norm = (nn.LayerNorm(self.out_dim, elementwise_affine=False)
                           if output_norm == "layer" else nn.Identity())

    def reset_parameters(self) -> None:
        """Re-initialise every parameter (as a freshly built student)."""
        self.atom_encoder.reset_parameters()
        for layer in self.layers:
            layer.reset_parameters()
        self.pool.reset_parameters()
        if isinstance(self.projection, nn.Linear):
            self.projection.reset_parameters()
        for module in (self.pe_encoder, self.lap_encoder, *(self.virtual_nodes or ())):
            if module is not None:
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None,
                batch: Tensor | None, num_graphs: int | None = None) -> Tensor:
        """Embed a batch of molecule graphs.

        Args:
            x: atom feature indices.
            edge_index: directed edges (each bond both ways).
            edge_attr: bond feature indices (may be None for gin/graphsage).
            batch: graph index of each atom; None for a single graph.
            num_graphs: number of graphs; computed from ``batch`` when None (that costs a
                device synchronisation on GPU).

        Shapes:
            - **input:** x long ``[N, len(atom_feature_dims)]``, edge_index ``[2, E]``,
              edge_attr long ``[E, len(bond_feature_dims)]``, batch ``[N]``
            - **output:** ``[num_graphs, out_dim]``
        """
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
            num_graphs = 1 if num_graphs is None else num_graphs
        if num_graphs is None:
            num_graphs = int(batch.max()) + 1 if batch.numel() else 0
        states = self._node_states(x, edge_index, edge_attr, batch, num_graphs)
        if self.jk_mode == "cat" and self.pooling_name in COLUMNWISE_POOLINGS:
            pooled = self._pool_each_layer(states, batch, num_graphs)
        else:
            h = states[-1] if self.jk is None else self.jk(states)
            pooled = self.pool(h, batch, dim_size=num_graphs)
        return self.final_norm(self.projection(pooled))

    def _pool_each_layer(self, states: list[Tensor], batch: Tensor, num_graphs: int) -> Tensor:
        """``pool(cat(states))`` without the ``[N, num_layers * hidden_dim]`` concatenation.

        A column-wise pooling of the concatenated atom states is the concatenation of each
        layer's pooled states, reordered so that every aggregation's block keeps its place
        (``[mean(h_1..h_L), sum(h_1..h_L)]`` for mean+sum): the same values, to the bit.
        The per-atom concatenation was 12% of the inference forward pass (a fresh ~35 MB
        tensor per batch of 256, benchmarks/featurizer.py profile) and 10% of a training step.
        """
        width = POOLING_WIDTH.get(self.pooling_name, 1)
        per_layer = [self.pool(h, batch, dim_size=num_graphs).chunk(width, dim=-1)
                     for h in states]
        return torch.cat([blocks[a] for a in range(width) for blocks in per_layer], dim=-1)

    def _node_states(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor | None,
                     batch: Tensor, num_graphs: int) -> list[Tensor]:
        """Every layer's atom states, ``num_layers`` tensors ``[N, hidden_dim]``."""
        h = self.atom_encoder(x)
        if self.pe_encoder is not None:
            with torch.no_grad():
                walks = random_walk_encoding(edge_index, batch, num_graphs,
                                             self.positional_encoding)
            h = h + self.pe_encoder(walks)
        if self.lap_encoder is not None:
            with torch.no_grad():
                eigvecs = laplacian_encoding(edge_index, batch, num_graphs, self.laplacian_pe,
                                             sign_flip=self.training)
            h = h + self.lap_encoder(eigvecs)
        vn = h.new_zeros(num_graphs, self.hidden_dim) if self.virtual_nodes is not None else None
        states = []
        for i, layer in enumerate(self.layers):
            if vn is not None and i > 0:
                h, vn = self.virtual_nodes[i - 1](h, vn, batch, num_graphs)
            h = layer(h, edge_index, edge_attr, batch, num_graphs)
            states.append(h)
        return states

    def forward_batch(self, batch) -> Tensor:
        """Embed a torch_geometric ``Batch`` (or one ``Data``).

        Shapes:
            - **output:** ``[batch.num_graphs, out_dim]``
        """
        return self.forward(batch.x, batch.edge_index, batch.edge_attr,
                            getattr(batch, "batch", None), getattr(batch, "num_graphs", None))

    @property
    def layers_dim(self) -> int:
        """Width of :meth:`layer_embeddings`."""
        if self.jk_mode == "cat" and self.pooling_name in COLUMNWISE_POOLINGS:
            return self.num_layers * self.hidden_dim * POOLING_WIDTH.get(self.pooling_name, 1)
        return self.num_layers * self.hidden_dim

    def layer_embeddings(self, batch) -> Tensor:
        """Every layer's node states, pooled per molecule and concatenated.

        A student whose heads read every layer (``jk="cat"``) with a column-wise pooling
        returns exactly what the heads read: each layer pooled by its own ``pooling``
        (mean+sum: ``[mean(h_1..h_L), sum(h_1..h_L)]``), before the projection. So for
        molmtd-base (mean+sum, PCA 512) it is the 3000-d readout that the loss shaped and
        the PCA compresses. Any other student gets every layer mean-pooled: its heads read
        the last layer only (an attention pool, say, was trained for the last layer's
        states), and the earlier layers keep more of the molecule than its distilled
        embedding (measured ~8 of 300 effective dimensions for a 5x300 GINE distilled on
        10k molecules; linear probes on this readout scored higher on every task tried,
        docs/EXPERIMENTS.md).

        Shapes:
            - **output:** ``[batch.num_graphs, layers_dim]`` (``num_layers * hidden_dim``,
              times the pooling's width for a jk="cat" student)
        """
        from torch_geometric.nn import global_mean_pool

        x, edge_index, edge_attr = batch.x, batch.edge_index, batch.edge_attr
        index = getattr(batch, "batch", None)
        if index is None:
            index = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        num_graphs = getattr(batch, "num_graphs", None) or int(index.max()) + 1
        states = self._node_states(x, edge_index, edge_attr, index, num_graphs)
        if self.jk_mode == "cat" and self.pooling_name in COLUMNWISE_POOLINGS:
            return self._pool_each_layer(states, index, num_graphs)
        return torch.cat([global_mean_pool(h, index, num_graphs) for h in states], dim=1)

    def config(self) -> dict:
        """JSON-serialisable constructor arguments; :meth:`from_config` rebuilds the model."""
        return {"atom_feature_dims": list(self.atom_feature_dims),
                "bond_feature_dims": list(self.bond_feature_dims),
                "conv": self.conv_name, "num_layers": self.num_layers,
                "hidden_dim": self.hidden_dim, "out_dim": self.out_dim, "norm": self.norm_name,
                "pooling": self.pooling_name, "projection": self.projection_enabled,
                "dropout": self.dropout, "residual": self.residual,
                "atom_columns": self.atom_columns, "bond_columns": self.bond_columns,
                "positional_encoding": self.positional_encoding,
                "virtual_node": self.virtual_node, "jk": self.jk_mode,
                "output_norm": self.output_norm, "laplacian_pe": self.laplacian_pe}

    @classmethod
    def from_config(cls, config: dict) -> GNNStudent:
        """Build an (untrained) student from :meth:`config`'s dictionary.

        Raises:
            ValueError: unknown or missing keys, or invalid values.
        """
        cfg = dict(config)
        known = {"atom_feature_dims", "bond_feature_dims", "conv", "num_layers", "hidden_dim",
                 "out_dim", "norm", "pooling", "projection", "dropout", "residual",
                 "atom_columns", "bond_columns", "positional_encoding", "virtual_node", "jk",
                 "output_norm", "laplacian_pe"}
        unknown = sorted(set(cfg) - known)
        missing = sorted({"atom_feature_dims", "bond_feature_dims"} - set(cfg))
        if unknown or missing:
            raise ValueError(f"GNNStudent.from_config: unknown keys {unknown}, missing keys "
                             f"{missing}; expected keys {sorted(known)}")
        return cls(cfg.pop("atom_feature_dims"), cfg.pop("bond_feature_dims"), **cfg)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(conv={self.conv_name!r}, num_layers={self.num_layers}, "
                f"hidden_dim={self.hidden_dim}, out_dim={self.out_dim}, norm={self.norm_name!r}, "
                f"pooling={self.pooling_name!r}, projection={self.projection_enabled})")
