# Set-up and entry points. `make demo` and `make test` each set everything up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A pinned torch: this version installs the CPU wheel; an unpinned torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: setup test test-fast lint browser docs demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[render,test,distributed,docs,tensorboard]" "$(TORCH)"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The leaderboard page is tested in Debian's headless Chromium: installed once (needs root).
browser:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

# The documentation site (mkdocs.yml) into site/; --strict: a broken link, a missing heading or a
# docstring that cannot be rendered fails the build. Builds offline.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint browser docs
	$(BIN)/python -m pytest -q

# The quick subset: no Blender, Ray, browser, torchrun or slow tests (under 2 minutes).
test-fast: lint
	$(BIN)/python -m pytest -q -m "not (blender or ray or browser or distributed or slow)"

demo: $(STAMP)
	$(BIN)/iebench demo --out demo

clean:
	rm -rf $(VENV) demo site
