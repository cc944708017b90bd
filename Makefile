# The kit's commands. `make check` and `make test` set themselves up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

EX      ?=
IMPL    ?= exercises
EXAMPLE ?= forward_and_back
RESET   ?=

.PHONY: setup check list test hint watch graph train

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

# One more hint each time: make hint EX=1.2 (from the first again: make hint EX=1.2 RESET=1)
hint: setup
	@$(PY) -m checker hint $(EX) $(if $(RESET),--reset)

# Check again on every save (Ctrl-C to stop): make watch, or make watch EX=1.2
watch: setup
	@$(PY) -m checker watch $(EX) --impl $(IMPL)

# Draw the graph your code builds, with each node's gradient: make graph (EXAMPLE=reuse)
graph: setup
	@$(PY) -m checker graph --impl $(IMPL) --example $(EXAMPLE)

# Run your training loop (Part 5) and print its test accuracy: make train (IMPL=solutions)
train: setup
	@$(PY) -m $(notdir $(patsubst %/,%,$(IMPL))).part5_training

test: setup
	$(PY) -m pytest -q -n auto

# ---- Instructors only: a student's kit (make release) ends above this line. ----
.PHONY: lint bench mutate grade gradescope release

# The kit's own code is linted and formatted by Ruff ([tool.ruff] in pyproject.toml),
# first thing in make test; `ruff format .` fixes the format.
test: lint

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup
	$(PY) -m bench

# Mutation testing of the checker, slow (see docs/mutation.md): make mutate, or make mutate FILES="part4_nn bonus"
FILES ?=
MUTATION_STAMP := $(VENV)/.mutation-installed

$(MUTATION_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,mutation]'
	@touch $(MUTATION_STAMP)

mutate: $(MUTATION_STAMP)
	nice -n 19 $(PY) -m tests.run_mutants $(FILES)

# Grade a folder of submissions, build a Gradescope autograder, hand out a student's kit.
SUBMISSIONS ?= submissions
OUT         ?= grades
JOBS        ?=
BUNDLE      ?= autograder.zip

grade: setup
	@$(PY) -m checker grade $(SUBMISSIONS) $(EX) --out $(OUT) $(if $(JOBS),--jobs $(JOBS))

gradescope: setup
	@$(PY) -m checker gradescope $(EX) --out $(BUNDLE)

# A student's kit in a new folder: make release OUT=../kit-part2 EX=2 (none: the whole course).
# CLASSROOM=1 adds GitHub Classroom's autograding files; FORCE=1 moves an existing OUT aside first.
release: setup
	@$(if $(filter file,$(origin OUT)),echo "make release: say where the kit goes (for example: make release OUT=../student-kit)" >&2; exit 2)
	@$(PY) -m checker release $(EX) --out $(OUT) $(if $(CLASSROOM),--classroom) $(if $(FORCE),--force)
