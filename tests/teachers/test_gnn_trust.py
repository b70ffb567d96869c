"""Pickled third-party checkpoints load only from admet-ai or with an explicit opt-in."""

from __future__ import annotations

import importlib.util
import os
import pickle

import pytest

from molmtd.errors import UntrustedFileError
from molmtd.teachers import get_teacher
from molmtd.teachers.gnn import ChempropTeacher, admet_ai_checkpoints

needs_chemprop = pytest.mark.skipif(importlib.util.find_spec("chemprop") is None,
                                    reason="chemprop is not installed")


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def evil(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"hyper_parameters": _Payload(str(tmp_path / "pwned"))}))
    return path


def test_user_checkpoint_is_refused_without_opt_in_and_never_runs(evil, tmp_path):
    teacher = get_teacher(f"chemprop:checkpoint={evil}")
    for use in (lambda: teacher.embed(["CCO"]), lambda: teacher.dim):
        with pytest.raises(UntrustedFileError, match=r"outside the installed admet-ai.*"
                                                     r"trust_pickle=true"):
            use()
    assert not (tmp_path / "pwned").exists()
    assert "trust_pickle" not in teacher.spec  # an opt-in is not part of cache keys


@pytest.mark.slow  # importing chemprop takes ~20 s here
@pytest.mark.teachers
@needs_chemprop
def test_opt_in_loads_the_user_checkpoint(evil, tmp_path):
    teacher = get_teacher(f"chemprop:checkpoint={evil},trust_pickle=true")
    assert teacher.trust_pickle is True
    assert teacher.spec == get_teacher(f"chemprop:checkpoint={evil}").spec
    with pytest.raises(Exception):  # noqa: B017 - unpickled as asked, then not an MPNN
        teacher.embed(["CCO"])
    assert (tmp_path / "pwned").exists()  # the opt-in really unpickles


@pytest.mark.skipif(not admet_ai_checkpoints(), reason="admet-ai is not installed")
def test_admet_ai_checkpoints_are_trusted_without_opt_in():
    name = next(iter(admet_ai_checkpoints()))
    teacher = ChempropTeacher(checkpoint=name)
    teacher._check_trusted(teacher.checkpoint_path())  # no error
    path = str(admet_ai_checkpoints()[name])
    ChempropTeacher(checkpoint=path)._check_trusted(teacher.checkpoint_path())
