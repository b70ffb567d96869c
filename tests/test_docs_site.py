"""The docs site builds strictly, its generated pages cover the code, public names have docstrings.

Each build takes a few seconds (mkdocs, material, mkdocstrings on the checkout's molmtd).
"""

from __future__ import annotations

import html
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "DISABLE_MKDOCS_2_WARNING": "true", "NO_MKDOCS_2_WARNING": "1",
       "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(site)], cwd=config.parent, env=ENV, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = _build(ROOT / "mkdocs.yml", out)
    assert run.returncode == 0, run.stdout + run.stderr
    return out


def _text(site: Path, page: str) -> str:
    html = (site / page / "index.html").read_text()
    return re.sub(r"<[^>]+>", " ", html)  # the page's text, tags dropped


def _recipe_fields(model, path=""):
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        yield (path, name)
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _recipe_fields(field.annotation, f"{path}.{name}" if path else name)


def test_recipe_page_lists_every_field_of_every_section(site):
    from molmtd.recipe import Recipe

    text = _text(site, "reference/recipe")
    fields = list(_recipe_fields(Recipe))
    assert len(fields) > 60
    for section, name in fields:
        if section:
            assert section in text, section
        assert re.search(rf"\b{re.escape(name)}\b", text), f"{section}.{name}"
    assert "training.lr=3e-4" in text and "required" in text


def _recipe_models() -> list:
    """Every pydantic model of the recipe's schema, ``Recipe`` first."""
    from pydantic import BaseModel

    from molmtd.recipe import Recipe

    models, todo = [], [Recipe]
    while todo:
        model = todo.pop(0)
        if model not in models:
            models.append(model)
            todo += [f.annotation for f in model.model_fields.values()
                     if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)]
    return models


def _undescribed(models) -> list[str]:
    # "Model" for a model without a docstring, "Model.field" for a field without description=
    return ([m.__name__ for m in models if not (m.__doc__ or "").strip()]
            + [f"{m.__name__}.{name}" for m in models for name, field in m.model_fields.items()
               if not (field.description or "").strip()])


def test_every_recipe_model_and_field_is_described():
    models = _recipe_models()
    assert {m.__name__ for m in models} >= {"Recipe", "CorpusConfig", "StandardizeConfig",
                                            "StoreConfig", "StudentConfig", "ObjectiveConfig",
                                            "TrainingConfig", "TrainerConfig",
                                            "CompressionConfig"}
    missing = _undescribed(models)
    assert not missing, f"recipe models/fields without a docstring/description=: {missing}"


def test_the_description_check_names_the_model_and_field():
    from pydantic import BaseModel, Field

    class Section(BaseModel):
        """Documented."""

        described: int = Field(default=1, description="what it does")
        bare: int = 2

    class Bare(BaseModel):
        blank: str = Field(default="x", description="  ")

    assert _undescribed([Section, Bare]) == ["Bare", "Section.bare", "Bare.blank"]


def _flat(text: str) -> str:
    # what a reader sees, whitespace and code marks dropped: cells and tags split text apart
    return re.sub(r"\s+", "", html.unescape(text)).replace("`", "")


def test_recipe_page_shows_every_field_description(site):
    page = _flat(_text(site, "reference/recipe"))
    for model in _recipe_models():
        assert _flat(inspect.getdoc(model).split("\n\n")[0]) in page, model.__name__
        for name, field in model.model_fields.items():
            assert _flat(field.description or "") in page, f"{model.__name__}.{name}"


def _shipped_cells(markdown: str) -> dict[tuple[str, ...], dict[str, str]]:
    """Section path -> field -> the "shipped recipes" cell of the recipe reference."""
    cells: dict[tuple[str, ...], dict[str, str]] = {}
    section: tuple[str, ...] = ()
    for line in markdown.splitlines():
        heading = re.match(r"#+ (?:Top level|`([\w.]+)`)$", line)
        if heading:
            section = tuple(heading.group(1).split(".")) if heading.group(1) else ()
            continue
        row = re.match(r"\| `(\w+)` \|", line)
        if row:
            cols = re.split(r"(?<!\\)\|", line)  # cells, escaped pipes kept
            cells.setdefault(section, {})[row.group(1)] = cols[-2].strip()
    return cells


def test_recipe_reference_quotes_what_the_shipped_recipes_set():
    import json
    import runpy

    from pydantic import BaseModel

    from molmtd.recipe import Recipe, load_recipe

    gen = runpy.run_path(str(ROOT / "docs" / "scripts" / "gen_pages.py"), run_name="gen_pages")
    cells = _shipped_cells(gen["recipe_reference"]())
    recipes = {p.name: load_recipe(p) for p in sorted((ROOT / "recipes").glob("*.yaml"))}
    base = json.loads((ROOT / "featurizers" / "molmtd-base" / "config.json").read_text())
    recipes["molmtd-base"] = load_recipe(data=base["recipe"])
    assert {"quickstart.yaml", "zinc.yaml"} <= set(recipes)
    default = Recipe.model_validate({"teachers": ["ecfp"]})
    quoted = 0

    def walk(default_section, shipped: dict, path: tuple[str, ...]) -> None:
        nonlocal quoted
        defaults = default_section.model_dump(mode="json")
        for name in type(default_section).model_fields:
            if isinstance(getattr(default_section, name), BaseModel):
                walk(getattr(default_section, name),
                     {label: getattr(section, name) for label, section in shipped.items()},
                     (*path, name))
                continue
            cell = cells[path][name]
            for label, section in shipped.items():
                value = section.model_dump(mode="json")[name]
                if (*path, name) == ("teachers",) or value != defaults[name]:
                    assert label in cell and _cell_json(value) in cell, (path, name, label, cell)
                    quoted += 1
                else:
                    assert label not in cell, (path, name, label, cell)

    walk(default, recipes, ())
    assert quoted >= 20  # the shipped recipes change many defaults


def _cell_json(value) -> str:
    import json

    return " ".join(json.dumps(value).split()).replace("|", "\\|")


def test_cli_page_lists_every_command_and_option(site):
    import typer

    from molmtd.cli import app

    text = _text(site, "reference/cli")
    group = typer.main.get_command(app)
    assert {"distill", "embed", "teachers", "evaluate", "finetune",
            "predict"} <= set(group.commands)
    for name, command in group.commands.items():
        assert f"molmtd {name}" in text
        for param in command.params:
            for opt in param.opts:
                assert (opt if opt.startswith("-") else opt.upper()) in text, (name, opt)


def test_teachers_page_lists_every_registered_teacher(site):
    from molmtd.teachers import list_teachers

    text = _text(site, "reference/teachers")
    teachers = list_teachers()
    assert len(teachers) > 20
    for info in teachers:
        assert re.search(rf"\b{re.escape(info.name)}\b", text), info.name
    assert "radius=2" in text  # parameters with their defaults


def test_api_reference_documents_every_public_name(site):
    import molmtd

    html = (site / "api" / "index.html").read_text()
    for name in molmtd.__all__:
        if name == "__version__":
            assert molmtd.__version__ in html
            continue
        anchor = f'id="{molmtd._LAZY[name]}.{name}"'
        assert anchor in html, name
    assert 'id="molmtd.featurizer.MTDFeaturizer.transform"' in html  # members too
    assert "InvalidMoleculeError" in _text(site, "api/errors")


def test_released_models_and_benchmarks_pages_come_from_the_cards(site):
    for card in (ROOT / "featurizers").glob("*/card.md"):
        name = card.parent.name
        text = _text(site, f"models/{name}")
        assert "Intended use" in text and "Limitations" in text, name
    bench = _text(site, "benchmarks")
    assert "molmtd-base (this model)" in bench and "minimol" in bench
    assert (site / "ARCHITECTURE" / "index.html").is_file()
    assert not (site / "EXPERIMENTS" / "index.html").exists()  # kept out of the strict build


def _build_a_copy(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess:
    """Build a copy of the pages with ``extra`` (relative path -> text appended or created);
    the generators and the package are the checkout's."""
    import shutil

    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("EXPERIMENTS.md",
                                                                        "scripts"))
    for page, text in extra.items():
        with (docs / page).open("a") as fh:
            fh.write(f"\n\n{text}\n")
    config = (ROOT / "mkdocs.yml").read_text().replace("paths: [.]", f"paths: [{ROOT}]")
    config = config.replace("- docs/scripts/", f"- {ROOT}/docs/scripts/")
    (tmp_path / "mkdocs.yml").write_text(config)
    return _build(tmp_path / "mkdocs.yml", tmp_path / "site")


@pytest.mark.parametrize("breakage, named", [
    ("[a link](no-such-page.md)", "no-such-page.md"),
    ("::: molmtd.featurizer.NoSuchName", "NoSuchName"),
])
def test_a_broken_link_or_reference_fails_the_build(tmp_path, breakage, named):
    run = _build_a_copy(tmp_path, {"featurize.md": breakage})
    assert run.returncode != 0 and named in run.stdout + run.stderr


def test_guides_from_other_work_join_the_nav_when_their_file_exists(tmp_path):
    run = _build_a_copy(tmp_path, {"scale-out.md": "# Scale out\n\nDask and SLURM.",
                                   "finetune.md": "# Fine-tune\n\nEstimators.",
                                   "faq.md": "# Questions\n\nAnswers."})
    assert run.returncode == 0, run.stdout + run.stderr
    home = (tmp_path / "site" / "index.html").read_text()
    assert home.index("Distill your own") < home.index("Scale out") < home.index("Fine-tune")
    assert home.index("Fine-tune") < home.index("More") < home.index("Questions")
    assert (tmp_path / "site" / "finetune" / "index.html").is_file()


def _public_names():
    import molmtd

    for name in molmtd.__all__:
        if name != "__version__":
            yield name, getattr(molmtd, name)


def _own_public_members(cls):
    # methods and properties the class defines itself (inherited ones are documented upstream)
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            yield name, member


@pytest.mark.parametrize("name, obj", list(_public_names()), ids=[n for n, _ in _public_names()])
def test_every_public_name_and_its_methods_have_docstrings(name, obj):
    assert inspect.getdoc(obj), f"molmtd.{name} has no docstring"
    if inspect.isclass(obj):
        missing = [m for m, member in _own_public_members(obj)
                   if not (member.__doc__ or "").strip()]
        assert not missing, f"molmtd.{name}: public members without a docstring: {missing}"
