# tapelab: two commands for everyone (make demo, make test); the rest for instructors and maintainers.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.tapelab-setup

# nbgrader calls alembic through PATH, so the venv's bin comes first for every recipe.
export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONDONTWRITEBYTECODE := 1

# Grading options (see README): make grade [COURSE=dir] SUBMISSIONS=dir-or-zip [SCHEDULER=tcp://host:8786] [WORKERS=n] [STUDENT=id] [REGRADE=1] [REPLACE_CHANGED=1]
COURSE ?= .
SUBMISSIONS ?= autograder/samples/submissions
SCHEDULER ?=
WORKERS ?=
STUDENT ?=
REGRADE ?=
REPLACE_CHANGED ?=

.PHONY: help setup test test-fast demo lab bench release grade report lock clean

help:
	@echo "make demo     set up, build the student notebooks, grade the sample class, print the grades"
	@echo "make test     set up if needed, run the whole test suite (pytest + nbval)"
	@echo "make test-fast  the tests not marked slow (no class grading, no browser, no nbval)"
	@echo "make lab      open JupyterLab on course/ (students)"
	@echo "make release  regenerate course/ from solutions/ with nbgrader"
	@echo "make grade    grade SUBMISSIONS=<dir or zip> in parallel (instructors)"
	@echo "make report   write the class report autograder/report/index.html from the gradebook"
	@echo "make bench    run the benchmarks, write .bench/results.json (ONLY=\"qlearner notebooks\" for some)"
	@echo "make lock     re-resolve constraints.txt from lib/pyproject.toml"

setup: $(STAMP)

$(STAMP): constraints.txt lib/pyproject.toml scripts/setup.sh
	@bash scripts/setup.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

test: setup
	@bash scripts/test.sh "$(BIN)"

test-fast: setup
	$(BIN)/python -m pytest tests -m "not slow"

demo: setup
	@$(BIN)/python autograder/release.py
	@$(BIN)/python -m tapelab.demo

lab: setup
	bash scripts/lab.sh course

release: setup
	$(BIN)/python autograder/release.py

grade: setup
	$(BIN)/python -m tapelab.grading --course "$(COURSE)" "$(SUBMISSIONS)" \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(WORKERS),--workers $(WORKERS)) \
	  $(if $(STUDENT),--student $(STUDENT)) $(if $(REGRADE),--regrade) $(if $(REPLACE_CHANGED),--replace-changed)

report: setup
	$(BIN)/python -m tapelab.grading.report --course "$(COURSE)"

bench: setup
	$(BIN)/python bench/run.py $(ONLY)

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q -e "lib[course]" uv  # uv: the installer make setup uses, pinned here too
	{ sed -n '1,/^# tensorflow-cpu has no macOS/p' constraints.txt; \
	  .lock-venv/bin/pip freeze --exclude-editable | grep -v '^pip==' | sed 's/^tensorflow-cpu==\(.*\)/tensorflow==\1\n&/'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv
	@echo "constraints.txt updated: now update the pins in environment.yml (make test checks them)"

clean:
	rm -rf $(VENV) .bench autograder/submitted autograder/autograded autograder/feedback autograder/gradebook.db \
	  autograder/grades*.csv autograder/report
