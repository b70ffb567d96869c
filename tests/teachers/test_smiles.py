"""SMILES teachers: ChemNet against fcd, and the Hugging Face path on a tiny random RoBERTa
with a SMILES tokenizer built in a temporary directory (offline)."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys

import numpy as np
import pytest

from molmtd.errors import TeacherSpecError, TeacherUnavailableError
from molmtd.teachers import get_teacher


def test_chemnet_equals_fcd_get_predictions(mixed, check_output, valid_of):
    fcd = pytest.importorskip("fcd")
    teacher = get_teacher("chemnet", batch_size=16)
    assert teacher.dim == 512
    out = teacher.embed(mixed)
    check_output(out, len(mixed), 512)
    ref = fcd.get_predictions(fcd.load_ref_model(), valid_of(mixed), n_jobs=0, device="cpu")
    np.testing.assert_allclose(out.embeddings[out.ok], ref, rtol=1e-5, atol=1e-6)
    assert np.array_equal(out.embeddings, teacher.embed(mixed).embeddings, equal_nan=True)
    assert teacher.version.startswith("fcd=")


@pytest.mark.teachers
def test_chemnet_masks_smiles_longer_than_its_padding(moses_smiles):
    pytest.importorskip("fcd")
    long = "C" * 360
    out = get_teacher("chemnet").embed([moses_smiles[0], long, moses_smiles[1]])
    assert out.ok.tolist() == [True, False, True]
    assert "360 characters" in out.reasons[1] and "349" in out.reasons[1]


@pytest.mark.teachers
def test_chemnet_pickles_without_its_model(moses_smiles):
    import pickle

    pytest.importorskip("fcd")
    teacher = get_teacher("chemnet", batch_size=4)
    first = teacher.embed(moses_smiles[:3])
    clone = pickle.loads(pickle.dumps(teacher))
    assert clone.spec == teacher.spec and not hasattr(clone, "_model")
    np.testing.assert_array_equal(clone.embed(moses_smiles[:3]).embeddings, first.embeddings)


def test_chemnet_missing_fcd_says_how_to_install(monkeypatch):
    from molmtd.teachers.smiles import ChemNetTeacher

    monkeypatch.setitem(sys.modules, "fcd", None)
    with pytest.raises(TeacherUnavailableError, match=r"pip install 'molmtd\[chemnet\]'"):
        ChemNetTeacher().embed(["CCO"])


# -- Hugging Face ------------------------------------------------------------------------
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
SMILES_TOKENS = r"Cl|Br|\[[^\]]+\]|%\d\d|."  # bracket atoms, two-digit rings, else characters


@pytest.fixture(scope="module")
def tiny_roberta(tmp_path_factory, moses_smiles):
    """A random 2-layer RoBERTa and a WordLevel SMILES tokenizer, saved with save_pretrained."""
    pytest.importorskip("transformers")
    import re

    import torch
    from tokenizers import Regex, Tokenizer, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaModel

    pieces = sorted({t for s in moses_smiles for t in re.findall(SMILES_TOKENS, s)})
    vocab = {t: i for i, t in enumerate(SPECIALS + pieces)}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_TOKENS), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
        unk_token="<unk>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
        model_max_length=128)
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=32,
                           max_position_embeddings=130, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2)
    model = RobertaModel(config, add_pooling_layer=False).eval()
    directory = tmp_path_factory.mktemp("tiny-roberta")
    fast.save_pretrained(directory)
    model.save_pretrained(directory)
    return directory, fast, model


def _reference(tokenizer, model, smiles, pooling, max_length=128):
    """Each molecule alone (no padding), straight through transformers."""
    import torch

    rows = []
    with torch.no_grad():
        for s in smiles:
            enc = tokenizer(s, truncation=True, max_length=max_length, return_tensors="pt")
            h = model(**enc).last_hidden_state[0]
            rows.append(h[0] if pooling == "cls" else h.mean(0))
    return torch.stack(rows).numpy()


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_hf_teacher_offline_matches_transformers(tiny_roberta, mixed, pooling, monkeypatch,
                                                 check_output, valid_of):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    directory, tokenizer, model = tiny_roberta
    teacher = get_teacher(f"hf:model={directory},pooling={pooling}", batch_size=8)
    assert teacher.dim == 16
    out = teacher.embed(mixed)
    check_output(out, len(mixed), 16)
    ref = _reference(tokenizer, model, valid_of(mixed), pooling)
    np.testing.assert_allclose(out.embeddings[out.ok], ref, rtol=1e-4, atol=1e-5)
    assert np.array_equal(out.embeddings, teacher.embed(mixed).embeddings, equal_nan=True)
    assert teacher.version.startswith("transformers=")


def test_hf_teacher_truncates_to_max_length(tiny_roberta, moses_smiles, caplog):
    directory, tokenizer, model = tiny_roberta
    smiles = list(moses_smiles[:6])
    teacher = get_teacher(f"hf:model={directory},max_length=10")
    with caplog.at_level(logging.WARNING, logger="molmtd.teachers.smiles"):
        out = teacher.embed(smiles)
    assert out.ok.all()
    ref = _reference(tokenizer, model, smiles, "mean", max_length=10)
    np.testing.assert_allclose(out.embeddings, ref, rtol=1e-4, atol=1e-5)
    assert "6 SMILES reached max_length=10 tokens" in caplog.text


def test_hf_teacher_reads_the_hub_cache_offline(tiny_roberta, moses_smiles, tmp_path,
                                                monkeypatch):
    import huggingface_hub

    directory, _, _ = tiny_roberta
    repo = tmp_path / "hub" / "models--molmtd-tests--tiny-roberta"
    commit = "0" * 40
    shutil.copytree(directory, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from_cache = get_teacher("hf:model=molmtd-tests/tiny-roberta").embed(moses_smiles[:5])
    from_dir = get_teacher(f"hf:model={directory}").embed(moses_smiles[:5])
    np.testing.assert_array_equal(from_cache.embeddings, from_dir.embeddings)


def test_hf_absent_model_names_it_and_where_to_put_it(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    teacher = get_teacher("hf:model=molmtd-tests/absent-model")
    with pytest.raises(TeacherUnavailableError) as info:
        teacher.embed(["CCO"])
    msg = str(info.value)
    assert "'molmtd-tests/absent-model'" in msg
    assert str(tmp_path / "hub" / "models--molmtd-tests--absent-model") in msg
    assert "snapshot_download('molmtd-tests/absent-model')" in msg
    assert "allow_download=true" in msg and "HF_HUB_OFFLINE" in msg


def test_hf_missing_directory_names_it(tmp_path):
    missing = tmp_path / "no-model-here"
    with pytest.raises(TeacherUnavailableError,
                       match=f"{missing}.*does not exist.*save_pretrained"):
        _ = get_teacher(f"hf:model={missing}").dim


def test_hf_bad_pooling(tiny_roberta):
    directory, _, _ = tiny_roberta
    with pytest.raises(TeacherSpecError, match="pooling must be 'mean' or 'cls'"):
        _ = get_teacher(f"hf:model={directory},pooling=max").dim


def test_hf_allow_download_is_not_part_of_the_spec():
    teacher = get_teacher("hf:model=org/name,allow_download=true")
    assert "allow_download" not in teacher.spec and teacher.allow_download is True


def test_hf_available_reports_missing_transformers(monkeypatch):
    from molmtd.teachers.smiles import HFTeacher

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "transformers" else real(name, *a))
    ok, reason = HFTeacher.available()
    assert not ok and "pip install 'molmtd[hf]'" in reason
