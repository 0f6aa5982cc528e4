# Accord — two commands do everything: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BROKER := .local/kafka/libs/.fetched

.PHONY: run test lint setup clean-local bench

# The virtual environment, the project and its tools; redone only when pyproject changes.
$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# Apache Kafka's broker jars from Maven Central, pinned in deploy/kafka/pom.xml.
$(BROKER): deploy/kafka/pom.xml $(INSTALLED)
	$(PY) -m deploy.local fetch-broker

setup: $(INSTALLED) $(BROKER)

## run: the whole system locally (Kafka, both CRM sandboxes, ingest, router, sync); Ctrl-C stops it
run: setup
	$(PY) -m deploy.local run

## test: lint, type-check, then every test — unit, integration and end-to-end, on a real broker
test: setup lint
	@$(PY) -m pytest -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests — that is a failure"; fi; \
	exit $$status

lint: $(INSTALLED)
	$(VENV)/bin/ruff check services sandboxes deploy tests bench
	$(VENV)/bin/mypy

## bench: the benchmarks (figures and ratios against baselines measured in the same run)
bench: setup
	$(PY) -m bench.ingest_bench
	$(PY) -m bench.router_bench
	$(PY) -m bench.sync_bench

## clean-local: forget local data (broker log, sandbox records, logs); jars are kept
clean-local:
	rm -rf .local/kafka/data .local/sandboxes .local/logs .local/test-kafka
