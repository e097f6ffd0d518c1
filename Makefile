# The two set-up commands: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
INSTALLED := $(VENV)/.servebench-installed

.PHONY: demo test install engine engine-stop lint format clean

demo: $(INSTALLED)
	$(VENV)/bin/servebench demo

# The container tests need a Docker engine: `make engine` starts one where it can (root), and
# says why not elsewhere; those tests then skip, except in CI, where a skip fails.
test: $(INSTALLED)
	VENV=$(VENV) bash scripts/engine.sh --if-possible
	$(VENV)/bin/python -m pytest -q --durations=25

# A Docker engine that answers (installed and started here when missing, as root), the Compose
# plugin, and labelled stand-ins for base images that cannot be pulled. Idempotent.
engine: $(INSTALLED)
	VENV=$(VENV) bash scripts/engine.sh

# Stops the dockerd that `make engine` started, by its PID.
engine-stop:
	bash scripts/engine-stop.sh

install: $(INSTALLED)

# Reinstalls only when the pins, the installer or the .proto files change, so a second
# `make test` is quick. The gRPC stubs are generated here, never committed.
$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt pyproject.toml scripts/install.sh \
		requirements-onnx2tf.txt scripts/install-onnx2tf.sh \
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
