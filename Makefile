# The two commands (see README): `make report` and `make test`. Both create .venv from pyproject.toml if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.installed-base
DEV := $(VENV)/.installed-dev
PARAMS ?= params/default.yaml

.PHONY: setup setup-dev report test lint lab sample notebooks bench bench-simulate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[spark,test]'
	touch $(BASE) $@

setup: $(BASE)          ## runtime only: what `make report` and `make lab` need
setup-dev: $(DEV)       ## + pyspark and the test tools

report: $(BASE)         ## the full report on the sample data -> reports/sample/
	$(BIN)/python -m helpers.run --params $(PARAMS)

test: $(DEV)            ## lint, unit + notebook tests (pytest, 2 workers), nbval on the committed notebooks
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=15
	$(BIN)/python -m pytest --nbval-lax notebooks -p no:cacheprovider

lint: $(DEV)
	$(BIN)/ruff check . && $(BIN)/ruff format --check helpers tests bench tools examples

lab: $(BASE)            ## JupyterLab on the notebooks folder
	$(BIN)/jupyter lab notebooks

sample: $(BASE)         ## regenerate data/sample (the tests check it equals this command's output)
	rm -rf data/sample
	$(BIN)/python -m helpers.simulate --contacts 20000 --seed 7 --out data/sample --messy

notebooks: $(BASE)      ## parameters cells and README table from the schema; re-run notebooks, keep checked outputs
	$(BIN)/python tools/nbtool.py params
	$(BIN)/python tools/nbtool.py readme
	$(BIN)/python tools/nbtool.py refresh

BENCH := $(VENV)/.installed-bench
$(BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BASE) $@

N ?= 1000000
BENCH_CLEAN = bench/out/reports/bench_$(N)_duckdb/clean

bench: $(BENCH)         ## 1 M contacts end to end (time + memory per notebook) and every side-by-side baseline
	$(BIN)/python -m pip install --quiet ChannelAttribution || echo "ChannelAttribution did not build: bench_markov prints our timings only"
	$(BIN)/python bench/bench_report.py --contacts $(N)
	$(BIN)/python bench/bench_report.py --contacts 20000 --seed 7 --workdir bench/out/busy --busy 2
	$(BIN)/python bench/bench_load.py --data bench/out/data_$(N)_1
	$(BIN)/python bench/bench_load.py --data bench/out/data_$(N)_1 --format csv
	$(BIN)/python bench/bench_engine.py --clean $(BENCH_CLEAN)
	$(BIN)/python bench/bench_bgnbd.py --customers 1000000
	$(BIN)/python bench/bench_markov.py --clean $(BENCH_CLEAN)
	$(BIN)/python bench/bench_topics.py --messages 3000000

bench-simulate: $(BASE) ## simulator time and peak memory at 1 000 000 contacts (SIM_CONTACTS to change)
	$(BIN)/python bench/bench_simulate.py --contacts $${SIM_CONTACTS:-1000000}

clean:
	rm -rf reports build bench/out
