"""Released featurizers' cards are Hugging Face model cards: front matter, model-index."""

from __future__ import annotations

import re
from numbers import Real
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from molmtd.card import MAX_CARD_CHARS, split_front_matter

ROOT = Path(__file__).resolve().parents[1]
CARDS = sorted((ROOT / "featurizers").glob("*/card.md"))
SECTIONS = ["Intended use", "How to use", "Training data and teachers", "Evaluation",
            "Limitations", "Training compute", "Ablations"]
# an internal run counter (the word "stop" and a number, a results folder "heldout-s" and a
# number, or "s" and two digits) means nothing to a reader
COUNTER = re.compile(r"\bstop[ -]\d+|\bheldout-s\d+|\bs\d{2}\b", re.IGNORECASE)


def test_every_released_folder_has_a_card():
    assert {c.parent.name for c in CARDS} >= {"molmtd-base", "quickstart"}


@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.parent.name)
def test_card_front_matter_parses_and_names_license_tags_library_datasets(card_path):
    text = card_path.read_text()
    assert len(text) <= MAX_CARD_CHARS, f"{card_path}: {len(text)} characters"
    meta, body = split_front_matter(text)
    assert meta["license"] == "mit" and meta["library_name"] == "molmtd"
    assert isinstance(meta["tags"], list) and "chemistry" in meta["tags"]
    assert meta["datasets"] == ["moses"]
    card = ModelCard(text)  # the Hub's own parser (raises on a malformed model-index)
    assert card.data.library_name == "molmtd"
    headings = [line[3:].strip() for line in body.splitlines() if line.startswith("## ")]
    assert headings[:len(SECTIONS)] == SECTIONS
    assert body.lstrip().startswith(f"# {card_path.parent.name}\n")


@pytest.mark.parametrize("path", sorted((ROOT / "featurizers").rglob("*")),
                         ids=lambda p: str(p.relative_to(ROOT / "featurizers")))
def test_no_internal_run_counter_in_released_text(path):
    if not path.is_file() or path.suffix not in (".md", ".json"):
        return  # model.safetensors: binary weights, a header of tensor offsets only
    hits = COUNTER.findall(path.read_text())
    assert not hits, f"{path}: {hits}"


def test_safetensors_headers_hold_no_text_metadata():
    import json
    import struct

    for weights in (ROOT / "featurizers").glob("*/model.safetensors"):
        with weights.open("rb") as fh:
            header = json.loads(fh.read(struct.unpack("<Q", fh.read(8))[0]))
        assert header.get("__metadata__", {}) == {}, weights


def test_molmtd_base_model_index_follows_the_hub_schema():
    meta, body = split_front_matter((ROOT / "featurizers" / "molmtd-base" / "card.md").read_text())
    index = meta["model-index"]
    assert isinstance(index, list) and len(index) == 1 and index[0]["name"] == "molmtd-base"
    results = index[0]["results"]
    for result in results:
        assert isinstance(result["task"]["type"], str)
        dataset = result["dataset"]
        assert isinstance(dataset["name"], str) and isinstance(dataset["type"], str)
        assert dataset["split"] in ("random", "scaffold")
        for metric in result["metrics"]:
            assert metric["type"] in meta["metrics"] and isinstance(metric["name"], str)
            assert isinstance(metric["value"], Real) and not isinstance(metric["value"], bool)
            assert 0 < metric["value"] <= 1  # AUROC and held-out R2 of this model
    name, evals = model_index_to_eval_results(index)
    assert name == "molmtd-base"
    # ten held-out tasks, both splits, each a task the evaluation table ranks
    tasks = {(e.dataset_type, e.dataset_split) for e in evals}
    assert len(tasks) == 20 and {s for _, s in tasks} == {"random", "scaffold"}
    for task, _ in tasks:
        assert task in body.split("## Evaluation")[1].split("## ")[0]
    # honest: the rank table names MiniMol first where it leads, and Limitations says so
    limits = body.split("## Limitations")[1].split("## ")[0]
    assert "scaffold (minimol" in limits and "kNN" in limits
    assert "100 heavy atoms" in limits and "Corpus:" in limits


@pytest.mark.parametrize("card_path", CARDS, ids=lambda p: p.parent.name)
def test_card_links_resolve_in_the_repository_and_name_the_ablations(card_path):
    text = card_path.read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert "../../docs/EXPERIMENTS.md" in links  # the ablations live there
    for link in links:
        assert (card_path.parent / link).exists(), link
