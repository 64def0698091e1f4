# eBiz: `make run` serves the store on its embedded defaults; `make test` runs the suite.
VENV    ?= .venv
PY      := $(VENV)/bin/python
FLASK   := $(VENV)/bin/flask --app wsgi
HOST    ?= 127.0.0.1
PORT    ?= 5000

# LocalStack (S3 with signature checks) for the S3 tests: its own venv on Python 3.13.
PY313   ?= $(firstword $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))
S3VENV  ?= .s3venv
LOCALSTACK_PINS := 'localstack-core[base-runtime]==2026.3.0' moto-ext 'cbor2<6' 'pyopenssl<26' \
                   'cryptography<47' 'service-identity<26'

.PHONY: run test bench lint translations install install-dev clean s3venv wrk

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Quietly, but a broken catalogue stops the build with pybabel's own message.
translations: install
	@$(VENV)/bin/pybabel --quiet compile -d translations

# Links in mail and QR codes follow the port (config.py: PUBLIC_BASE_URL, unless set).
run: export FLASK_RUN_HOST = $(HOST)
run: export FLASK_RUN_PORT = $(PORT)
run: install translations
	$(FLASK) db upgrade
	$(FLASK) ebiz seed-demo
	@echo "make run: Flask's DEVELOPMENT server (debugger on, one process, SQLite, mail on the console)."
	@echo "          For trying eBiz on this machine only; production runs gunicorn -c gunicorn.conf.py (README, Production)."
	$(FLASK) run --debug

# Skipped quietly when Python 3.13 is absent (the LocalStack tests then skip, or fail under EBIZ_REQUIRE_SERVICES=1).
s3venv:
	@if [ -x "$(S3VENV)/bin/python" ] && [ -f "$(S3VENV)/.installed" ]; then :; \
	elif [ -n "$(PY313)" ] && "$(PY313)" -c "" 2>/dev/null; then \
	  $(PY313) -m venv $(S3VENV) && $(S3VENV)/bin/pip install -q $(LOCALSTACK_PINS) && touch $(S3VENV)/.installed; \
	else echo "python3.13 not found: LocalStack S3 tests will be skipped"; fi

test: install-dev translations s3venv
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install-dev translations wrk
	$(PY) -m tests.bench.run

# wrk (the load generator of ../shared/perf) comes from Debian's packages.
wrk:
	@command -v wrk >/dev/null || { echo "bench: installing wrk from Debian's packages"; \
	  if [ "$$(id -u)" = 0 ]; then S=""; else S="sudo"; fi; \
	  $$S apt-get update -q && DEBIAN_FRONTEND=noninteractive $$S apt-get install -y -q wrk; }

lint: install-dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf instance/ebiz.db .pytest_cache
