# mer — the README's commands. `make demo` and `make test` set up the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mer-installed

DEMO_DIR ?= outputs/demo
DEMO_AU_DIR ?= outputs/demo-au
PAPER_DIR ?= outputs/paper

.PHONY: setup demo demo-au demo-spot paper test test-fast lint format bench-cli bench-prepare bench-train bench-sweep bench-launchers bench-step bench-ablation bench-spot clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: setup  ## synthetic CASME II → cache → all folds × {apex, uv} × {softmax, hinge} → report (also of a sweep with a failed job, which then fails make)
	rm -rf $(DEMO_DIR)
	$(BIN)/mer-train -m experiment=demo hydra.sweep.dir=$(DEMO_DIR) || failed=1; \
	$(BIN)/mer-report $(DEMO_DIR) && exit $${failed:-0}

demo-au: setup  ## the action-unit task (task=au) on synthetic CASME II: all folds → per-AU F1 report
	rm -rf $(DEMO_AU_DIR)
	$(BIN)/mer-train -m experiment=demo_au hydra.sweep.dir=$(DEMO_AU_DIR) || failed=1; \
	$(BIN)/mer-report $(DEMO_AU_DIR) && exit $${failed:-0}

demo-spot: setup  ## spotting on the synthetic long videos, both layouts: F1 per type and overall, a plot per video
	$(BIN)/mer-spot experiment=demo_spot
	$(BIN)/mer-spot experiment=demo_spot data.videos.layout=samm_lv

paper: setup  ## the paper's Tables 2 + 3 as written (recipe=paper) on a real release: make paper DATA=/path/to/CASME2
	@test -n "$(DATA)" || { echo "error: give the CASME II folder: make paper DATA=/path/to/CASME2"; exit 2; }
	$(BIN)/mer-train -m experiment=paper_ablation data.root=$(DATA) hydra.sweep.dir=$(PAPER_DIR) $(ARGS) || failed=1; \
	$(BIN)/mer-report $(PAPER_DIR) && exit $${failed:-0}

test: setup  ## the whole suite, CI's command (pytest prints its time)
	$(BIN)/pytest -q

test-fast: setup  ## every module's tests without the slow ones (subprocesses, sweeps): a few minutes on 2 cores
	$(BIN)/pytest -q -m "not slow"

lint: setup  ## ruff: lint and format check (CI runs it before the tests)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup  ## ruff: fix what it can and format in place
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench-cli: setup  ## seconds to a config mistake's one line and to --help (the config is checked before torch loads)
	$(BIN)/python benchmarks/bench_cli.py $(BENCH_ARGS)

bench-prepare: setup  ## align+flow samples/s with 1 worker and all cores; cache-hit, integrity-check and --verify time on 250 clips
	$(BIN)/python benchmarks/bench_prepare.py

bench-train: setup  ## per model at its preset size: time per training step, and one LOSO job through mer-train vs a bare PyTorch loop
	$(BIN)/python benchmarks/bench_train.py

bench-sweep: setup  ## Table 2 + 3 ablation through the gpus launcher (small scale; see the script for full size)
	$(BIN)/python benchmarks/bench_sweep.py $(BENCH_ARGS)

bench-launchers: setup  ## the same 8-job CPU sweep on Hydra's basic launcher and on gpus, medians side by side
	$(BIN)/python benchmarks/bench_launchers.py $(BENCH_ARGS)

bench-step: setup  ## GPU only: a new process's first steps, one step eager vs CUDA graphs, the GPU-time floor
	$(BIN)/python benchmarks/bench_step.py $(BENCH_ARGS)

bench-ablation: setup  ## GPU: the whole Table 2 + 3 ablation (130 jobs, 224², 200 epochs) timed to its report; --small on a CPU
	$(BIN)/python benchmarks/bench_ablation.py $(BENCH_ARGS)

bench-spot: setup  ## spotting a long video: motion frames/s, the worker's memory peak (10,000 vs 1,000 frames), cache disk use vs flow fields, peaks per video
	$(BIN)/python benchmarks/bench_spot.py $(BENCH_ARGS)

bench-packed: setup  ## a 6-fold STSTNet sweep packed into one network vs separate jobs: median wall times side by side, their ratio
	$(BIN)/python benchmarks/bench_packed.py $(BENCH_ARGS)

clean:
	rm -rf outputs
