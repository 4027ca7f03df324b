# Single entry point. Every target creates the virtual environment on first use, so on a fresh machine
# any of them works as the first command typed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
STACK_SUFFIX := $(or $(ENVIRONMENT_SUFFIX),dev)
STACK_DIR := cdktf.out/stacks/TapStack$(STACK_SUFFIX)

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup synth validate lint unit test bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt 2>&1 | grep -v "is ignored: it is neither" || true
	$(PY) -c "import cdktf, pytest, pylint, ruff" >/dev/null
	$(PY) tools/warm_jsii_cache.py
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)  ## create .venv and install pinned dependencies

synth: $(STAMP)  ## synthesize TapStack<suffix> into cdktf.out/
	$(PY) tap.py

validate: synth  ## terraform init (offline mirror) + validate on the synthesized stack
	$(PY) -m tools.tfcli validate $(STACK_DIR)

lint: $(STAMP)  ## ruff + pylint (max line 120)
	$(PY) -m ruff check lib tap.py tests tools
	$(PY) -m pylint --rcfile=.pylintrc lib tap.py tests tools

unit: $(STAMP)  ## unit tests on the synthesized JSON
	$(PY) -m pytest tests/unit -q

test: lint unit validate  ## what CI runs

bench: $(STAMP)  ## synth time fast vs plain, peak memory, unit suite -> bench/results.json
	$(PY) tools/bench.py $(if $(SANDBOX_PHASES),--sandbox-phases $(SANDBOX_PHASES))

clean:
	rm -rf cdktf.out .tfcli sandbox-logs cfn-outputs bench .pytest_cache
