from pathlib import Path

import pytest

from molmtd.errors import RecipeError
from molmtd.recipe import load_recipe

RECIPES = Path(__file__).parents[1] / "recipes"


@pytest.mark.parametrize("name", ["quickstart.yaml", "zinc.yaml"])
def test_shipped_recipes_validate(name):
    recipe = load_recipe(RECIPES / name)
    assert recipe.teachers
    assert recipe.corpus.source == "moses"


def test_zinc_recipe_has_every_offline_family():
    specs = load_recipe(RECIPES / "zinc.yaml").teachers
    names = {s.split(":")[0] for s in specs}
    assert {"chemprop", "minimol", "chemnet"} <= names
    assert names & {"ecfp", "ecfp-count"}


def test_set_overrides_any_nested_field():
    r = load_recipe(RECIPES / "quickstart.yaml",
                    ["training.lr=3e-4", "student.num_layers=2", "corpus.max_molecules=null",
                     "teachers=[maccs]"])
    assert r.training.lr == pytest.approx(3e-4)
    assert r.student.num_layers == 2
    assert r.corpus.max_molecules is None
    assert r.teachers == ["maccs"]


def test_unknown_field_is_named_with_fix():
    with pytest.raises(RecipeError) as err:
        load_recipe(data={"teachers": ["ecfp"], "training": {"learning_rate": 1}})
    msg = str(err.value)
    assert "training.learning_rate" in msg and "not a recipe field" in msg


def test_invalid_value_names_field_and_override():
    with pytest.raises(RecipeError) as err:
        load_recipe(data={"teachers": ["ecfp"], "training": {"batch_size": 0}})
    msg = str(err.value)
    assert "training.batch_size" in msg and "--set training.batch_size=" in msg


def test_missing_teachers_is_reported():
    with pytest.raises(RecipeError, match="field 'teachers' is required"):
        load_recipe(data={"name": "x"})


def test_duplicate_teacher_rejected():
    with pytest.raises(RecipeError, match="listed twice"):
        load_recipe(data={"teachers": ["maccs", "maccs"]})


def test_bad_override_syntax():
    with pytest.raises(RecipeError, match="key=value"):
        load_recipe(RECIPES / "quickstart.yaml", ["training.lr"])


def test_missing_file():
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe("nope.yaml")


def test_overrides_do_not_mutate_input():
    data = {"teachers": ["maccs"], "training": {"lr": 0.1}}
    load_recipe(data=data, overrides=["training.lr=0.2"])
    assert data["training"]["lr"] == 0.1


def test_student_feature_subset_by_name_and_unknown_name_error():
    from molmtd.distill import _student_config
    from molmtd.errors import RecipeError

    recipe = load_recipe(RECIPES / "quickstart.yaml",
                         ["student.atom_features=[atomic_num, chirality]"])
    assert _student_config(recipe)["atom_columns"] == [0, 1]
    assert _student_config(recipe)["bond_columns"] is None
    bad = load_recipe(RECIPES / "quickstart.yaml", ["student.bond_features=[bond_order]"])
    with pytest.raises(RecipeError, match=r"student.bond_features.*bond_order.*bond_type"):
        _student_config(bad)


def test_yaml_tags_that_would_run_code_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    recipe = tmp_path / "evil.yaml"
    recipe.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n"
                      "teachers: [maccs]\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(recipe)
    with pytest.raises(RecipeError, match="not valid YAML"):  # the same through --set
        load_recipe(RECIPES / "quickstart.yaml",
                    [f"name=!!python/object/apply:os.system ['touch {marker}']"])
    assert not marker.exists()


def test_teacher_weights_name_the_teachers_by_label():
    r = load_recipe(RECIPES / "quickstart.yaml",
                    ["teachers=[maccs,'ecfp:radius=2']", "objective.teacher_weights={ecfp: 2.5}"])
    assert r.objective.teacher_weights == {"ecfp": 2.5}
    with pytest.raises(RecipeError, match=r"names \['ecf'\], which are not among the "
                                          r"teachers' labels \['maccs', 'ecfp'\]"):
        load_recipe(data={"teachers": ["maccs", "ecfp"],
                          "objective": {"teacher_weights": {"ecf": 1}}})
    with pytest.raises(RecipeError, match=r"must be finite and > 0; got \{'maccs': -1.0\}"):
        load_recipe(data={"teachers": ["maccs"], "objective": {"teacher_weights": {"maccs": -1}}})
