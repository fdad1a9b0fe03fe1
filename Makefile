# Entry points: `make run` (the main job) and `make test` (every test). Python 3.11 and make are all they need.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
DIST := build/dist
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/build/collections
export ANSIBLE_NOCOLOR := 1
export PATH := $(BIN):$(PATH)

.PHONY: setup setup-run sandbox build run test unit integration examples conformance compat lint sanity docs clean bench realssm realssm-build staging-check changelog

# One .venv, two levels: what the main job needs (requirements-run.txt: ansible-core and requests), marked by
# .run-installed; every development tool on top for the tests (requirements-dev.txt), marked by .installed.
setup-run: $(VENV)/.run-installed

setup: $(VENV)/.installed

$(VENV)/.run-installed: requirements.txt requirements-run.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-run.txt
	touch $@

$(VENV)/.installed: $(VENV)/.run-installed requirements-dev.txt meta/ee-requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The tests and the main job use the built and installed collection, as users get it.
build: setup-run
	rm -rf $(DIST) build/collections/ansible_collections/squirrel/ssm
	$(BIN)/ansible-galaxy collection build --force --output-path $(DIST) .
	$(BIN)/ansible-galaxy collection install --force -p build/collections $(DIST)/squirrel-ssm-*.tar.gz

# The main job: configure registries on the SSM sandbox, or on your SSM when SSM_URL is set.
run: build
	$(BIN)/python tools/main_job.py

# A standalone SSM sandbox for experiments (SSM v0.5.2 as measured, defects included): prints its URL, API key,
# username and password and the export line to paste; runs until Ctrl-C. SANDBOX_ARGS="--port 8000
# --legacy-rows --flavour fixed --version 0.1" (python3 -m tests.sandbox.ssm_sandbox --help).
sandbox:
	$(PYTHON) -m tests.sandbox.ssm_sandbox --announce $(SANDBOX_ARGS)

unit: setup
	$(BIN)/python -m pytest -q tests/unit tests/contract

integration: setup build
	$(BIN)/python -m pytest -q tests/integration

# Every ```yaml and ```sh block of README.md and docs/, and the modules' EXAMPLES, run against the SSM sandbox.
examples: setup build
	$(BIN)/python -m pytest -q -n 2 tests/examples

test: setup build
	$(BIN)/python tools/gendocs.py --check
	$(BIN)/python -m pytest -n 2 tests/unit tests/tools tests/contract tests/realreg tests/integration tests/realssm tests/examples
	$(MAKE) --no-print-directory conformance
	$(MAKE) --no-print-directory staging-check
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory compat

# The collection under each ansible-core it supports (2.16 to 2.21), each in a venv cached in build/compat:
# the main job twice, an ad-hoc call, check mode and the README's module_defaults play (tools/compat.py).
# VERSIONS="2.16 2.21" runs some.
compat: setup
	$(BIN)/python tools/compat.py $(VERSIONS)

# The same scenarios against the SSM sandbox (both flavours, and v0.1) and every real SSM in SSM_SOURCE
# (tarballs or SSM checkouts, ':'-separated); docs/compatibility.md. Prints the scenario x server table.
conformance: setup build
	$(BIN)/python -m pytest -n 2 --dist loadgroup -rs tests/conformance

# The staging check of docs/compatibility.md ("Testing against your own SSM") as a user runs it, on a real v0.5.2 and
# v0.1.30 of SSM_SOURCE filled as SSM's web UI and an old reset leave an SSM: the conformance suite through the
# running-SSM path only (one scenario at a time), then every row of the database compared with what it held before.
# STAGING_K="..." (a pytest -k expression) runs some scenarios only.
staging-check: setup build
	$(BIN)/python -m tests.conformance.staging_check $(if $(STAGING_K),--only "$(STAGING_K)")

# The Ansible ecosystem checks, as antsibull-nox sessions (noxfile.py, antsibull-nox.toml; `.venv/bin/nox -l` lists
# them): ansible-test sanity and units, compile and import on Python 3.7 to 3.13, ansible-lint, yamllint, docs,
# galaxy-importer, molecule, the artifact, the execution environment's context, the changelog.
# CHECKS="ansible-test-sanity docs-check" runs some. NOX_FLAGS=-r (instead of -R) updates what the venvs of
# build/nox installed the first time.
NOX_FLAGS ?= -R
lint: setup build
	$(BIN)/nox $(NOX_FLAGS) --no-color $(if $(CHECKS),-s $(CHECKS))

# The benchmarks of the performance targets of docs/performance.md (benchmarks, not tests): one SSM, then a fleet of
# SSM servers; each writes its table into docs/performance.md. BENCH_ONLY=single or BENCH_ONLY=fleet runs one of them.
bench: setup build
	$(BIN)/python benchmarks/bench.py

docs:
	$(BIN)/python tools/gendocs.py

# CHANGELOG.rst with every fragment of changelogs/fragments, in the release of galaxy.yml's version (tools/changelog.py).
changelog: setup build
	$(BIN)/python tools/changelog.py

# The real SSM server for tests (tests/realssm): SSM_SOURCE is an os.pathsep-separated list of SSM source
# tarballs or git checkouts. `realssm-build` builds them all (cached in build/realssm); `realssm` starts the
# first one and prints its URL, API key, username and password (Ctrl-C stops it).
realssm-build: setup
	$(BIN)/python -m tests.realssm build $(subst :, ,$(SSM_SOURCE))

realssm: setup
	$(BIN)/python -m tests.realssm start $(firstword $(subst :, ,$(SSM_SOURCE)))

clean:
	rm -rf build $(VENV)
