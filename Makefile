PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB ?= demo.db
# make bench: customer rows (fixed data for a given N); make bench N=200000.
N ?= 1000000
# make bench-compare compares with this revision: 0.1.0, the last to compute in floats.
BENCH_BASE ?= 4869087

.PHONY: demo test fuzz install lint clean examples bench bench-compare

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# setuptools notes every editable install of a package-dir layout as
# "Editable installation." (an InformationOnly notice, not a fault): hidden.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation"

# A stamp: `make demo` reinstalls only when pyproject.toml changed (the
# install is editable, so changed source needs no reinstall).
install: $(VENV)/.installed

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(EDITABLE) $(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml
	$(EDITABLE) $(BIN)/python -m pip install --quiet -e '.[test,dask,browser,datasette,serve]'
	touch $@

demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/adieu validate policies/default.yaml
	$(BIN)/adieu evaluate policies/default.yaml --source csv:examples/customers.csv \
		--as-of 2026-11-01 --db $(DEMO_DB)
	@echo
	@echo "Explain one decision:  $(BIN)/adieu explain CUST-0007 --db $(DEMO_DB)"

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .

# Every core: each test file runs whole on one worker (--dist loadfile), and
# test files never write outside their own temporary folders.
test: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# The long runs: >= 10,000 hypothesis examples per fuzz target (tests/conftest.py's
# "fuzz" profile), 20 SIGKILLs of a 50,000-customer evaluate, the concurrency
# test 20 times. `make test` runs the same targets in a small, derandomized profile.
fuzz: $(VENV)/.test-installed
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -m fuzz --hypothesis-show-statistics -s

# The bench extra (zen-engine) is installed here only: make test does not need it.
$(VENV)/.bench-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python bench/bench_scale.py $(N) --out bench/RESULTS.md

bench-compare: install
	$(BIN)/python bench/bench_evaluate.py 20000 --compare $(BENCH_BASE)

examples: install
	$(BIN)/python examples/make_customers.py > examples/customers.csv

clean:
	rm -rf $(VENV) build *.egg-info demo.db demo.db-wal demo.db-shm
