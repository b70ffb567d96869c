"""Standardisation and keys: salts, charges, equivalent spellings, invalid reasons, batches."""

from __future__ import annotations

import pytest

from molmtd.errors import InvalidMoleculeError
from molmtd.molecules import (
    STANDARDIZE_DEFAULTS,
    smiles_key_hash,
    standardize_many,
    standardize_smiles,
    to_mol,
)


@pytest.mark.parametrize(("raw", "key"), [
    ("CC(=O)[O-].[Na+]", "CC(=O)O"),          # salt stripped, carboxylate neutralised
    ("[Na+].[O-]C(=O)C", "CC(=O)O"),
    ("C[NH3+].[Cl-]", "CN"),                  # ammonium chloride -> amine
    ("c1ccccc1O.O.O", "Oc1ccccc1"),           # solvent removed
    ("CN(=O)=O", "C[N+](=O)[O-]"),            # nitro drawn one way
    ("[H]C([H])([H])O[H]", "CO"),             # explicit hydrogens
])
def test_standardize_strips_salts_and_neutralises(raw, key):
    assert standardize_smiles(raw) == key


@pytest.mark.parametrize(("a", "b"), [
    ("OCC", "CCO"),
    ("C1=CC=CC=C1O", "Oc1ccccc1"),
    ("N[C@@H](C)C(=O)O", "C[C@H](N)C(=O)O"),
    ("[O-][N+](=O)c1ccccc1", "O=N(=O)c1ccccc1"),
])
def test_same_molecule_two_ways_same_key(a, b):
    assert standardize_smiles(a) == standardize_smiles(b)


def test_options_switch_steps():
    salt = "CC(=O)[O-].[Na+]"
    assert "." in standardize_smiles(salt, largest_fragment=False)
    assert "[O-]" in standardize_smiles("CC(=O)[O-]", uncharge=False, reionize=False)
    assert standardize_smiles("C[C@H](N)O") != standardize_smiles("C[C@H](N)O", stereo=False)
    assert "@" not in standardize_smiles("C[C@H](N)O", stereo=False)
    assert standardize_smiles("[2H]C") == "[2H]C"
    assert standardize_smiles("[2H]C", isotopes=False) == "C"
    assert standardize_smiles("[13CH3]O", isotopes=False) == "CO"


def test_mol_input_not_modified():
    mol = to_mol("CC(=O)[O-].[Na+]")
    assert standardize_smiles(mol) == "CC(=O)O"
    assert mol.GetNumAtoms() == 5  # the caller's Mol keeps its sodium


def test_matches_datamol_on_moses(moses_smiles):
    """The cached-standardiser path gives the same keys as dm.standardize_mol + salt strip."""
    import datamol as dm
    from rdkit.Chem.MolStandardize import rdMolStandardize

    chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
    for smi in moses_smiles[:150]:
        ref = dm.standardize_mol(chooser.choose(dm.to_mol(smi)), uncharge=True)
        assert standardize_smiles(smi) == dm.to_smiles(ref, canonical=True, isomeric=True)


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "empty input"),
    ("   ", "empty input"),
    (None, "empty input"),
    ("not_a_smiles", "unparseable SMILES"),
    ("C1CC", "unparseable SMILES"),
    ("[H][H]", "no heavy atoms"),
    ("[Na+]", None),  # single ion: valid, kept
])
def test_invalid_reasons(raw, reason):
    if reason is None:
        assert standardize_smiles(raw) == "[Na+]"
        return
    with pytest.raises(InvalidMoleculeError) as info:
        standardize_smiles(raw, position=7)
    assert info.value.reason == reason
    assert info.value.position == 7
    assert str(info.value).startswith("input 7")


@pytest.mark.parametrize(("raw", "fragment"), [
    ("c1cccc1", "kekulize"),
    ("CN(C)(C)(C)C", "valence"),
])
def test_sanitization_failure_reason(raw, fragment):
    with pytest.raises(InvalidMoleculeError) as info:
        standardize_smiles(raw, position=3)
    assert info.value.reason.startswith("sanitization failed: ")
    assert fragment in info.value.reason.lower()
    assert "input 3" in str(info.value) and raw in str(info.value)


def test_heavy_atom_limits():
    chain = "C" * 200
    assert standardize_smiles(chain) == chain
    too_many = r"too many heavy atoms \(200 > max_heavy_atoms=100\)"
    with pytest.raises(InvalidMoleculeError, match=too_many):
        standardize_smiles(chain, max_heavy_atoms=100, position=12)
    too_few = r"too few heavy atoms \(2 < min_heavy_atoms=3\)"
    with pytest.raises(InvalidMoleculeError, match=too_few):
        standardize_smiles("CO", min_heavy_atoms=3)
    assert standardize_smiles("CCO", min_heavy_atoms=3, max_heavy_atoms=3) == "CCO"


def test_to_mol_rejects_other_types():
    expected = "expected a SMILES string or RDKit Mol, got int"
    with pytest.raises(InvalidMoleculeError, match=expected):
        to_mol(5, position=1)


def test_defaults_mirror_the_recipe():
    from molmtd.recipe import StandardizeConfig

    assert STANDARDIZE_DEFAULTS == StandardizeConfig().model_dump()
    assert "position" not in STANDARDIZE_DEFAULTS


def test_standardize_many_aligned_with_reasons():
    items = ["OCC", "", "xyz", "CC(=O)[O-].[Na+]", to_mol("c1ccccc1"), "C" * 20]
    keys, reasons = standardize_many(items, max_heavy_atoms=10)
    assert keys == ["CCO", None, None, "CC(=O)O", "c1ccccc1", None]
    assert reasons == {1: "empty input", 2: "unparseable SMILES",
                       5: "too many heavy atoms (20 > max_heavy_atoms=10)"}
    assert standardize_many([]) == ([], {})


def test_standardize_many_parallel_equals_serial(moses_smiles, monkeypatch):
    import molmtd.molecules as molecules

    monkeypatch.setattr(molecules, "_MIN_CHUNK", 10)  # several tasks from a few molecules
    items = moses_smiles[:40] + ["bad"] + moses_smiles[40:60] + ["CC(=O)[O-].[Na+]"]
    serial = standardize_many(items, n_jobs=1)
    parallel = standardize_many(items, n_jobs=2)
    assert parallel == serial
    assert serial[1] == {40: "unparseable SMILES"}
    assert serial[0][-1] == "CC(=O)O"
    assert sum(k is not None for k in serial[0]) == 61


def test_standardize_many_unknown_option():
    with pytest.raises(TypeError, match=r"\['salt'\].*largest_fragment.*max_heavy_atoms"):
        standardize_many(["CCO"], salt=True)


def test_key_hash_stable_and_distinct():
    h = smiles_key_hash("CCO")
    assert h == smiles_key_hash("CCO") and len(h) == 16
    assert int(h, 16) >= 0
    assert h != smiles_key_hash("CCN")
    import hashlib

    assert h == hashlib.sha1(b"CCO").hexdigest()[:16]


def test_explicit_hydrogens_do_not_change_the_key():
    from rdkit import Chem

    mol = Chem.AddHs(Chem.MolFromSmiles("C[C@H](N)C(=O)[O-]"))
    n_atoms = mol.GetNumAtoms()
    assert standardize_smiles(mol) == standardize_smiles("C[C@H](N)C(=O)O") == "C[C@H](N)C(=O)O"
    assert mol.GetNumAtoms() == n_atoms  # the caller's Mol keeps its hydrogens
    assert standardize_smiles("[2H]OC") == "[2H]OC"  # an isotopic hydrogen is an atom


def test_to_mol_returns_sanitised_mol_or_the_input():
    from rdkit import Chem

    mol = to_mol(" c1ccccc1O ")
    assert isinstance(mol, Chem.Mol) and mol.GetNumAtoms() == 7
    assert mol.GetAtomWithIdx(0).GetIsAromatic()  # sanitised: aromaticity perceived
    assert to_mol(mol) is mol
    with pytest.raises(InvalidMoleculeError, match="input 4.*unparseable SMILES"):
        to_mol("C1CC", position=4)


@pytest.mark.parametrize("smi", [
    "C[N+](C)(C)C.[Cl-]",                     # quaternary ammonium: charge stays
    "[O-]c1ccccc1.[Na+]",                     # phenolate
    "OC(=O)CC[NH3+]",                         # cation of an amino acid
    "[O-]C(=O)C[NH3+]",                       # zwitterion
    "O=C([O-])c1ccccc1C(=O)O",                # partly ionised diacid: reioniser moves H
    "C[S+]([O-])C",                           # sulfoxide drawn charge-separated
    "C1=CC=[N+]([O-])C=C1",                   # pyridine N-oxide
    "CN=[N+]=[N-]",                           # azide
    "CC(=O)O.CCN(CC)CC",                      # two organics: largest kept
])
def test_matches_datamol_on_charged_and_mixed(smi):
    import datamol as dm
    from rdkit.Chem.MolStandardize import rdMolStandardize

    chooser = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
    ref = dm.standardize_mol(chooser.choose(dm.to_mol(smi)), uncharge=True)
    assert standardize_smiles(smi) == dm.to_smiles(ref, canonical=True, isomeric=True)


def test_module_import_stays_light():
    """Worker processes import this module: RDKit and datamol load on first use only."""
    import subprocess
    import sys

    code = ("import sys, molmtd.molecules; "
            "print(sorted(m for m in ('rdkit', 'datamol', 'pandas', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the fast path: the reioniser and the uncharger skipped where they change nothing ----
_CHARGED_AND_ODD = [
    "CC(=O)[O-].[Na+]", "[Na]", "[Cl]", "[K]OC", "[Li]C", "[Mg]", "[Ca]", "[Zn]", "[Se]",
    "C[N+](C)(C)C.[Cl-]", "[O-]c1ccccc1.[Na+]", "OC(=O)CC[NH3+]", "[O-]C(=O)C[NH3+]",
    "O=C([O-])c1ccccc1C(=O)O", "C[S+]([O-])C", "CS(C)=O", "C[S@](=O)c1ccccc1",
    "C1=CC=[N+]([O-])C=C1", "CN=[N+]=[N-]", "CN(=O)=O", "[C-]#[O+]", "[NH4+]", "Cl",
    "OB(O)c1ccccc1", "C[Si](C)(C)C", "O=P(O)(O)O", "[2H]C", "F/C=C/F", "[CH2]C", "[O]",
    "OCC[C@H](C(=O)[O-])CC(=O)O.[NH4+]", "N[C@@H](C)C(=O)O", "[Fe+2].[Cl-].[Cl-]",
]


def test_charge_corrections_only_touch_guarded_elements():
    """Every element the default Reionizer charges as a lone atom is caught by the guard."""
    from rdkit import Chem
    from rdkit.Chem.MolStandardize import rdMolStandardize

    from molmtd.molecules import _charge_steps_apply

    reionizer = rdMolStandardize.Reionizer()
    table = Chem.GetPeriodicTable()
    for z in range(1, 119):
        mol = Chem.MolFromSmiles(f"[{table.GetElementSymbol(z)}]")
        if mol is None:
            continue
        changed = Chem.MolToSmiles(reionizer.reionize(mol)) != Chem.MolToSmiles(mol)
        assert not changed or _charge_steps_apply(mol), table.GetElementSymbol(z)


@pytest.mark.parametrize("options", [{}, {"largest_fragment": False}, {"normalize": False}])
def test_skipping_charge_steps_changes_no_key(moses_smiles, monkeypatch, options):
    """Keys with the skip equal keys with the reioniser and uncharger always run."""
    import molmtd.molecules as molecules

    items = moses_smiles[:300] + _CHARGED_AND_ODD
    fast = standardize_many(items, **options)
    monkeypatch.setattr(molecules, "_charge_steps_apply", lambda mol: True)
    assert standardize_many(items, **options) == fast


# One molecule (or more) per default normalization of RDKit's Normalizer that it changes
# (the neutral nitro form, the sulfoxides, the charged transforms), and neighbours it
# leaves alone; RDKit's sanitisation already rewrites neutral azides, diazo and pyridine
# oxides, so no input reaches the normalizer in those forms.
_NORMALIZER_CASES = [
    "CP(=O)=O", "CP(=O)(=S)", "CS(C)=O", "CN(C)S(C)=O", "C[S+2]([O-])([O-])C",
    "[O-][P+](C)(C)[O-]", "C[C+](N)NC", "C[P+](N)(C)NC", "CNNCC[N+]#N", "[O-]C=[N+](C)C",
    "C=C[N+](C)=CC=C[O-]", "NC=[N+](C)C", "O=n1ccccc1", "CN=N#N", "C=N#N",
    "O=[N+]([O-])c1ccccc1", "CS(=O)(=O)C", "CC(=O)[O-]",
]


def test_normalizer_guard_catches_every_molecule_the_normalizer_changes(moses_smiles):
    from rdkit import Chem
    from rdkit.Chem.MolStandardize import rdMolStandardize

    from molmtd.molecules import _normalizer_applies

    normalizer = rdMolStandardize.Normalizer()
    changed = 0
    for smi in moses_smiles + _CHARGED_AND_ODD + _NORMALIZER_CASES:
        mol = Chem.MolFromSmiles(smi)
        if mol is None:
            continue
        if Chem.MolToSmiles(normalizer.normalize(mol)) != Chem.MolToSmiles(mol):
            changed += 1
            assert _normalizer_applies(mol), smi
    assert changed >= 12  # the cases above exercise the transforms, not only the guard
    assert not _normalizer_applies(Chem.MolFromSmiles("CS(=O)(=O)c1ccccc1C(=O)N"))


@pytest.mark.parametrize("options", [{}, {"uncharge": False, "reionize": False}])
def test_skipping_the_normalizer_changes_no_key(moses_smiles, monkeypatch, options):
    """Keys with the guard equal keys with the normalizer always run."""
    import molmtd.molecules as molecules

    items = moses_smiles + _CHARGED_AND_ODD + _NORMALIZER_CASES
    fast = standardize_many(items, **options)
    monkeypatch.setattr(molecules, "_normalizer_applies", lambda mol: True)
    assert standardize_many(items, **options) == fast


def test_parse_equals_datamol_parse_and_sanitize(moses_smiles):
    import datamol as dm
    from rdkit import Chem

    from molmtd.molecules import _parse

    for smi in moses_smiles[:200] + _CHARGED_AND_ODD:
        ref = dm.to_mol(smi, sanitize=False)
        Chem.SanitizeMol(ref)
        assert Chem.MolToSmiles(_parse(smi, 0)) == Chem.MolToSmiles(ref)
        assert Chem.MolToMolBlock(_parse(smi, 0)) == Chem.MolToMolBlock(ref)
