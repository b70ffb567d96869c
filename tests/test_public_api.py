"""The public names of ``molmtd`` resolve to what ``__all__`` promises, however imported."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import molmtd


@pytest.mark.parametrize("name", [n for n in molmtd.__all__ if n != "__version__"])
def test_every_public_name_is_an_object_not_a_submodule(name):
    assert not isinstance(getattr(molmtd, name), types.ModuleType), name


@pytest.mark.parametrize("statements", [
    "from molmtd import distill",
    "import molmtd.distill\nfrom molmtd import distill",
])
def test_distill_is_the_function_in_a_fresh_interpreter(statements):
    # a subprocess: this test process may have bound the names already
    code = f"{statements}\nimport inspect\nassert inspect.isfunction(distill), distill\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
