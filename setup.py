"""Build hook: ship the released featurizers (top-level ``featurizers/``) inside the wheel.

Everything else about the package is declared in pyproject.toml. ``featurizers/`` stays
the source of truth in the repository; at build time every subfolder that holds a
``config.json`` is copied, with its files, to ``molmtd/_released/<name>/`` in the build
tree, where :func:`molmtd.artifact.released_featurizers` finds it in an installed wheel.
A new folder (``featurizers/molmtd-base/``) is picked up without any change here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "featurizers"
TARGET = Path("molmtd") / "_released"
FILES = ("config.json", "model.safetensors", "card.md")


def released_files() -> list[tuple[Path, Path]]:
    """(source file, path relative to the build folder) of every released featurizer."""
    out = []
    if SOURCE.is_dir():
        for folder in sorted(SOURCE.iterdir()):
            if (folder / "config.json").is_file():
                out += [(folder / f, TARGET / folder.name / f) for f in FILES
                        if (folder / f).is_file()]
    return out


class BuildPyWithFeaturizers(build_py):
    """build_py that also copies featurizers/<name>/ to molmtd/_released/<name>/."""

    def run(self):
        super().run()
        for src, rel in released_files():
            dst = Path(self.build_lib) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode),
                *(str(Path(self.build_lib) / rel) for _, rel in released_files())]


setup(cmdclass={"build_py": BuildPyWithFeaturizers})
