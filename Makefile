# mer — the README's commands. `make demo` and `make test` set up the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mer-installed

.PHONY: setup demo test bench-prepare clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: setup  ## generate the synthetic CASME II release and build its flow cache
	$(BIN)/mer-prepare

test: setup  ## the whole suite (about 5 minutes on 2 cores)
	$(BIN)/pytest -q

bench-prepare: setup  ## align+flow samples/s with 1 worker and all cores; cache-hit time on 250 clips
	$(BIN)/python benchmarks/bench_prepare.py

clean:
	rm -rf outputs
