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
