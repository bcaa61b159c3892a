# tern - the two commands a newcomer needs:
#   make run    install what is missing, build, start ternd on etc/tern.conf
#   make test   install what is missing, build, run every test
# Also: make build, make asan, make clean.

BUILD      ?= build
ASAN_BUILD ?= build-asan
PYTHON     ?= /usr/bin/python3

.PHONY: all deps build asan run test unit golden integ clean

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

test: deps unit golden integ

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
