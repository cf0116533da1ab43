# Thin wrapper over meson so the README's two commands are all a newcomer needs.
#   make run    install what is missing, build, open the lab on the default models
#   make test   install what is missing, build, run the whole test suite
# Both are idempotent. BUILD and MESON_OPTS select another build folder / options (CI uses them
# for the sanitizer build).
BUILD ?= build
MESON_OPTS ?= -Dwerror=true
ABLAB_ARGS ?=

.PHONY: run test build deps clean bench

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

clean:
	rm -rf $(BUILD)
