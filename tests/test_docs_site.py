"""The docs site builds strictly, its generated pages cover the code, public names have docstrings.

Each build takes a few seconds (mkdocs, material, mkdocstrings on the checkout's molmtd).
"""

from __future__ import annotations

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
