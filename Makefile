# Two set-up commands: `make demo` and `make test`. Each creates and fills .venv when needed.
#
# torch is installed first, as `pip install $(PIP_ARGS) $(TORCH)` from pip's configured indexes, with
# TORCH_INDEX in place of PyPI when it is set. From PyPI, torch on Linux is the CUDA build (several GB
# with its nvidia-* wheels); on macOS and Windows it is the CPU build. A CPU-only Linux machine takes the
# CPU build from the PyTorch index:
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu
# and a machine whose NVIDIA driver is too old for PyPI's build the one for its CUDA version (the versions
# pytorch.org lists for this torch), e.g.
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cu128
# Change TORCH or TORCH_INDEX in an existing .venv by `make clean` first (or pip install by hand).
PYTHON ?= python3
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PIP_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	$(BIN)/pip install $(PIP_ARGS) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH)"
	$(BIN)/pip install $(PIP_ARGS) -e ".[gui,dev,formats,deploy]"
	# Compile decoding's numba kernels once now (~10 s) rather than inside the first decode.
	$(BIN)/python -c "from aegroup.decode import warm_up; from aegroup.schema import load_schema; warm_up(load_schema('coco17'))"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aegroup demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

# The architecture contracts (pyproject.toml [tool.importlinter], docs/architecture.md), lint and format.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-output .pytest_cache
