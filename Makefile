# The two set-up commands: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
INSTALLED := $(VENV)/.servebench-installed

.PHONY: demo test install lint format clean

demo: $(INSTALLED)
	$(VENV)/bin/servebench demo

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest -q

install: $(INSTALLED)

# Reinstalls only when the pins, the installer or the .proto files change, so a second
# `make test` is quick. The gRPC stubs are generated here, never committed.
$(INSTALLED): requirements.txt constraints.txt pyproject.toml scripts/install.sh \
		$(wildcard protos/servebench/generated/*.proto)
	bash scripts/install.sh $(VENV)
	touch $@

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(INSTALLED)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf artifacts results .servebench
