"""No surprise network: distill (fingerprint teachers), embed and evaluate run offline."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from molmtd.cli import app


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to reach another host (DNS included) is recorded and refused."""
    attempts: list[str] = []

    def refuse(what):
        def blocked(*args, **kwargs):
            attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise OSError(f"network blocked by the test: {what}")
        return blocked

    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family == socket.AF_UNIX:  # local pipes of worker pools are fine
            return real_connect(self, address)
        return refuse("socket.connect")(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "gethostbyname", refuse("gethostbyname"))
    return attempts


def test_distill_embed_evaluate_with_sockets_blocked(no_network, tmp_path, moses_smiles):
    import yaml

    with pytest.raises(OSError, match="network blocked"):  # the block is real
        socket.create_connection(("pypi.org", 443), timeout=1)
    no_network.clear()
    corpus = tmp_path / "corpus.smi"
    corpus.write_text("\n".join(moses_smiles[:60]) + "\n")
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "offline", "teachers": ["maccs", "ecfp-count:radius=2,size=128"],
        "corpus": {"source": str(corpus), "max_molecules": None, "n_jobs": 1},
        "store": {"cache_dir": str(tmp_path / "cache"), "n_jobs": 1},
        "student": {"num_layers": 1, "hidden_dim": 16},
        "objective": {"head_hidden_dim": 16, "mi_fit_molecules": 100},
        "training": {"batch_size": 16, "max_epochs": 1, "early_stopping_patience": None},
    }))
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(app, ["distill", str(recipe), "--out", str(run), "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    featurizer = run / "featurizer"
    assert (featurizer / "config.json").is_file()

    out = tmp_path / "emb.parquet"
    result = runner.invoke(app, ["embed", str(corpus), "-o", str(out),
                                 "--featurizer", str(featurizer)])
    assert result.exit_code == 0, (result.output, result.exception)
    table = pd.read_parquet(out)
    assert len(table) == 60 and table["ok"].all()
    assert np.isfinite(np.stack(table["embedding"])).all()

    report = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "--featurizer", str(featurizer), "--against",
                                 "maccs", "--datasets", "freesolv", "--seeds", "1",
                                 "--max-molecules", "80", "--out", str(report),
                                 "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, (result.output, result.exception)
    assert (report / "report.md").is_file()
    assert no_network == [], no_network
