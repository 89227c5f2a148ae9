# One task runner: make run | test | eval | bench | lint
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KEFU := $(VENV)/bin/kefu
DATA_DIR ?= data
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast eval bench lint demo-files clean

install: $(VENV)/.installed

# CPU torch first: a plain `torch` requirement would pull several GB of CUDA wheels.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

run: install
	$(KEFU) ingest knowledge/demo/files --data-dir $(DATA_DIR)
	$(KEFU) serve --data-dir $(DATA_DIR)

test: install
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: install
	$(PY) -m pytest -m "not integration" -q

eval: install
	$(KEFU) eval retrieval --dataset drcd --dataset stackfaq --dataset clinc150 --dataset taipei_faq

bench: install
	$(PY) -m eval.bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bot knowledge ingest handoff eval

demo-files: install
	$(PY) -m knowledge.demo.build

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
