# The kit's commands. `make check` and `make test` set themselves up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

EX   ?=
IMPL ?= exercises

.PHONY: setup check list test bench hint watch graph

setup: $(STAMP)

# The stamp is rebuilt when pyproject.toml changes, so setup is idempotent and cheap.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

check: setup
	@$(PY) -m checker check $(EX) --impl $(IMPL)

list: setup
	@$(PY) -m checker list

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench
