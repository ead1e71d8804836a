# Two set-up commands: `make demo` and `make test`. Each creates and fills .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip >/dev/null
	# On a machine without an NVIDIA driver take the CPU build of torch, never a multi-GB CUDA wheel.
	if command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install "torch>=2.3"; \
	else $(BIN)/pip install "torch==2.13.0"; fi
	$(BIN)/pip install -e ".[gui,dev,formats,deploy]"
	# Compile decoding's numba kernels once now (~10 s) rather than inside the first decode.
	$(BIN)/python -c "from aegroup.decode import warm_up; from aegroup.schema import load_schema; warm_up(load_schema('coco17'))"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aegroup demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-output .pytest_cache
