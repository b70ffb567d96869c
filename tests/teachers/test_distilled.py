"""A distilled featurizer as a teacher: same rows as the artifact, keyed by its weights."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from molmtd.artifact import load_artifact, make_random_artifact
from molmtd.teachers import get_teacher


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return make_random_artifact(tmp_path_factory.mktemp("art") / "rand", seed=0)


def test_rows_equal_the_artifact_and_bad_input_is_masked(artifact, mixed, check_output):
    teacher = get_teacher(f"molmtd:featurizer={artifact}")
    out = teacher.embed(mixed)
    check_output(out, len(mixed), teacher.dim)
    np.testing.assert_array_equal(teacher.embed(mixed).embeddings, out.embeddings)
    direct = load_artifact(artifact).embed(mixed)
    np.testing.assert_array_equal(out.ok, direct.ok)
    np.testing.assert_allclose(out.embeddings[out.ok], direct.embeddings[direct.ok], atol=1e-6)


def test_version_follows_the_weights(artifact, tmp_path):
    other = make_random_artifact(tmp_path / "other", seed=1)
    same = shutil.copytree(artifact, tmp_path / "copy")
    v = get_teacher(f"molmtd:featurizer={artifact}").version
    assert get_teacher(f"molmtd:featurizer={same}").version == v
    assert get_teacher(f"molmtd:featurizer={other}").version != v


@pytest.mark.skipif(importlib.util.find_spec("admet_ai") is None, reason="needs admet-ai")
def test_trained_on_is_the_union_of_its_teachers(artifact, tmp_path):
    assert get_teacher(f"molmtd:featurizer={artifact}").trained_on() == frozenset()
    copy = shutil.copytree(artifact, tmp_path / "student")
    config = json.loads((copy / "config.json").read_text())
    config["teachers"] = ["maccs", "chemprop:checkpoint=admet_regression/0", "gone:x=1"]
    (copy / "config.json").write_text(json.dumps(config))
    tasks = get_teacher(f"molmtd:featurizer={copy}").trained_on()
    assert "Solubility_AqSolDB" in tasks and "BBB_Martins" not in tasks
