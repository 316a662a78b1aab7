# Every target creates or updates .venv from uv.lock by itself.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
VENV := .venv
STAMP := $(VENV)/.synced
DEMO_DIR ?= $(CURDIR)/.tiepulse/sample
export TIEPULSE_HOME ?= $(CURDIR)/.tiepulse

.PHONY: demo test dev lint bench setup clean

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process would
# otherwise recompile Dagster and Great Expectations from source (about 8 s of CPU per start).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tiepulse demo --dir $(DEMO_DIR)

test: $(STAMP) lint
	$(VENV)/bin/pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The UI runs on the demo's sample organisation unless TIEPULSE_CONFIG points elsewhere.
dev: $(STAMP)
	mkdir -p $(TIEPULSE_HOME)/dagster
	cp dagster_home/dagster.yaml $(TIEPULSE_HOME)/dagster/dagster.yaml
	if [ -z "$$TIEPULSE_CONFIG" ] && [ -f $(DEMO_DIR)/config.yaml ]; then \
		export TIEPULSE_CONFIG=$(DEMO_DIR)/config.yaml; \
		export TIEPULSE_AS_OF=$$($(VENV)/bin/python -c "import json; print(json.load(open('$(DEMO_DIR)/truth.json'))['as_of'])"); \
	fi; \
	DAGSTER_HOME=$(TIEPULSE_HOME)/dagster $(VENV)/bin/dagster dev -w workspace.yaml

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.run

clean:
	rm -rf .tiepulse .pytest_cache .mypy_cache .ruff_cache
