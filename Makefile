# The two commands of the project. Both set everything up first (idempotent):
#   make demo   run the whole workflow on the embedded demo corpus
#   make test   run the whole test suite (CI runs this through .ci/run)
#   make lint   check formatting and lint (ruff, snakefmt, snakemake --lint); make format applies the formatters
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= 2

.PHONY: setup demo test test-fast bench lint format clean

setup: $(STAMP)

# torch is installed first and pinned: its CPU wheel is local, and a bare `torch` requirement
# would pull several GB of CUDA packages.
$(STAMP): pyproject.toml envs/install-system-tools.sh
	bash envs/install-system-tools.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,lint]'
	# timbral_models' setup.py names the withdrawn 'sklearn' package; its real dependencies are in pyproject.toml.
	$(BIN)/pip install --quiet --no-deps timbral_models==0.4.0
	touch $(STAMP)

demo: setup
	$(BIN)/snakemake --cores $(CORES) all

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest tests/unit

# Rules for both are in pyproject.toml ([tool.ruff], [tool.snakefmt]).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile rules

# bench_loopnet_gates and bench_fad_embeddings read the demo's audio stage: `demo` is a no-op when it is up to date.
bench: demo
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf results logs .snakemake
