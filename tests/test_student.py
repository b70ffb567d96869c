from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GINEConv

from molmtd.errors import ShapeError
from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, GraphStore, graphs_from_smiles
from molmtd.student import (
    FeatureEmbedding,
    GNNLayer,
    GNNStudent,
    laplacian_encoding,
    list_components,
    random_walk_encoding,
)

CONVS = list_components()["conv"]
POOLINGS = list_components()["pooling"]
NORMS = list_components()["norm"]
MIXED = ["[Na+]", "CCO", "c1ccc2ccccc2c1C(=O)N", "O", "C[C@H](N)C(=O)O"]


def student(**kw) -> GNNStudent:
    kw = {"num_layers": 2, "hidden_dim": 16, **kw}
    return GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, **kw)


@pytest.fixture(scope="module")
def mixed_batch() -> Batch:
    graphs, failures = graphs_from_smiles(MIXED)
    assert not failures
    return Batch.from_data_list(graphs)


def test_components_listed():
    assert set(CONVS) == {"gine", "gin", "gat", "gatv2", "graphsage"}
    assert set(POOLINGS) == {"mean", "sum", "max", "attention", "mean+sum", "mean+sum+max"}
    assert set(NORMS) == {"layer", "batch", "graph", "none"}


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize("pooling", POOLINGS)
def test_output_shape_every_conv_and_pooling(conv, pooling, mixed_batch):
    torch.manual_seed(0)
    model = student(conv=conv, pooling=pooling, out_dim=12)
    out = model.forward_batch(mixed_batch)
    assert out.shape == (len(MIXED), 12) and model.out_dim == 12
    assert torch.isfinite(out).all()
    # each molecule is embedded on its own exactly as inside the mixed batch
    model.eval()
    alone = model.forward_batch(Batch.from_data_list([mixed_batch.get_example(3)]))
    assert torch.allclose(model.forward_batch(mixed_batch)[3], alone[0], atol=1e-5)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("conv", CONVS)
def test_single_atom_molecule(norm, conv):
    (graph,), _ = graphs_from_smiles(["[Na+]"])
    model = student(conv=conv, norm=norm)
    for train in (True, False):
        model.train(train)
        out = model.forward_batch(Batch.from_data_list([graph]))
        assert out.shape == (1, 16) and torch.isfinite(out).all()
    # a bare Data (no batch vector) is one graph
    assert torch.allclose(model.forward_batch(graph), out)


def permuted(graph: Data, perm: torch.Tensor) -> Data:
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(len(perm))
    return Data(x=graph.x[perm], edge_index=inverse[graph.edge_index],
                edge_attr=graph.edge_attr)


@pytest.mark.parametrize("conv", CONVS)
def test_mean_pooling_is_invariant_to_atom_order(conv):
    torch.manual_seed(0)
    graphs, _ = graphs_from_smiles(["c1ccc2ccccc2c1C(=O)NCC", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"])
    model = student(conv=conv, num_layers=3).eval()
    generator = torch.Generator().manual_seed(1)
    shuffled = [permuted(g, torch.randperm(g.num_nodes, generator=generator)) for g in graphs]
    assert not torch.equal(shuffled[0].x, graphs[0].x)
    a = model.forward_batch(Batch.from_data_list(graphs))
    b = model.forward_batch(Batch.from_data_list(shuffled))
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("conv, reads_bonds", [("gine", True), ("gat", True),
                                               ("gatv2", True), ("gin", False),
                                               ("graphsage", False)])
def test_bond_features_used_exactly_by_edge_aware_convs(conv, reads_bonds, mixed_batch):
    torch.manual_seed(0)
    model = student(conv=conv).eval()
    changed = mixed_batch.clone()
    changed.edge_attr = (changed.edge_attr + 1) % torch.tensor(BOND_FEATURE_DIMS)
    differs = not torch.allclose(model.forward_batch(mixed_batch),
                                 model.forward_batch(changed))
    assert differs == reads_bonds


def test_gine_has_no_per_edge_linear():
    model = student(conv="gine", hidden_dim=24, num_layers=3)
    for layer in model.layers:
        assert isinstance(layer.conv, GINEConv) and layer.conv.lin is None
        assert layer.bond_encoder.out_dim == 24
    # GAT's own edge Linear gets the narrowest input that loses nothing
    gat = student(conv="gat", hidden_dim=64)
    assert gat.layers[0].bond_encoder.out_dim == sum(BOND_FEATURE_DIMS)
    assert gat.layers[0].conv.lin_edge.in_channels == sum(BOND_FEATURE_DIMS)


def test_relu_between_layers_not_after_last():
    model = student(num_layers=3)
    assert [layer.activation for layer in model.layers] == [True, True, False]


@pytest.mark.parametrize("kw", [
    {"conv": "gat", "norm": "graph", "pooling": "attention", "dropout": 0.2, "residual": True},
    {"conv": "gine", "out_dim": 8},
    {"conv": "graphsage", "projection": False},
    {"conv": "gine", "positional_encoding": 6, "virtual_node": True, "jk": "cat",
     "output_norm": "layer", "out_dim": 12},
    {"conv": "gin", "jk": "max", "projection": False, "virtual_node": True},
    {"conv": "gine", "laplacian_pe": 4, "positional_encoding": 3},
])
def test_config_round_trip_gives_identical_outputs(kw, mixed_batch):
    torch.manual_seed(0)
    model = student(**kw).eval()
    config = json.loads(json.dumps(model.config()))
    assert config == model.config()
    torch.manual_seed(123)  # a different initialisation, then the same weights
    rebuilt = GNNStudent.from_config(config)
    rebuilt.load_state_dict(model.state_dict())
    rebuilt.eval()
    assert rebuilt.config() == config
    assert torch.equal(model.forward_batch(mixed_batch), rebuilt.forward_batch(mixed_batch))


def test_from_config_rejects_unknown_and_missing_keys():
    config = student().config()
    with pytest.raises(ValueError, match="unknown keys \\['width'\\]"):
        GNNStudent.from_config({**config, "width": 3})
    del config["atom_feature_dims"]
    with pytest.raises(ValueError, match="missing keys \\['atom_feature_dims'\\]"):
        GNNStudent.from_config(config)


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_gradient_reaches_every_parameter(conv, pooling, mixed_batch):
    torch.manual_seed(0)
    model = student(conv=conv, pooling=pooling, norm="graph", num_layers=3)
    model.forward_batch(mixed_batch).pow(2).sum().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, name


def test_seed_determinism_and_reset(mixed_batch):
    def build(seed):
        torch.manual_seed(seed)
        return student(conv="gatv2", pooling="attention").eval()

    a, b, c = build(0), build(0), build(1)
    assert torch.equal(a.forward_batch(mixed_batch), b.forward_batch(mixed_batch))
    assert not torch.allclose(a.forward_batch(mixed_batch), c.forward_batch(mixed_batch))

    before = {k: v.clone() for k, v in a.state_dict().items()}
    a.reset_parameters()
    changed = [k for k, v in a.state_dict().items() if not torch.equal(v, before[k])]
    for key in ("atom_encoder.bag.weight", "layers.0.bond_encoder.bag.weight",
                "layers.1.conv.lin_l.weight", "pool.gate_nn.weight", "projection.weight"):
        assert key in changed


def test_feature_embedding_is_sum_of_per_column_tables():
    torch.manual_seed(0)
    dims = [5, 3, 2]
    emb = FeatureEmbedding(dims, 4)
    features = torch.tensor([[0, 0, 0], [4, 2, 1], [1, 0, 1]])
    table = emb.bag.weight
    expected = table[features[:, 0]] + table[5 + features[:, 1]] + table[8 + features[:, 2]]
    assert torch.allclose(emb(features), expected)
    with pytest.raises(ShapeError, match=r"expected shape \('N', 3\), got \(3, 2\)"):
        emb(features[:, :2])


def test_invalid_arguments_name_the_choices():
    for name, value in (("conv", "gcn"), ("norm", "instance"), ("pooling", "set2set")):
        with pytest.raises(ValueError) as info:
            student(**{name: value})
        message = str(info.value)
        assert f"'{name}' parameter" in message and repr(value) in message
        assert all(choice in message for choice in list_components()[name])
    with pytest.raises(ValueError, match="projection=False"):
        student(projection=False, out_dim=8)
    with pytest.raises(ValueError, match="multiple of 4"):
        student(conv="gat", hidden_dim=30)
    with pytest.raises(ValueError, match="'num_layers'.*>= 1"):
        student(num_layers=0)
    with pytest.raises(ValueError, match="'dropout'"):
        student(dropout=1.0)
    with pytest.raises(ValueError, match="'atom_feature_dims'"):
        GNNStudent([], BOND_FEATURE_DIMS)
    with pytest.raises(ValueError, match="'conv' parameter of GNNLayer"):
        GNNLayer("gcn", 8, BOND_FEATURE_DIMS)


def test_projection_off_keeps_hidden_width(mixed_batch):
    model = student(projection=False)
    assert model.out_dim == 16 and isinstance(model.projection, torch.nn.Identity)
    assert model.forward_batch(mixed_batch).shape == (len(MIXED), 16)
    assert "conv='gine'" in repr(model) and "projection=False" in repr(model)


@pytest.mark.parametrize("pooling", POOLINGS)
def test_layer_embeddings_pool_every_layer(pooling, mixed_batch):
    torch.manual_seed(0)
    model = student(num_layers=3, projection=False, pooling=pooling).eval()
    with torch.no_grad():
        layers = model.layer_embeddings(mixed_batch)
        assert layers.shape == (len(MIXED), 3 * 16)
        one = model.layer_embeddings(Batch.from_data_list([mixed_batch.get_example(2)]))
        torch.testing.assert_close(one[0], layers[2], atol=1e-5, rtol=1e-5)  # per molecule
        if pooling == "mean":  # the last block is exactly the distilled embedding
            torch.testing.assert_close(layers[:, 32:], model.forward_batch(mixed_batch))
    assert not torch.allclose(layers[:, :16], layers[:, 16:32])


@pytest.mark.parametrize("pooling", ["mean", "mean+sum", "mean+sum+max"])
def test_layer_embeddings_of_a_jk_cat_student_are_what_its_heads_read(pooling, mixed_batch):
    # molmtd-base's "layers" readout is the mean+sum readout its heads were trained on (and
    # its PCA compresses), not every layer mean-pooled
    torch.manual_seed(0)
    pooled = student(num_layers=3, jk="cat", projection=False, pooling=pooling).eval()
    projected = student(num_layers=3, jk="cat", projection=True, out_dim=8, pooling=pooling)
    missing, _ = projected.load_state_dict(pooled.state_dict(), strict=False)
    assert all(k.startswith("projection.") for k in missing)
    width = 3 * 16 * len(pooling.split("+"))
    with torch.no_grad():
        layers = projected.eval().layer_embeddings(mixed_batch)
        assert layers.shape == (len(MIXED), width) and projected.layers_dim == width
        torch.testing.assert_close(layers, pooled.forward_batch(mixed_batch))
        if pooling == "mean+sum":  # the sum block scales the mean block by the atom count
            atoms = torch.bincount(mixed_batch.batch).float()[:, None]
            torch.testing.assert_close(layers[:, 48:], layers[:, :48] * atoms, rtol=1e-4,
                                       atol=1e-4)
    assert student(num_layers=3, pooling="mean+sum").layers_dim == 3 * 16  # jk="last"


def test_graph_store_batches_feed_straight_in(moses_smiles, tmp_path):
    keys = moses_smiles[:40]
    store = GraphStore.build(keys, tmp_path, chunk_size=16, progress=False)
    torch.manual_seed(0)
    model = student().eval()
    idx = [3, 17, 0, 39, 21]
    from_store = model.forward_batch(store.batch(idx))
    graphs, _ = graphs_from_smiles([keys[i] for i in idx])
    from_smiles = model.forward_batch(Batch.from_data_list(graphs))
    assert torch.equal(from_store, from_smiles)
    # the plain tensor signature, with num_graphs left to the model
    b = store.batch(idx)
    assert torch.equal(model(b.x, b.edge_index, b.edge_attr, b.batch), from_store)


def _time(fn, batches, repeats=3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for b in batches:
            fn(b)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.slow
def test_edge_embedding_is_faster_than_gine_edge_linear(moses_smiles):
    """One GINE layer at width 300: per-layer bond embedding vs GINEConv(edge_dim=300)."""
    torch.set_num_threads(1)
    graphs, _ = graphs_from_smiles(moses_smiles[:256])
    batches = [Batch.from_data_list(graphs)] * 2
    width = 300
    torch.manual_seed(0)
    ours = student(hidden_dim=width, num_layers=1)
    atom = ours.atom_encoder
    shared_bond = FeatureEmbedding(BOND_FEATURE_DIMS, width)
    reference = GINEConv(torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.ReLU(),
                                             torch.nn.Linear(width, width)), edge_dim=width)

    def ours_step(b):
        ours.layers[0](atom(b.x), b.edge_index, b.edge_attr, b.batch, 256).sum().backward()

    def reference_step(b):
        reference(atom(b.x), b.edge_index, shared_bond(b.edge_attr)).sum().backward()

    ratio = _time(reference_step, batches) / _time(ours_step, batches)
    assert ratio > 1.3, f"reference/ours time ratio {ratio:.2f}"


def test_feature_columns_restrict_what_the_student_reads(mixed_batch):
    torch.manual_seed(0)
    model = student(atom_columns=[0, 1], bond_columns=[0]).eval()
    changed = mixed_batch.clone()
    changed.x[:, 2:] = 0  # columns the student does not read
    changed.edge_attr[:, 1:] = 0
    torch.testing.assert_close(model.forward_batch(changed), model.forward_batch(mixed_batch))
    changed.x[:, 0] = 6  # atomic number, a column it reads
    assert not torch.allclose(model.forward_batch(changed), model.forward_batch(mixed_batch))
    # only the tables of the chosen columns are parameters
    assert model.atom_encoder.bag.weight.shape[0] == ATOM_FEATURE_DIMS[0] + ATOM_FEATURE_DIMS[1]
    rebuilt = GNNStudent.from_config(json.loads(json.dumps(model.config())))
    rebuilt.load_state_dict(model.state_dict())
    torch.testing.assert_close(rebuilt.eval().forward_batch(mixed_batch),
                               model.forward_batch(mixed_batch))


def test_bad_feature_columns_are_refused():
    with pytest.raises(ValueError, match="columns must be distinct indices"):
        FeatureEmbedding(ATOM_FEATURE_DIMS, 8, columns=[0, 0])
    with pytest.raises(ValueError, match="columns must be distinct indices"):
        FeatureEmbedding(ATOM_FEATURE_DIMS, 8, columns=[len(ATOM_FEATURE_DIMS)])


def test_random_walk_encoding_matches_torch_geometric_per_molecule(mixed_batch):
    from torch_geometric.transforms import AddRandomWalkPE

    got = random_walk_encoding(mixed_batch.edge_index, mixed_batch.batch,
                               mixed_batch.num_graphs, steps=5)
    assert got.shape == (mixed_batch.num_nodes, 5)
    expected = []
    for graph in mixed_batch.to_data_list():
        expected.append(AddRandomWalkPE(walk_length=5, attr_name="pe")(graph.clone()).pe)
    torch.testing.assert_close(got, torch.cat(expected), rtol=1e-5, atol=1e-6)
    # a lone ion walks nowhere; in a ring of 6, a 1-step walk never returns, a 2-step one does
    assert torch.equal(got[0], torch.zeros(5))


def _normalized_laplacian(graph) -> np.ndarray:
    n = graph.num_nodes
    adj = np.zeros((n, n))
    adj[graph.edge_index[0].numpy(), graph.edge_index[1].numpy()] = 1.0
    deg = adj.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0.0)
    return np.diag((deg > 0).astype(float)) - inv[:, None] * adj * inv[None, :]


def test_laplacian_encoding_is_each_molecules_lowest_nontrivial_eigenvectors(mixed_batch):
    k = 4
    got = laplacian_encoding(mixed_batch.edge_index, mixed_batch.batch, mixed_batch.num_graphs,
                             k)
    assert got.shape == (mixed_batch.num_nodes, k)
    start = 0
    for graph in mixed_batch.to_data_list():
        n = graph.num_nodes
        vectors = got[start:start + n].double().numpy()
        start += n
        lap = _normalized_laplacian(graph)
        values = np.linalg.eigvalsh(lap)  # ascending, the first is 0
        for j in range(k):
            if j + 1 < n:  # eigenvector j + 1 of the molecule, unit length
                assert np.linalg.norm(vectors[:, j]) == pytest.approx(1.0, abs=1e-5)
                np.testing.assert_allclose(lap @ vectors[:, j], values[j + 1] * vectors[:, j],
                                           atol=1e-5)
            else:  # the molecule has no such eigenvector: zeros, not padding's
                assert np.all(vectors[:, j] == 0)
    # [Na+] and O are single atoms: no positional information at all
    assert torch.equal(got[0], torch.zeros(k))


def test_laplacian_encoding_random_signs_only_flip_whole_eigenvectors(mixed_batch):
    args = (mixed_batch.edge_index, mixed_batch.batch, mixed_batch.num_graphs, 4)
    plain = laplacian_encoding(*args)
    torch.manual_seed(0)
    flipped = torch.stack([laplacian_encoding(*args, sign_flip=True) for _ in range(8)])
    torch.testing.assert_close(flipped.abs(), plain.abs().expand_as(flipped))
    assert (flipped * plain < 0).any()  # some signs did change
    # one sign per molecule and eigenvector: its atoms' ratios to the plain values agree
    for draw in flipped:
        for g in range(mixed_batch.num_graphs):
            atoms = mixed_batch.batch == g
            for j in range(4):
                nonzero = plain[atoms, j].abs() > 1e-4
                ratios = (draw[atoms, j][nonzero] / plain[atoms, j][nonzero]).round()
                assert len(set(ratios.tolist())) <= 1


def test_laplacian_pe_trains_and_is_deterministic_at_inference(mixed_batch):
    torch.manual_seed(0)
    model = student(laplacian_pe=4)
    model.forward_batch(mixed_batch).sum().backward()
    assert model.lap_encoder.weight.grad.abs().sum() > 0
    model.eval()
    torch.testing.assert_close(model.forward_batch(mixed_batch), model.forward_batch(mixed_batch),
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match="laplacian_pe"):
        student(laplacian_pe=-1)


def _chain_states(model, n_atoms=12):
    graphs, _ = graphs_from_smiles(["C" * n_atoms, "C" * (n_atoms - 1) + "N"])
    outs = []
    for g in graphs:
        b = Batch.from_data_list([g])
        states = model._node_states(b.x, b.edge_index, b.edge_attr, b.batch, 1)
        outs.append(states[-1][0])  # the first atom, far from the changed last atom
    return outs


def test_virtual_node_lets_an_atom_see_beyond_its_message_passing_radius():
    torch.manual_seed(0)
    plain = student(num_layers=2).eval()
    same_a, same_b = _chain_states(plain)
    assert torch.equal(same_a, same_b)  # 11 bonds away: invisible in 2 layers
    torch.manual_seed(0)
    with_vn = student(num_layers=2, virtual_node=True).eval()
    seen_a, seen_b = _chain_states(with_vn)
    assert not torch.allclose(seen_a, seen_b)


def test_jumping_knowledge_widths_and_output_norm(mixed_batch):
    cat = student(num_layers=3, jk="cat", projection=False)
    assert cat.out_dim == 48
    assert cat.forward_batch(mixed_batch).shape == (5, 48)
    assert student(num_layers=3, jk="max").forward_batch(mixed_batch).shape == (5, 16)
    normed = student(output_norm="layer", out_dim=10).forward_batch(mixed_batch)
    torch.testing.assert_close(normed.mean(1), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(normed.var(1, unbiased=False), torch.ones(5), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="pooled width 48"):
        student(num_layers=3, jk="cat", projection=False, out_dim=16)
    with pytest.raises(ValueError, match="'jk'.*one of"):
        student(jk="lstm")


def test_positional_encoding_changes_the_embedding_and_keeps_gradients(mixed_batch):
    torch.manual_seed(0)
    model = student(positional_encoding=4)
    out = model.forward_batch(mixed_batch)
    out.sum().backward()
    assert model.pe_encoder.weight.grad.abs().sum() > 0
    with torch.no_grad():
        model.pe_encoder.weight.zero_()
        model.pe_encoder.bias.zero_()
    assert not torch.allclose(out.detach(), model.forward_batch(mixed_batch))


def test_bond_combination_table_matches_the_bag_sum_and_its_gradients():
    # few bond-feature combinations: the encoder gathers rows of a per-combination table;
    # values and parameter gradients must be those of the per-row bag sum
    torch.manual_seed(0)
    cols = [0, 2, 3]
    table = FeatureEmbedding(BOND_FEATURE_DIMS, 16, columns=cols)
    bag = FeatureEmbedding(BOND_FEATURE_DIMS, 16, columns=cols, max_combinations=0)
    bag.load_state_dict(table.state_dict())
    assert table.use_table and not bag.use_table
    assert table.combinations.shape == (BOND_FEATURE_DIMS[0] * 2 * 2, 3)
    edges = torch.stack([torch.randint(0, d, (500,)) for d in BOND_FEATURE_DIMS], dim=1)
    a, b = table(edges), bag(edges)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    weight = torch.randn(500, 16)
    (ga,) = torch.autograd.grad((a * weight).sum(), table.bag.weight)
    (gb,) = torch.autograd.grad((b * weight).sum(), bag.bag.weight)
    torch.testing.assert_close(ga, gb, rtol=1e-5, atol=1e-5)
    assert ga.abs().sum() > 0
    atoms = FeatureEmbedding(ATOM_FEATURE_DIMS, 8)
    assert not atoms.use_table  # millions of atom combinations: the bag sums per row


def test_in_place_inference_equals_the_graph_recorded_path():
    """The in-place GINE message and ReLUs at inference give the training path's values,
    and those of torch_geometric's own GINEConv with the same weights."""
    import copy

    from torch_geometric import nn as gnn

    from molmtd.graphs import graph_batches_from_smiles

    torch.manual_seed(0)
    student = GNNStudent(ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, num_layers=3, hidden_dim=32).eval()
    batch = next(graph_batches_from_smiles(["CCO", "c1ccccc1C(=O)O", "C[C@H](N)C(=O)O", "C"],
                                           4)[0])[1]
    with torch.inference_mode():
        fast = student.forward_batch(batch)
    recorded = student.forward_batch(batch)
    assert recorded.requires_grad and torch.equal(fast, recorded)
    reference = copy.deepcopy(student)
    for layer in reference.layers:
        plain = gnn.GINEConv(gnn.MLP([32, 32, 32], norm=None))
        plain.load_state_dict(layer.conv.state_dict())
        layer.conv = plain
    with torch.no_grad():
        assert torch.equal(reference.forward_batch(batch), fast)


def test_mean_plus_sum_pooling_is_the_mean_then_the_sum(mixed_batch):
    """The pooled vector holds the mean and the sum of the atom states side by side, so the
    sum's half grows with the number of atoms and the mean's half does not."""
    from torch_geometric.nn import global_add_pool, global_mean_pool

    model = student(pooling="mean+sum", projection=False, jk="cat", num_layers=2).eval()
    assert model.out_dim == 2 * 2 * model.hidden_dim
    with torch.no_grad():
        out = model.forward_batch(mixed_batch)
        states = torch.cat(model._node_states(mixed_batch.x, mixed_batch.edge_index,
                                              mixed_batch.edge_attr, mixed_batch.batch,
                                              mixed_batch.num_graphs), dim=1)
    n = mixed_batch.num_graphs
    torch.testing.assert_close(out[:, :states.size(1)],
                               global_mean_pool(states, mixed_batch.batch, n))
    torch.testing.assert_close(out[:, states.size(1):],
                               global_add_pool(states, mixed_batch.batch, n))


def test_mean_sum_max_pooling_appends_the_max(mixed_batch):
    """mean+sum+max is mean+sum with the per-molecule maximum of each state as a third block."""
    from torch_geometric.nn import global_max_pool

    torch.manual_seed(0)
    model = student(pooling="mean+sum+max", projection=False, jk="cat", num_layers=2).eval()
    assert model.out_dim == 3 * 2 * model.hidden_dim
    reference = student(pooling="mean+sum", projection=False, jk="cat", num_layers=2).eval()
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():
        out = model.forward_batch(mixed_batch)
        states = torch.cat(model._node_states(mixed_batch.x, mixed_batch.edge_index,
                                              mixed_batch.edge_attr, mixed_batch.batch,
                                              mixed_batch.num_graphs), dim=1)
        torch.testing.assert_close(out[:, :2 * states.size(1)],
                                   reference.forward_batch(mixed_batch))
    torch.testing.assert_close(out[:, 2 * states.size(1):],
                               global_max_pool(states, mixed_batch.batch, mixed_batch.num_graphs))


@pytest.mark.parametrize("pooling", POOLINGS)
def test_jk_cat_pools_each_layer_as_it_pools_the_concatenation(pooling, mixed_batch):
    """With jk="cat", a column-wise pooling runs on each layer's states (no [N, L*d] tensor):
    the embedding equals pool(cat(states)) to the bit, and so do the parameters' gradients."""
    torch.manual_seed(0)
    model = student(pooling=pooling, jk="cat", num_layers=3, projection=True, out_dim=8)
    b = mixed_batch

    def concatenated():
        states = model._node_states(b.x, b.edge_index, b.edge_attr, b.batch, b.num_graphs)
        return model.projection(model.pool(model.jk(states), b.batch, dim_size=b.num_graphs))

    grads = []
    for fn in (concatenated, lambda: model.forward_batch(b)):
        model.zero_grad()
        out = fn()
        out.square().sum().backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()
                                     if p.grad is not None]))
    (ref, ref_grads), (got, got_grads) = grads
    assert torch.equal(got, ref)
    assert len(got_grads) == len(ref_grads) > 0
    for g, r in zip(got_grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-6, atol=1e-7)
