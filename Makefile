# Everything a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
EXAMPLE := scenes/abu-dhabi-recap.yaml

.PHONY: demo test check lint typecheck bench chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $@

demo: $(STAMP)
	$(BIN)/f1gen generate $(EXAMPLE) --backend animatic
	$(BIN)/f1gen stitch $(EXAMPLE)

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

lint: $(TEST_STAMP)
	$(BIN)/ruff check f1gen tests bench
	$(BIN)/ruff format --check f1gen tests bench

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

check: lint typecheck test

bench: $(TEST_STAMP)
	$(BIN)/python bench/stitch.py
	$(BIN)/python bench/storage.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/overhead.py

chaos: $(TEST_STAMP)
	$(BIN)/python bench/chaos.py
	F1GEN_SPACE_SCENES=24 $(BIN)/python -m pytest -q tests/test_takes_space.py

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
