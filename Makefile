# LeadRelay: `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test unit lint fmt migrate docs bench soak tools clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Test tools from Debian, installed only when missing: promtool and amtool (alert-rule
# tests, the Prometheus scrape test) and Chromium (the dashboard test, driven by Playwright
# for Python with the system browser; no browser download).
DEBIAN_TOOLS := promtool:prometheus amtool:prometheus-alertmanager chromium:chromium
tools:
	@missing=""; for pair in $(DEBIAN_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian packages:$$missing fonts-dejavu-core ..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing fonts-dejavu-core >/dev/null) \
	      || echo "warning: could not install$$missing; those tests skip (and fail under CI=true)"; \
	  else echo "note:$$missing missing and apt-get unavailable; those tests skip"; fi; \
	fi

run: install
	@$(BIN)/leadrelay up

test: install tools lint
	@$(BIN)/pytest

unit: install
	@$(BIN)/pytest tests/unit -q

lint: install
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy services shared
	@$(BIN)/lint-imports --no-cache

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: install
	@for s in intake scoring handoff; do $(BIN)/alembic -n $$s upgrade head; done

docs: install
	$(BIN)/python -m shared.docs

bench: install
	$(BIN)/python -m bench

soak: install
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

clean:
	rm -rf .leadrelay .pytest_cache .mypy_cache .ruff_cache
