# verify-service — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
PORT ?= 8080

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' \
	  '{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1) } \
	   END { for (i = 1; i <= NR; i++) printf "  %-" width "s  %s\n", name[i], text[i] }'

# Dependencies come only from the locks, every file checked against its hash; the project
# itself is installed after them with --no-deps, built by the build lock's setuptools (no
# build isolation, which would fetch an unpinned one) (docs/operations.md, "Upgrades").
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
BUILD_LOCK := requirements-build.lock

$(STAMP): pyproject.toml $(DEV_LOCK) $(BUILD_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(BUILD_LOCK) -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP) $(RUN_STAMP)

$(RUN_STAMP): pyproject.toml $(LOCK) $(BUILD_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(BUILD_LOCK) -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(RUN_STAMP)

install: $(STAMP) ## Create the venv and install the package with test and lint tools

run: $(RUN_STAMP) ## Serve on the embedded store, console delivery, demo credentials (PORT=8080)
	$(BIN)/verify-service serve --port $(PORT)

test: $(STAMP) ## Run the whole suite (starts its own redis-server)
	$(BIN)/pytest

lint: $(STAMP) ## ruff, ruff format --check, mypy --strict, hadolint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint --no-color --failure-threshold style Dockerfile

# The dev lock (the superset) is resolved first, and the runtime lock within it, so both pin
# the same versions. Pins already in a lock are kept (only what pyproject.toml's change needs
# moves); UPGRADE=1 moves every pin to the newest release the ranges allow, and
# UPGRADE_PACKAGE=name that package alone (a security fix).
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --universal \
	--python-version 3.11 --custom-compile-command "make lock" \
	$(if $(UPGRADE),--upgrade) $(if $(UPGRADE_PACKAGE),--upgrade-package $(UPGRADE_PACKAGE))

# uv alone, from the dev lock with its hashes: `make lock` must work while the locks are stale
# (a dependency pyproject.toml names and the lock lacks fails `make install`'s pip check).
$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	awk '/^[^ #]/ { keep = /^uv==/ } keep' $(DEV_LOCK) > $(VENV)/uv-requirement.txt
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(VENV)/uv-requirement.txt

lock: $(BIN)/uv ## Re-resolve the locks from pyproject.toml (UPGRADE=1, UPGRADE_PACKAGE=name)
	$(UV_COMPILE) pyproject.toml --extra test --extra lint -o $(DEV_LOCK)
	$(UV_COMPILE) pyproject.toml -c $(DEV_LOCK) -o $(LOCK)
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(UV_COMPILE) - -o $(BUILD_LOCK)

format: $(STAMP) ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Throughput and latency against the framework ceiling (see docs/performance.md)
	$(BIN)/python -m bench.run

bench-cluster: $(STAMP) ## Slot balance: 10 000 starts on a local 3-master Redis Cluster (docs/scaling.md)
	$(BIN)/python -m bench.cluster

bench-durability: $(STAMP) ## Cost of VERIFY_REDIS_WAIT_REPLICAS on a local Sentinel group (ITERATIONS=2000)
	$(BIN)/python -m bench.durability --iterations $(or $(ITERATIONS),2000)

messages-extract: $(STAMP) ## Extract message ids into the .pot and update every .po
	$(BIN)/pybabel extract -F babel.cfg -k N_ --add-comments=TRANSLATORS: --strip-comment-tags \
	  --add-location=file --sort-output --project=verify-service --version=0.1.0 \
	  --copyright-holder="verify-service contributors" -o verify_service/locales/messages.pot .
	$(BIN)/pybabel update -i verify_service/locales/messages.pot -d verify_service/locales \
	  -D messages --ignore-obsolete

messages-compile: $(STAMP) ## Compile the .po catalogues into the .mo files the service loads
	$(BIN)/pybabel compile -d verify_service/locales -D messages --statistics

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

.PHONY: help install run test lint lock format bench bench-cluster bench-durability messages-extract messages-compile clean
