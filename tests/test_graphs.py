from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch
from torch_geometric.utils import from_rdmol
from torch_geometric.utils.smiles import x_map

import molmtd.graphs as graphs
from molmtd.errors import InvalidMoleculeError, StoreError
from molmtd.graphs import (
    ATOM_FEATURE_DIMS,
    ATOM_FEATURE_NAMES,
    BOND_FEATURE_DIMS,
    BOND_FEATURE_NAMES,
    GraphStore,
    graph_batches_from_smiles,
    graphs_from_smiles,
    smiles_to_graph,
)

A = {name: k for k, name in enumerate(ATOM_FEATURE_NAMES)}
B = {name: k for k, name in enumerate(BOND_FEATURE_NAMES)}


def assert_same_graph(a, b):
    for key in ("x", "edge_index", "edge_attr"):
        assert torch.equal(a[key], b[key]), key


# -- one molecule ----------------------------------------------------------------------
def test_schema_is_consistent():
    assert len(ATOM_FEATURE_NAMES) == len(ATOM_FEATURE_DIMS) == 9
    assert len(BOND_FEATURE_NAMES) == len(BOND_FEATURE_DIMS) == 4
    assert ATOM_FEATURE_NAMES[:2] == ["atomic_num", "chirality"]  # the reference's two
    assert "is_in_ring" in BOND_FEATURE_NAMES
    assert ATOM_FEATURE_DIMS[A["atomic_num"]] == 120  # 0..118 + other


def test_shapes_dtypes_and_both_directions():
    g = smiles_to_graph("CC(=O)O")
    assert g.x.dtype == g.edge_index.dtype == g.edge_attr.dtype == torch.long
    assert g.x.shape == (4, len(ATOM_FEATURE_DIMS))
    assert g.edge_index.shape == (2, 6) and g.edge_attr.shape == (6, len(BOND_FEATURE_DIMS))
    pairs = set(map(tuple, g.edge_index.t().tolist()))
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1), (1, 3), (3, 1)}
    # each bond's two directions carry the same bond features
    assert torch.equal(g.edge_attr[0::2], g.edge_attr[1::2])
    assert g.edge_index.max() < g.num_nodes


@pytest.mark.parametrize("smiles", ["O", "[Na+]", "C"])
def test_single_atom_has_empty_edges(smiles):
    g = smiles_to_graph(smiles)
    assert g.x.shape == (1, len(ATOM_FEATURE_DIMS))
    assert g.edge_index.shape == (2, 0) and g.edge_index.dtype == torch.long
    assert g.edge_attr.shape == (0, len(BOND_FEATURE_DIMS))


def test_known_feature_values():
    benzene = smiles_to_graph("c1ccccc1")
    x, e = benzene.x, benzene.edge_attr
    assert (x[:, A["atomic_num"]] == 6).all()
    assert (x[:, A["is_aromatic"]] == 1).all() and (x[:, A["is_in_ring"]] == 1).all()
    assert (x[:, A["hybridization"]] == 3).all()  # SP2
    assert (x[:, A["num_hs"]] == 1).all() and (x[:, A["degree"]] == 2).all()
    assert (e[:, B["bond_type"]] == 3).all()  # AROMATIC
    assert (e[:, B["is_conjugated"]] == 1).all() and (e[:, B["is_in_ring"]] == 1).all()

    ammonium = smiles_to_graph("[NH4+]").x[0]
    assert ammonium[A["formal_charge"]] == 4  # -3..+3 -> +1 is index 4
    assert ammonium[A["num_hs"]] == 4

    alanine = smiles_to_graph("C[C@@H](N)C(=O)O").x
    assert alanine[1, A["chirality"]] == 1  # CHI_TETRAHEDRAL_CW
    assert alanine[0, A["chirality"]] == 0

    butene = smiles_to_graph("C/C=C/C").edge_attr
    double = butene[:, B["bond_type"]] == 1
    assert (butene[double, B["stereo"]] == 3).all()  # STEREOE
    assert (butene[~double, B["stereo"]] == 0).all()

    assert smiles_to_graph("[CH3]").x[0, A["num_radical_electrons"]] == 1
    assert smiles_to_graph("*C").x[0, A["atomic_num"]] == 0  # dummy atom
    assert smiles_to_graph("C#N").edge_attr[0, B["bond_type"]] == 2  # TRIPLE


def test_values_outside_a_vocabulary_go_to_other():
    uranium = smiles_to_graph("[U](C)(C)(C)(C)(C)(C)C").x  # degree 7 > 6
    assert uranium[0, A["degree"]] == ATOM_FEATURE_DIMS[A["degree"]] - 1
    assert uranium[1, A["degree"]] == 1
    iron = smiles_to_graph("[Fe+4]").x[0]  # charge +4 > +3
    assert iron[A["formal_charge"]] == ATOM_FEATURE_DIMS[A["formal_charge"]] - 1
    assert iron[A["atomic_num"]] == 26
    dative = smiles_to_graph("[NH3]->[Cu+2]").edge_attr  # DATIVE bond type
    assert (dative[:, B["bond_type"]] == BOND_FEATURE_DIMS[B["bond_type"]] - 1).all()


def test_agrees_with_torch_geometric_from_rdmol(moses_smiles):
    # torch_geometric's x_map/e_map share our vocabularies for these columns (with a
    # shift for formal charge and bond type); degree differs (it counts hydrogens)
    shared_atom = {"atomic_num": (0, 0), "chirality": (1, 0), "formal_charge": (3, -2),
                   "num_hs": (4, 0), "num_radical_electrons": (5, 0), "hybridization": (6, 0),
                   "is_aromatic": (7, 0), "is_in_ring": (8, 0)}
    pyg_bond_index = {1: 0, 2: 1, 3: 2, 12: 3}  # SINGLE, DOUBLE, TRIPLE, AROMATIC
    for smiles in moses_smiles[:200]:
        ours = smiles_to_graph(smiles)
        ref = from_rdmol(Chem.MolFromSmiles(smiles))
        for name, (col, shift) in shared_atom.items():
            assert torch.equal(ours.x[:, A[name]], ref.x[:, col] + shift), (smiles, name)
        ref_pairs = zip(ref.edge_index.t().tolist(), ref.edge_attr.tolist(), strict=True)
        ref_edges = {(s, d, pyg_bond_index[t], st, c) for (s, d), (t, st, c) in ref_pairs}
        our_pairs = zip(ours.edge_index.t().tolist(), ours.edge_attr.tolist(), strict=True)
        our_edges = {(s, d, a[B["bond_type"]], a[B["stereo"]], a[B["is_conjugated"]])
                     for (s, d), a in our_pairs}
        assert our_edges == ref_edges, smiles


def test_all_indices_inside_their_vocabulary(moses_smiles):
    gs, failures = graphs_from_smiles(moses_smiles)
    assert not failures
    x = torch.cat([g.x for g in gs])
    e = torch.cat([g.edge_attr for g in gs])
    assert (x >= 0).all() and (x < torch.tensor(ATOM_FEATURE_DIMS)).all()
    assert (e >= 0).all() and (e < torch.tensor(BOND_FEATURE_DIMS)).all()
    # MOSES has no exotic atoms: nothing should land in the atomic-number "other" bucket
    assert (x[:, A["atomic_num"]] < 119).all()
    assert len(x_map["atomic_num"]) == 119


@pytest.mark.parametrize("bad, reason", [
    ("C1CC", "unparseable SMILES"),
    ("", "empty input"),
    ("c1cccc1", "sanitization failed"),
    (None, "empty input"),
    (Chem.Mol(), "no atoms"),
])
def test_invalid_input_raises_with_position_and_reason(bad, reason):
    with pytest.raises(InvalidMoleculeError) as info:
        smiles_to_graph(bad, position=7)
    assert info.value.position == 7
    assert reason in info.value.reason
    assert info.value.raw is bad


def test_graphs_from_smiles_aligned_with_failures(moses_smiles):
    items = [moses_smiles[0], "C1CC", moses_smiles[1], "", "O"]
    gs, failures = graphs_from_smiles(items)
    assert len(gs) == len(items)
    assert failures == {1: "unparseable SMILES", 3: "empty input"}
    assert gs[1] is None and gs[3] is None
    for i in (0, 2, 4):
        assert_same_graph(gs[i], smiles_to_graph(items[i]))


def test_graph_batches_equal_from_data_list_and_skip_failures(moses_smiles):
    items = [moses_smiles[0], "C1CC", "O", moses_smiles[1], "", *moses_smiles[2:6]]
    batches, failures = graph_batches_from_smiles(items, batch_size=3)
    assert failures == {1: "unparseable SMILES", 4: "empty input"}
    seen = []
    for positions, fast in batches:
        assert positions.dtype == np.int64 and len(positions) <= 3
        slow = Batch.from_data_list([smiles_to_graph(items[i]) for i in positions])
        for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
            assert torch.equal(fast[key], slow[key]), key
        for got, want in zip(fast.to_data_list(), slow.to_data_list(), strict=True):
            assert_same_graph(got, want)
        seen += positions.tolist()
    assert seen == [0, 2, 3, 5, 6, 7, 8]  # every valid input once, in input order
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        graph_batches_from_smiles(items, batch_size=0)


def test_blocks_serial_and_parallel_match_one_by_one(moses_smiles, monkeypatch):
    monkeypatch.setattr(graphs, "_BLOCK", 100)  # 301 molecules -> 4 blocks
    items = moses_smiles[:150] + ["not a smiles"] + moses_smiles[150:300]
    serial, f1 = graphs_from_smiles(items, n_jobs=1)
    parallel, f2 = graphs_from_smiles(items, n_jobs=2)
    assert f1 == f2 == {150: "unparseable SMILES"}
    assert serial[150] is None and parallel[150] is None
    for i, smiles in enumerate(items):
        if i != 150:
            one = smiles_to_graph(smiles)
            assert_same_graph(serial[i], one)
            assert_same_graph(parallel[i], one)


def test_bad_n_jobs():
    with pytest.raises(ValueError, match="n_jobs"):
        graphs_from_smiles(["C"], n_jobs=0)


# -- the store --------------------------------------------------------------------------
@pytest.fixture
def corpus(moses_smiles):
    keys = list(moses_smiles[:230])
    keys[5] = "C1CC"  # a featurisation failure must be masked, not fatal
    keys[101] = "[Na+]"
    return keys


def test_store_round_trip(corpus, tmp_path):
    store = GraphStore.build(corpus, tmp_path / "g", chunk_size=64, progress=False)
    assert len(store) == len(corpus) and store.keys == corpus
    assert store.manifest["n_chunks"] == 4
    assert store.ok.dtype == bool and store.ok.tolist() == [i != 5 for i in range(len(corpus))]
    assert store.failures == {5: "unparseable SMILES"}
    for i, key in enumerate(corpus):
        if i != 5:
            assert_same_graph(store[i], smiles_to_graph(key))
    assert_same_graph(store[-1], smiles_to_graph(corpus[-1]))
    assert store[101].edge_index.shape == (2, 0)
    with pytest.raises(StoreError, match=r"molecule 5 .*unparseable SMILES.*store\.ok"):
        store[5]
    with pytest.raises(IndexError):
        store[len(corpus)]
    # reopened from disk, and after pickling (DataLoader workers)
    for other in (GraphStore(tmp_path / "g"), pickle.loads(pickle.dumps(store))):
        assert_same_graph(other[200], store[200])
        assert other.ok.tolist() == store.ok.tolist()


def test_store_arrays_are_compact_and_memory_mapped(corpus, tmp_path):
    store = GraphStore.build(corpus, tmp_path, chunk_size=100, progress=False)
    store[0]
    chunk = store._chunks[0]
    assert chunk["x"].dtype == np.uint8 and chunk["edge_attr"].dtype == np.uint8
    assert chunk["edge_index"].dtype == np.int32
    assert isinstance(chunk["x"].base, np.memmap)


def test_store_batch_equals_from_data_list(corpus, tmp_path):
    store = GraphStore.build(corpus, tmp_path, chunk_size=64, progress=False)
    idx = [200, 3, 101, 64, 63, 0, 229]  # unsorted, across chunks, with a single atom
    fast = store.batch(np.array(idx))
    slow = Batch.from_data_list([store[i] for i in idx])
    for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(fast[key], slow[key]), key
    assert fast.num_graphs == len(idx)
    unpickled = pickle.loads(pickle.dumps(fast))  # batches cross DataLoader worker pipes
    assert torch.equal(unpickled.edge_index, slow.edge_index)
    for got, want in zip(fast.to_data_list(), slow.to_data_list(), strict=True):
        assert_same_graph(got, want)
    with pytest.raises(StoreError):
        store.batch([4, 5])


def test_store_resumes_after_kill_9(corpus, tmp_path, monkeypatch):
    directory = tmp_path / "g"
    (tmp_path / "keys.json").write_text(json.dumps(corpus))
    script = textwrap.dedent(f"""
        import json, os, signal
        import molmtd.graphs as g
        keys = json.loads(open({str(tmp_path / "keys.json")!r}).read())
        write = g._write_chunk
        def killing_write(directory, c, block):
            entry = write(directory, c, block)
            if c == 2:  # chunk 2's files are on disk but not yet in the manifest
                os.kill(os.getpid(), signal.SIGKILL)
            return entry
        g._write_chunk = killing_write
        g.GraphStore.build(keys, {str(directory)!r}, chunk_size=50, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    manifest = json.loads((directory / "manifest.json").read_text())
    assert [c["index"] for c in manifest["chunks"]] == [0, 1]
    with pytest.raises(StoreError, match="unfinished"):
        GraphStore(directory)

    starts = []
    featurize = graphs._featurize

    def recording(smiles, n_jobs, start=0, parallel=None):
        starts.append(start)
        return featurize(smiles, n_jobs, start, parallel)

    monkeypatch.setattr(graphs, "_featurize", recording)
    store = GraphStore.build(corpus, directory, chunk_size=50, progress=False)
    assert starts == [100, 150, 200]  # finished chunks 0 and 1 were not redone
    fresh = GraphStore.build(corpus, tmp_path / "fresh", chunk_size=50, progress=False)
    assert store.ok.tolist() == fresh.ok.tolist()
    for i in np.flatnonzero(fresh.ok):
        assert_same_graph(store[i], fresh[i])
    # a finished store is opened without featurising anything
    starts.clear()
    GraphStore.build(corpus, directory, chunk_size=50, progress=False)
    assert starts == []


def test_store_mismatch_errors(corpus, tmp_path):
    GraphStore.build(corpus, tmp_path, chunk_size=100, progress=False)
    with pytest.raises(StoreError, match=rf"other molecules.*delete {tmp_path}"):
        GraphStore.build(corpus[:-1], tmp_path, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["feature_schema"]["version"] = 0
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreError, match="schema version 0.*delete"):
        GraphStore(tmp_path)
    with pytest.raises(StoreError, match="schema"):
        GraphStore.build(corpus, tmp_path, progress=False)
    with pytest.raises(StoreError, match="no graph store.*GraphStore.build"):
        GraphStore(tmp_path / "nothing")


def test_store_damaged_chunk_is_reported(corpus, tmp_path):
    store = GraphStore.build(corpus, tmp_path, chunk_size=100, progress=False)
    np.save(tmp_path / "chunk_00001.x.npy", np.zeros((3, len(ATOM_FEATURE_DIMS)), np.uint8))
    with pytest.raises(StoreError, match="chunk 1 is missing or does not match its checksum"):
        GraphStore(tmp_path)[150]
    assert store[0].num_nodes > 0


def test_store_corrupt_chunk_is_recomputed_by_the_next_build(corpus, tmp_path, caplog):
    store = GraphStore.build(corpus, tmp_path, chunk_size=100, progress=False)
    expected = store[150].x.clone()
    path = tmp_path / "chunk_00001.x.npy"
    data = bytearray(path.read_bytes())
    data[-64:] = bytes(b ^ 0xFF for b in data[-64:])  # same size, same header, flipped bytes
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="chunk 1 is missing or does not match its checksum"):
        GraphStore(tmp_path)[150]
    with caplog.at_level("WARNING", logger="molmtd.graphs"):
        rebuilt = GraphStore.build(corpus, tmp_path, chunk_size=100, progress=False)
    assert "chunk(s) [1]" in caplog.text and "recomputing" in caplog.text
    assert torch.equal(rebuilt[150].x, expected)
    assert not list(tmp_path.glob("*.tmp"))


def test_store_edge_cases(tmp_path):
    empty = GraphStore.build([], tmp_path / "empty", progress=False)
    assert len(empty) == 0 and empty.keys == [] and empty.ok.shape == (0,)
    with pytest.raises(ValueError, match="key 1"):
        GraphStore.build(["C", "C\nC"], tmp_path / "bad", progress=False)
    with pytest.raises(ValueError, match="chunk_size"):
        GraphStore.build(["C"], tmp_path / "bad", chunk_size=0, progress=False)


def _reference_raw(mol):
    """Every feature read atom by atom and bond by bond (the implementation before the
    degrees, ring flags and bracket-free columns were computed in bulk)."""
    atoms = [(a.GetAtomicNum(), a.GetChiralTag(), a.GetDegree(), a.GetFormalCharge(),
              a.GetTotalNumHs(), a.GetNumRadicalElectrons(), a.GetHybridization(),
              a.GetIsAromatic(), a.IsInRing()) for a in mol.GetAtoms()]
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), b.GetBondType(), b.GetStereo(),
              b.GetIsConjugated(), b.IsInRing()) for b in mol.GetBonds()]
    return atoms, bonds


_VARIED = ["C |^1:0|", "CC |^1:1|", "[CH2]C", "F/C=C/F", "C/C=C\\C", "C[C@H](N)O",
           "N[C@@H](C)C(=O)O", "[2H]C", "[Na+].[Cl-]", "c1ccccc1.C1CC1", "C", "[O]", "C#C",
           "C1CCC2(CC1)CCCC2", "c1ccc2ccccc2c1", "C1CC2CCC1C2", "[Fe]", "*C", "C[N+](C)(C)C",
           "CC(=O)[O-]", "C[S+]([O-])C", "[O-][n+]1ccccc1", "c1cc[nH]c1", "OB(O)c1ccccc1",
           "C[C@@H]1CC[C@H](C)CC1", "[H]OC", "CCC(C)(C)C(C)(C)C(C)(C)C(C)(C)C",
           # bond directions without bracket atoms (stereo read), ring and acyclic; bracket
           # hydrogens carrying stereo; dative and quadruple bonds; CXSMILES and names
           "C/C=C/C", "C/1=C/CCCCCC1", "CC(/C=C/Cl)=C\\C", "[H]/C(F)=C(/[H])F", "CN->B(C)C",
           "C$C", "C1=CCCCCCC1", "CC=C(C)C=CC", "CCO ethanol", "C[C@H](N)O |&1:1|",
           "CC |C:1.0|", "C=C=C", "O=[N+]([O-])c1ccccc1", "[NH3+]CC(=O)[O-]",
           "CC(=O)[O-].[Na+]", "Cl[Pt](Cl)([NH3])[NH3]", "[O-2]", "[Fe+3]", "N#N", "C[Si](C)(C)C",
           "[13CH3]C", "OC1CCC(O)CC1",
           "C[C@]12CC[C@H](O)C[C@@H]1CC[C@@H]1[C@@H]2CC[C@]2(C)CCC[C@@H]12"]
# inputs that are no graph, with their failure as MolFromSmiles, then to_mol, report it
_INVALID = ["", " ", "C1CC", "c1cccc1", "not_a_smiles", "C(C", "CN(C)(C)(C)C",
            "[H]C([H])([H])([H])[H]", "C/C=C/", "c1ccccc1C1", None, 3.5, Chem.Mol()]


def _reference_failure(item) -> str | None:
    """The failure of one input, the straightforward way: RDKit's default parse, else
    molecules.to_mol's reason, or "no atoms"."""
    from molmtd.molecules import to_mol

    mol = Chem.MolFromSmiles(item) if isinstance(item, str) and item else None
    try:
        mol = mol or to_mol(item, 0)
    except InvalidMoleculeError as err:
        return err.reason
    return None if mol.GetNumAtoms() else "no atoms"


def test_bulk_features_equal_atom_by_atom(moses_smiles):
    """Bit-identical to reading every feature per atom/bond, on charged, aromatic,
    stereo, radical, fragment, spiro, bridged and bracket-free molecules."""
    items = moses_smiles[:300] + _VARIED
    block = graphs._featurize_block(items)
    atoms, bonds, n_atoms, n_bonds = [], [], [], []
    for s in items:
        a, b = _reference_raw(Chem.MolFromSmiles(s))
        atoms += a
        bonds += b
        n_atoms.append(len(a))
        n_bonds.append(len(b))
    raw_atoms = np.array(atoms, dtype=np.int64)
    raw_bonds = np.array(bonds, dtype=np.int64)
    assert np.array_equal(block.x, graphs._encode(raw_atoms, "atom"))
    assert np.array_equal(block.edge_attr,
                          np.repeat(graphs._encode(raw_bonds[:, 2:], "bond"), 2, axis=0))
    ends = raw_bonds[:, :2].astype(np.int32)
    assert np.array_equal(block.edge_index, np.stack([ends.ravel(), ends[:, ::-1].ravel()]))
    assert block.edge_index.dtype == np.int32 and block.x.dtype == np.uint8
    assert np.array_equal(block.num_atoms, n_atoms)
    assert np.array_equal(block.num_edges, 2 * np.asarray(n_bonds))


def test_failures_equal_the_straightforward_parse(moses_smiles):
    """Each input fails (position, reason) as RDKit's default parse + to_mol say, on
    bracket-free inputs (parsed by the stereo-free fast path) and on every other kind."""
    items = [x for pair in zip(moses_smiles[:len(_INVALID)], _INVALID, strict=True) for x in pair]
    items += _VARIED
    block = graphs._featurize_block(items, start=100)
    want = {100 + k: r for k, x in enumerate(items) if (r := _reference_failure(x)) is not None}
    assert block.failures == want
    assert len(want) == len(_INVALID)  # every invalid one, and only those
    assert np.array_equal(block.ok, [100 + k not in want for k in range(len(items))])


@pytest.mark.parametrize("smiles", ["CC=CC", "C1=CCCCCCC1", "CC(O)CC=CC", "c1ccccc1CC=NO",
                                    "CC(C)(F)Cl", "CCO ethanol"])
def test_stereo_free_parse_has_no_stereo_to_read(smiles):
    """The fast path's premise: without bracket atoms or bond directions, RDKit's default
    parse (which perceives stereo) sets no chiral tag and no bond stereo, and the fast
    parse gives the same atoms, bonds and SMILES."""
    default = Chem.MolFromSmiles(smiles)
    fast = graphs._parse(smiles, 0, stereo_free=True)
    assert not graphs._bond_stereo(smiles, graphs._plain(smiles))
    assert all(a.GetChiralTag() == Chem.ChiralType.CHI_UNSPECIFIED for a in default.GetAtoms())
    assert all(b.GetStereo() == Chem.BondStereo.STEREONONE for b in default.GetBonds())
    assert _reference_raw(fast) == _reference_raw(default)
    assert Chem.MolToSmiles(fast) == Chem.MolToSmiles(default)
