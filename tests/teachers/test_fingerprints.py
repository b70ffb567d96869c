import pickle

import numpy as np
import pytest

from molmtd.errors import TeacherSpecError
from molmtd.teachers import fingerprints as fp
from molmtd.teachers import get_teacher, list_teachers

NAMES = ["ecfp", "ecfp-count", "fcfp", "fcfp-count", "maccs", "atompair", "atompair-count",
         "topological", "topological-count", "avalon", "avalon-count", "erg", "rdkit",
         "pharm2d", "physchem"]
BITS = {"ecfp", "fcfp", "maccs", "atompair", "topological", "avalon", "rdkit", "pharm2d"}
COUNTS = {"ecfp-count", "fcfp-count", "atompair-count", "topological-count", "avalon-count"}
BAD = 25  # position of the unparseable SMILES, in the middle of the batch


def _descriptor_count() -> int:
    from rdkit.Chem import Descriptors

    return len(Descriptors.descList)


EXPECTED_DIM = {"maccs": 167, "erg": 315, "avalon": 512, "avalon-count": 512}


@pytest.fixture(scope="module")
def batch(moses_smiles):
    smiles = list(moses_smiles[:49])
    smiles.insert(BAD, "C1CC(N")
    return smiles


@pytest.fixture(scope="module")
def outputs(batch):
    return {name: get_teacher(name, n_jobs=1).embed(batch) for name in NAMES}


def test_every_fingerprint_and_descriptor_teacher_is_registered():
    registered = {i.name: i.family for i in list_teachers()}
    for name in NAMES:
        assert registered[name] == ("descriptor" if name == "physchem" else "fingerprint")


@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_mask_and_values(name, batch, outputs):
    teacher = get_teacher(name, n_jobs=1)
    out = outputs[name]
    dim = EXPECTED_DIM.get(name, _descriptor_count() if name == "physchem" else 2048)
    assert teacher.dim == dim
    assert out.embeddings.shape == (50, dim)
    assert out.embeddings.dtype == np.float32
    assert out.ok.dtype == bool
    expected_ok = np.ones(50, bool)
    expected_ok[BAD] = False
    np.testing.assert_array_equal(out.ok, expected_ok)
    assert out.reasons == {BAD: "unparseable SMILES"}
    assert np.isnan(out.embeddings[BAD]).all()
    valid = out.embeddings[out.ok]
    assert np.isfinite(valid).all()
    # the teacher tells molecules apart: some dimension varies across the batch
    assert (valid.std(axis=0) > 0).any()
    if name in BITS:
        assert set(np.unique(valid)) <= {0.0, 1.0}
    if name in COUNTS:
        assert (valid >= 0).all() and np.array_equal(valid, np.round(valid))
        assert valid.max() > 1


@pytest.mark.parametrize("name", NAMES)
def test_deterministic(name, batch, outputs):
    again = get_teacher(name, n_jobs=1).embed(batch)
    np.testing.assert_array_equal(again.embeddings, outputs[name].embeddings)
    np.testing.assert_array_equal(again.ok, outputs[name].ok)


@pytest.mark.parametrize("radius,size", [(2, 2048), (3, 1024)])
def test_ecfp_equals_rdkit_morgan(radius, size, batch):
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    mol = Chem.MolFromSmiles(batch[3])
    expected = rdFingerprintGenerator.GetMorganGenerator(
        radius=radius, fpSize=size).GetFingerprintAsNumPy(mol)
    got = get_teacher(f"ecfp:radius={radius},size={size}", n_jobs=1).embed([batch[3]])
    assert expected.sum() > 10
    np.testing.assert_array_equal(got.embeddings[0], expected.astype(np.float32))


@pytest.mark.parametrize("name", sorted((BITS | COUNTS) - {"pharm2d"}) + ["erg"])
def test_same_values_as_molfeat_calculator(name, batch, outputs):
    # fingerprints built from a cached RDKit generator must equal molfeat's own call
    from molfeat.calc import FPCalculator
    from rdkit import Chem

    teacher = get_teacher(name, n_jobs=1)
    calc = FPCalculator(name, **teacher._calculator_kwargs())
    for i in (0, 7, 40):
        expected = np.asarray(calc(Chem.MolFromSmiles(batch[i])), dtype=np.float32)
        np.testing.assert_array_equal(outputs[name].embeddings[i], expected)


def test_spec_round_trip():
    teacher = get_teacher("ecfp:size=1024,radius=3", n_jobs=1)
    assert teacher.dim == 1024
    assert teacher.spec == "ecfp:radius=3,size=1024"
    assert get_teacher(teacher.spec).spec == teacher.spec
    assert get_teacher("ecfp").spec == "ecfp:radius=2,size=2048"
    assert get_teacher("maccs", n_jobs=4).spec == "maccs"  # n_jobs is a runtime parameter
    assert get_teacher("pharm2d").spec == "pharm2d:factory=pmapper,size=2048"
    assert get_teacher("avalon:size=1024").dim == 1024


@pytest.mark.parametrize("spec,match", [
    ("ecfp:radius=-1", "'radius' parameter of teacher 'ecfp'.*Got -1"),
    ("atompair:size=0", "'size' parameter of teacher 'atompair'.*Got 0"),
    ("pharm2d:factory=nope", "'factory' parameter of teacher 'pharm2d'.*'nope'"),
])
def test_bad_parameters_fail_on_use_not_construction(spec, match):
    teacher = get_teacher(spec)  # constructors only store arguments
    with pytest.raises(TeacherSpecError, match=match):
        _ = teacher.dim


def test_version_names_backends():
    import molfeat
    import rdkit

    version = get_teacher("ecfp").version
    assert f"rdkit={rdkit.__version__}" in version and f"molfeat={molfeat.__version__}" in version
    assert f"rdkit={rdkit.__version__}" in get_teacher("physchem").version


def test_empty_batch():
    out = get_teacher("maccs", n_jobs=1).embed([])
    assert out.embeddings.shape == (0, 167) and out.ok.shape == (0,)


def test_empty_and_unsanitisable_inputs_are_masked_with_reasons():
    out = get_teacher("ecfp", n_jobs=1).embed(["", "CCO", "c1cccc1"])
    assert out.ok.tolist() == [False, True, False]
    assert out.reasons[0] == "empty input"
    assert out.reasons[2].startswith("sanitization failed")


def test_physchem_is_finite_and_transforms_only_ipc():
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    # metals, noble gases and salts give NaN BCUT2D descriptors in RDKit; a cyclic peptide
    # gives an Ipc beyond 1e10
    peptide = ("CC[C@H](C)[C@@H]1NC(=O)[C@H](Cc2ccccc2)NC(=O)[C@H](CC(C)C)NC(=O)[C@@H](CCCN)"
               "NC(=O)[C@H](C(C)C)NC(=O)[C@H]2CCCN2C(=O)[C@H](Cc2ccccc2)NC(=O)[C@H](CC(C)C)"
               "NC(=O)[C@@H](CCCN)NC(=O)[C@H](C(C)C)NC1=O")
    smiles = ["[Fe]", "[He]", peptide, "c1ccccc1O"]
    raw_nan = [any(np.isnan(v) for v in Descriptors.CalcMolDescriptors(
        Chem.MolFromSmiles(s), missingVal=np.nan).values()) for s in smiles]
    assert raw_nan[:2] == [True, True]  # the case the teacher must repair
    teacher = get_teacher("physchem", n_jobs=1)
    out = teacher.embed(smiles)
    assert out.ok.all() and np.isfinite(out.embeddings).all()
    cols = teacher.columns
    mol = Chem.MolFromSmiles(peptide)
    ipc = Descriptors.Ipc(mol)
    assert ipc > 1e10
    assert out.embeddings[2, cols.index("Ipc")] == pytest.approx(np.log1p(ipc), rel=1e-6)
    assert out.embeddings[2, cols.index("MolWt")] == pytest.approx(Descriptors.MolWt(mol),
                                                                   rel=1e-6)
    assert out.embeddings[3, cols.index("NumHDonors")] == 1


def test_pickled_teacher_gives_same_output(batch, outputs):
    teacher = get_teacher("fcfp", n_jobs=1)
    teacher.embed(batch[:2])  # builds the calculator, which holds unpicklable RDKit objects
    clone = pickle.loads(pickle.dumps(teacher))
    np.testing.assert_array_equal(clone.embed(batch).embeddings, outputs["fcfp"].embeddings)


@pytest.mark.slow  # starting worker processes that import RDKit takes 10-30 s on a busy box
def test_parallel_matches_sequential(moses_smiles, monkeypatch):
    monkeypatch.setattr(fp.ECFP, "_min_parallel", 0)
    smiles = list(moses_smiles[:250])
    smiles[150] = "not a smiles"  # in the second chunk: its reason must land at 150
    serial = get_teacher("ecfp", n_jobs=1).embed(smiles)
    parallel = get_teacher("ecfp", n_jobs=2).embed(smiles)
    np.testing.assert_array_equal(parallel.embeddings, serial.embeddings)
    np.testing.assert_array_equal(parallel.ok, serial.ok)
    assert parallel.reasons == serial.reasons == {150: "unparseable SMILES"}


def test_worker_results_travel_sparse_only_when_mostly_zero(moses_smiles):
    # what a worker process sends back (pickled): ECFP counts as CSR, descriptors dense;
    # same values as the in-process chunk either way
    smiles = list(moses_smiles[:40])
    for spec, is_sparse in (("ecfp-count:radius=2,size=2048", True), ("physchem", False)):
        teacher = get_teacher(spec, n_jobs=1)
        args = (teacher._calculator(), smiles, teacher.dim, teacher._raw_dtype,
                teacher._max_heavy_atoms)
        dense, ok, reasons = fp._embed_chunk(*args)
        sent, sent_ok, sent_reasons = fp._embed_chunk_sparse(*args)
        assert hasattr(sent, "toarray") is is_sparse, spec
        np.testing.assert_array_equal(sent.toarray() if is_sparse else sent, dense)
        np.testing.assert_array_equal(sent_ok, ok)
        assert sent_reasons == reasons


def test_parallel_chunks_respect_each_teachers_floor(monkeypatch):
    """A slow calculator (Mordred: _min_chunk 10) splits a 100-molecule call over the
    workers; a cheap one keeps its 100-molecule floor and runs such a call in one process."""
    import datamol as dm

    sent = []

    def record(fn, tasks, **kwargs):
        sent.append([len(t[1]) for t in tasks])
        return [fn(*t) for t in tasks]

    monkeypatch.setattr(dm, "parallelized", record)
    smiles = ["CCO", "c1ccccc1O", "CC(=O)N"] * 33 + ["CCN"]  # 100 molecules
    cheap = get_teacher("physchem", n_jobs=2)
    monkeypatch.setattr(cheap, "_min_parallel", 50)
    serial = cheap.embed(smiles)
    assert sent == []  # one chunk of 100 (the floor): no worker tasks
    monkeypatch.setattr(cheap, "_min_chunk", 10)
    split = cheap.embed(smiles)
    assert sent == [[13] * 7 + [9]]  # ~4 chunks per worker
    np.testing.assert_array_equal(split.embeddings, serial.embeddings)
    from molmtd.teachers.mordred import MordredDescriptors

    assert MordredDescriptors._min_chunk == 10


@pytest.mark.parametrize("n,workers", [(500, 2), (1003, 2), (10_000, 2), (250_000, 2),
                                       (1000, 4), (4000, 3)])
def test_parallel_chunks_split_evenly_over_the_workers(n, workers):
    chunk = fp._chunk_size(n, workers, min_chunk=100)
    chunks = -(-n // chunk)
    assert chunks % workers == 0  # no worker is left with one chunk more than the rest
    assert 100 <= chunk <= 1000 and chunks <= max(4 * workers, -(-n // 1000) + workers)
    assert fp._chunk_size(100, 2, min_chunk=100) == 100  # below two floors: one chunk
