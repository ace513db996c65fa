# beamflame: the two commands a newcomer needs, and the pieces behind them.
#   make demo   install what is missing, build, profile a live demo node, write a flame graph
#   make test   install what is missing, build, run every test layer (C, EUnit, CT, ExUnit,
#               browser)
#   make test-otp  the same layers inside bare Debian chroots of OTP 25, 27 and 29 (root; cached)
# Other targets: build, strict (warnings as errors), sanitize (C tests under ASan+UBSan), bench, clean.

.PHONY: all deps build strict demo test test-otp test-c test-eunit test-ct test-elixir test-browser sanitize bench clean options-doc

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	rebar3 compile

# The build with warnings as errors (CI runs it on every release; a plain build only
# shows warnings, so a library still builds on a newer OTP that deprecates something).
strict: deps
	rebar3 as strict compile

demo: build
	@bash scripts/demo.sh

test: build
	@$(MAKE) --no-print-directory test-c test-eunit test-ct test-elixir test-browser

# Every test layer but the browser's inside bare Debian chroots (bookworm: OTP 25,
# trixie: OTP 27, sid: OTP 29), made once and cached under /var/cache/beamflame; prints
# release x layer x result. Needs root. SUITES=trixie runs one.
test-otp:
	@bash scripts/otp-matrix.sh $(SUITES)

test-c:
	@echo "==> C unit tests (Criterion)"
	$(MAKE) -C c_src test

# docs/options.md from the option tables (src/beamflame_options.erl); EUnit checks it.
options-doc: build
	mkdir -p docs
	erl -noshell -pa _build/default/lib/beamflame/ebin -eval \
	  'ok = file:write_file("docs/options.md", beamflame_options:doc()), halt().'

test-eunit:
	@echo "==> Erlang unit tests (EUnit)"
	rebar3 eunit

test-ct:
	@echo "==> Erlang system tests on real peer nodes (Common Test)"
	rebar3 ct

# A named node, so the :distributed tests run (not skipped).
test-elixir:
	@echo "==> Elixir facade, mix project and notebook (ExUnit, on a named node)"
	MIX_ENV=test elixir --sname beamflame_ex_$$$$ -S mix test

test-browser:
	@echo "==> Flame graphs in headless Chromium (node --test, playwright-core)"
	cd test/browser && npm ci --no-audit --no-fund --silent && node --test

sanitize: build
	@echo "==> C unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
	$(MAKE) -C c_src sanitize
	@echo "==> the NIF library under ASan + UBSan, reloaded and purged in a VM"
	$(MAKE) -C c_src nif-sanitize

bench: build
	@bash bench/run.sh

clean:
	rebar3 clean
	$(MAKE) -C c_src clean
	rm -rf _build out bench/out
