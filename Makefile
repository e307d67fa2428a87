# The two commands the README promises: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/aghmem serve

test: install
	$(BIN)/ruff check aghmem tests scripts
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python scripts/bench_write.py

clean:
	rm -rf $(VENV) build *.egg-info
