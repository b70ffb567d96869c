"""The featurizers shipped in featurizers/ load by name and embed like their own run did."""

from __future__ import annotations

import numpy as np
import pytest

from molmtd.artifact import load_artifact, released_featurizers


def test_quickstart_is_released_and_embeds_deterministically():
    assert "quickstart" in released_featurizers()
    artifact = load_artifact("quickstart")
    smiles = ["CCO", "c1ccccc1O", "not_a_smiles", "CC(=O)[O-].[Na+]"]
    first, second = artifact.embed(smiles), artifact.embed(smiles)
    assert first.embeddings.shape == (4, artifact.dim) and first.embeddings.dtype == np.float32
    assert first.ok.tolist() == [True, True, False, True]
    assert np.isnan(first.embeddings[2]).all() and np.isfinite(first.embeddings[[0, 1, 3]]).all()
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    # the salt is standardised to its parent acid, so both embed identically
    np.testing.assert_allclose(first.embeddings[3], artifact.embed(["CC(=O)O"]).embeddings[0],
                               rtol=0, atol=1e-5)  # another batch: float summation order differs
    assert not np.allclose(first.embeddings[0], first.embeddings[1])


def test_molmtd_base_is_the_default_featurizer_and_keeps_rows_aligned():
    from molmtd import MTDFeaturizer

    assert "molmtd-base" in released_featurizers()
    feat = MTDFeaturizer()  # the default name, and the readout its card recommends
    artifact = load_artifact("molmtd-base")
    # 5 layers x 300, each pooled by its mean and its sum (student.pooling: mean+sum)
    dim = {"embedding": 512, "layers": 3000}[artifact.recommended_readout]
    assert artifact.dim == dim
    smiles = ["CCO", "not_a_smiles", "c1ccccc1O"]
    emb = feat.embed(smiles)
    assert emb.embeddings.shape == (3, dim) and emb.ok.tolist() == [True, False, True]
    assert set(emb.reasons) == {1}
    np.testing.assert_array_equal(emb.embeddings[[0, 2]],
                                  feat.embed(["CCO", "c1ccccc1O"]).embeddings)
    assert feat.get_feature_names_out().shape == (dim,)
    assert MTDFeaturizer(readout="embedding").transform(["CCO"]).shape == (1, 512)


def _copy_source_tree(dst):
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    skip = shutil.ignore_patterns(".git", "build", "dist", "runs", ".cache", "*.egg-info",
                                  "__pycache__", "_released", ".venv", "examples")
    shutil.copytree(root, dst, ignore=skip)
    return root


@pytest.mark.slow  # builds a wheel and starts an interpreter: about 35 s on 2 busy cores
def test_wheel_ships_every_released_featurizer_and_loads_them_by_name(tmp_path):
    """Build the wheel from a copy of the tree with one more featurizer folder, then load
    both by name from the extracted wheel in a fresh interpreter without the source tree."""
    import json
    import os
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    root = _copy_source_tree(src)
    # a future release folder is picked up without touching setup.py or pyproject.toml
    shutil.copytree(src / "featurizers" / "quickstart", src / "featurizers" / "molmtd-next")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MOLMTD_FEATURIZERS")}
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")],
                   check=True, env=env, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("molmtd-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("quickstart", "molmtd-base", "molmtd-next"):
        for f in ("config.json", "model.safetensors", "card.md"):
            assert f"molmtd/_released/{name}/{f}" in names
    assert not any(n.startswith("featurizers/") for n in names)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    code = (
        "import json, sys, molmtd\n"
        "from molmtd.artifact import released_featurizers, load_artifact\n"
        "from molmtd import MTDFeaturizer\n"
        f"smiles = {smiles!r}\n"
        "out = {'file': molmtd.__file__,\n"
        "       'released': {k: str(v) for k, v in released_featurizers().items()},\n"
        "       'emb': load_artifact('quickstart').embed(smiles).embeddings.tolist(),\n"
        "       'base': MTDFeaturizer('molmtd-base').transform(smiles).tolist()}\n"
        "print(json.dumps(out))\n")
    run = subprocess.run([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(site)},
                         cwd=tmp_path, check=True, capture_output=True, text=True)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["file"].startswith(str(site))  # the wheel's code, not the source tree
    assert set(out["released"]) == {"quickstart", "molmtd-base", "molmtd-next"}
    assert all(p.startswith(str(site / "molmtd" / "_released")) for p in out["released"].values())
    assert str(root) not in run.stdout
    expected = load_artifact("quickstart").embed(smiles).embeddings
    np.testing.assert_allclose(np.asarray(out["emb"]), expected, atol=1e-5)
    from molmtd import MTDFeaturizer

    base = MTDFeaturizer("molmtd-base").transform(smiles)  # the clone's copy
    assert base.shape == (3, load_artifact("molmtd-base").dim)
    np.testing.assert_allclose(np.asarray(out["base"]), base, atol=1e-5)


def test_search_order_env_then_clone_then_wheel(tmp_path, monkeypatch):
    import molmtd.artifact as art
    from molmtd.artifact import make_random_artifact

    make_random_artifact(tmp_path / "quickstart")  # shadows the released one by name
    monkeypatch.setenv("MOLMTD_FEATURIZERS", str(tmp_path))
    dirs = art._search_dirs()
    assert dirs[0] == tmp_path and dirs[-1] == art.PACKAGED_DIR
    assert dirs[1].name == "featurizers"  # the clone's folder, since tests run from a clone
    assert released_featurizers()["quickstart"] == tmp_path / "quickstart"
    monkeypatch.delenv("MOLMTD_FEATURIZERS")
    assert released_featurizers()["quickstart"].parent == dirs[1]
