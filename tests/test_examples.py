"""The example notebooks run headless on small data and write their figures.

They run in a kernel of *this* interpreter (a kernelspec written to a temporary
JUPYTER_PATH), so a fresh CI machine needs only ipykernel installed in the venv, and a
user's own "python3" kernelspec can never point the test at another environment.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from molmtd.artifact import make_random_artifact  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "molmtd-tests"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "01_property_prediction.ipynb": ["property_parity.png"],
    "02_clustering.ipynb": ["chemspace_clusters.png", "chemspace_logp.png", "diverse_picks.png"],
    "03_similarity_search.ipynb": ["similarity_agreement.png", "neighbours.png"],
    "04_finetune.ipynb": ["finetune_curves.png"],
}


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "molmtd tests", "language": "python"}))
    return root


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> str:
    return str(make_random_artifact(tmp_path_factory.mktemp("art") / "rand", seed=0))


def test_every_notebook_is_covered():
    assert sorted(p.name for p in (ROOT / "examples").glob("*.ipynb")) == sorted(FIGURES)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_notebook_executes_and_writes_figures(name, kernel_path, artifact, tmp_path,
                                              monkeypatch):
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_path))
    monkeypatch.setenv("MOLMTD_EXAMPLE_FEATURIZER", artifact)
    monkeypatch.setenv("MOLMTD_EXAMPLE_MAX_MOLECULES", "200")
    monkeypatch.setenv("MOLMTD_EXAMPLE_MAX_EPOCHS", "3")  # 04_finetune: a few epochs
    monkeypatch.setenv("MOLMTD_EXAMPLE_FIGURES", str(tmp_path / "figures"))
    nb = nbformat.read(ROOT / "examples" / name, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL, timeout=120,
                                     resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    print(f"{name}: {elapsed:.1f}s")
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert f"featurizer: {artifact}" in outputs  # the parameter cell picked up the env var
    for figure in FIGURES[name]:
        data = (tmp_path / "figures" / figure).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5_000, figure
