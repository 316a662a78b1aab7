# Every target creates or updates .venv from uv.lock by itself.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
VENV := .venv
STAMP := $(VENV)/.synced
# The demo always has a folder of its own, so the sample organisation never lands in your TIEPULSE_HOME.
DEMO_HOME ?= $(CURDIR)/.tiepulse
DEMO_DIR ?= $(DEMO_HOME)/sample

.PHONY: demo test dev lint bench setup clean wheel-check docs

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every process would
# otherwise recompile Dagster and Great Expectations from source (about 8 s of CPU per start).
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

setup: $(STAMP)

demo: $(STAMP)
	TIEPULSE_HOME=$(DEMO_HOME) $(VENV)/bin/tiepulse demo --dir $(DEMO_DIR)

test: $(STAMP) lint
	$(VENV)/bin/pytest -n 2 -q

lint: $(STAMP)
	.ci/conflict_markers.sh
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The UI opens your warehouse when TIEPULSE_HOME is set, else the demo's. A home holding the demo's sample
# (sample/truth.json) is opened with the sample's config and analysis date unless you set them.
dev: $(STAMP)
	home="$${TIEPULSE_HOME:-$(DEMO_HOME)}"; \
	mkdir -p "$$home/dagster"; [ -f "$$home/dagster/dagster.yaml" ] || cp pipelines/dagster.yaml "$$home/dagster/"; \
	if [ -f "$$home/sample/truth.json" ]; then \
		export TIEPULSE_CONFIG="$${TIEPULSE_CONFIG:-$$home/sample/config.yaml}"; \
		export TIEPULSE_AS_OF="$${TIEPULSE_AS_OF:-$$($(VENV)/bin/python -c "import json, sys; print(json.load(open(sys.argv[1]))['as_of'])" "$$home/sample/truth.json")}"; \
	fi; \
	TIEPULSE_HOME="$$home" DAGSTER_HOME="$$home/dagster" $(VENV)/bin/dagster dev -w workspace.yaml

# Builds the wheel and runs it from a fresh environment outside the repository (see .ci/wheel_check.sh).
# The column tables of docs/data-model.md, written again from the models' .yml (their one source).
docs: $(STAMP)
	$(VENV)/bin/python -m tiepulse.pipelines.model_docs docs/data-model.md

wheel-check: $(STAMP)
	UV=$(UV) .ci/wheel_check.sh

bench: $(STAMP)
	$(VENV)/bin/python -m benchmarks.run

clean:
	rm -rf .tiepulse .pytest_cache .mypy_cache .ruff_cache
