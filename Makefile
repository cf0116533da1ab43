# Thin wrapper over meson so the README's two commands are all a newcomer needs.
#   make run    install what is missing, build, open the lab on the default models
#   make test   install what is missing, build, run the whole test suite
#   make fuzz [SECONDS=30] [FUZZ_JOBS=2]   every libFuzzer harness (tests/fuzz) for SECONDS each,
#               built with clang in build-fuzz (docs/reliability.md)
# Both are idempotent. BUILD and MESON_OPTS select another build folder / options (CI uses them
# for the sanitizer build).
BUILD ?= build
MESON_OPTS ?= -Dwerror=true
ABLAB_ARGS ?=

.PHONY: run test build deps clean bench fuzz

deps:
	@sh tools/setup.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

run: build
	./$(BUILD)/src/ablab $(ABLAB_ARGS)

test: build
	@rc=0; meson test -C $(BUILD) --print-errorlogs --num-processes 2 $(TEST_ARGS) || rc=$$?; \
	python3 tools/test-summary.py $(BUILD)/meson-logs/testlog.json; exit $$rc

bench: build
	meson test -C $(BUILD) --benchmark --print-errorlogs --verbose

FUZZ_BUILD ?= build-fuzz
SECONDS ?= 30
FUZZ_JOBS ?= 2
FUZZ_OPTS ?= -Dfuzz=true -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang meson setup $(FUZZ_BUILD) $(FUZZ_OPTS)

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzz
	sh tools/fuzz.sh $(FUZZ_BUILD) $(SECONDS) $(FUZZ_JOBS)

clean:
	rm -rf $(BUILD)
