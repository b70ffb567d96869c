"""molmtd.card.render_card: the card says what the student was trained on."""

from __future__ import annotations

from pathlib import Path

from molmtd.card import render_card
from molmtd.recipe import load_recipe


def _info(n_molecules: int, n_train: int, n_val: int) -> dict:
    return {"name": "m", "objective": "cosine", "teachers": ["maccs"], "global_step": 12,
            "teacher_labels": {"maccs": "maccs"}, "validation": {"total": {"loss": 0.5}},
            "corpus": {"source": "moses", "n_molecules": n_molecules, "n_train": n_train,
                       "n_val": n_val}}


def test_card_names_a_prefix_of_a_larger_corpus():
    recipe = load_recipe(Path(__file__).parents[1] / "recipes" / "quickstart.yaml")
    whole = render_card(recipe, _info(10_000, 9_000, 1_000))
    assert "on 10,000 molecules (`moses`; 9,000 train / 1,000 validation)" in whole
    prefix = render_card(recipe, _info(250_000, 45_000, 5_000))
    assert ("on 50,000 molecules (the first 50,000 of a 250,000-molecule `moses` corpus; "
            "45,000 train / 5,000 validation)") in prefix


def test_card_opens_with_hub_front_matter_and_no_model_index():
    from huggingface_hub import ModelCard

    from molmtd.card import split_front_matter

    recipe = load_recipe(Path(__file__).parents[1] / "recipes" / "quickstart.yaml")
    info = _info(10_000, 9_000, 1_000)
    info["teachers"] = ["maccs", "ecfp-count:radius=2"]
    text = render_card(recipe, info)
    meta, body = split_front_matter(text)
    assert meta["library_name"] == "molmtd" and meta["datasets"] == ["moses"]
    assert "chemistry" in meta["tags"] and "molmtd" in meta["tags"]
    assert "model-index" not in meta  # a fresh run is not evaluated
    assert body.lstrip("\n").startswith("# molmtd featurizer: m\n")
    assert ModelCard(text).data.eval_results is None
    info["corpus"]["source"] = "/data/my.smi"  # a file path names no dataset a reader can find
    assert "datasets" not in split_front_matter(render_card(recipe, info))[0]


def test_split_front_matter_refuses_an_unclosed_block():
    import pytest

    from molmtd.card import split_front_matter

    assert split_front_matter("# plain\n") == ({}, "# plain\n")
    with pytest.raises(ValueError, match="no closing"):
        split_front_matter("---\nlicense: mit\n# body\n")
