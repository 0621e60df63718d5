PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run headless test lint bench clean

$(BIN)/tui-bot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/tui-bot
	$(BIN)/tui-bot

headless: $(BIN)/tui-bot
	$(BIN)/tui-bot run --headless --cycles 12

test: $(BIN)/tui-bot
	$(BIN)/ruff check tui_bot tests benchmarks
	$(BIN)/ruff format --check tui_bot tests benchmarks
	$(BIN)/lint-imports --no-logo
	$(BIN)/mypy
	$(BIN)/pytest -q

bench: $(BIN)/tui-bot
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV)
