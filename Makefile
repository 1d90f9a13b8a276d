# The README's two commands: `make report` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: report test lint pytest bench apt data clean layout fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# compat: a path in a .pth file; the default editable finder costs every python start
	# in the venv ~5-10 ms (pathlib, importlib.util), a lot beside a 0.15 s `bpfkit --help`
	$(BIN)/python -m pip install -q -e '.[test,notebook,parquet,corpus]' --config-settings editable_mode=compat
	touch $@

apt:
	bash .ci/install-apt

report: $(STAMP)
	$(BIN)/bpfkit report -o build/report
	$(BIN)/python -m bpfkit.report.gallery docs/gallery

lint: $(STAMP)
	$(BIN)/ruff check bpfkit tests
	$(BIN)/mypy

pytest: $(STAMP) apt
	$(BIN)/python -m pytest

test: lint pytest

bench: $(STAMP) apt
	for b in tests/bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# every figure of every program in data/ (and LOGS=...), both styles, checked for collisions
layout: $(STAMP)
	$(BIN)/python tests/bench/layout_sweep.py -j 2 $(LOGS)

# The long coverage-guided campaign over every fuzz target (tests/fuzz/run.py):
# `make fuzz FUZZ_SECONDS=3600 FUZZ_JOBS=2` runs each target for an hour, two at a time.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz: $(STAMP)
	$(BIN)/python -m pip install -q 'atheris>=2.3' || echo "atheris did not install: bpfkit's own mutator runs"
	$(BIN)/python -m tests.fuzz.run --seconds $(FUZZ_SECONDS) -j $(FUZZ_JOBS) $(FUZZ_ARGS)

data:
	$(MAKE) -C data
	$(MAKE) -C tests/ownership/rules

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
