# tern - the two commands a newcomer needs:
#   make run    install what is missing, build, start ternd on etc/tern.conf
#   make test   install what is missing, build, run every test
# Also: make build, make asan, make clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 10
PYTHON     ?= /usr/bin/python3

.PHONY: all deps build asan run test unit golden integ clean bench fuzz

all: build

deps:
	@scripts/install-deps.sh all

$(BUILD)/build.ninja:
	@scripts/install-deps.sh build
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@scripts/install-deps.sh build
	CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dbuildtype=debug

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

run: deps build
	mkdir -p var/mail var/spool
	exec ./$(BUILD)/ternd -c etc/tern.conf

unit: build asan
	meson test -C $(BUILD) --suite unit --print-errorlogs
	meson test -C $(ASAN_BUILD) --suite unit --print-errorlogs

golden: build
	tests/golden/run.sh ./$(BUILD)/ternd

# End-to-end tests drive the sanitizer build: any ASan/UBSan/LSan report
# fails the test that caused it.
integ: asan
	TERND=$(CURDIR)/$(ASAN_BUILD)/ternd TERN_BIN=$(CURDIR)/$(ASAN_BUILD)/tern \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integ

# Every test: unit (normal and sanitizer builds), golden, end to end
# (sanitizer build), then each fuzz target for TEST_FUZZ_SECONDS (CI: 60).
test: deps unit golden integ
	FUZZ_JOBS=2 $(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

# ternd against Postfix and OpenSMTPD (installs them; see bench/README.md).
# Not part of `make test`: it measures, it does not check.
bench: build
	bench/run.sh

$(FUZZ_BUILD)/build.ninja:
	@scripts/install-deps.sh build
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

# every libFuzzer target for FUZZ_SECONDS each (fuzz/README.md)
fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
