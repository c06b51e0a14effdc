# Thin wrapper over meson + ninja. Every target installs what is missing first.
BUILD  ?= build
PREFIX ?= /usr/local

.PHONY: all deps bench-deps build demo check bench fuzz install uninstall format tidy clean

all: build

deps:
	@scripts/deps

# What make bench needs beyond the build and the tests (perf).
bench-deps:
	@scripts/deps bench

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --prefix=$(PREFIX)
	@ninja -C $(BUILD)

demo: build
	@BUILD=$(BUILD) scripts/demo

check: deps
	@scripts/check

bench: build bench-deps
	@BUILD=$(BUILD) scripts/bench

# libFuzzer targets (fuzz/), built with clang in build-fuzz; FUZZ_SECONDS per target.
fuzz:
	@scripts/deps fuzz
	@scripts/fuzz

install: build
	meson install -C $(BUILD)

uninstall:
	ninja -C $(BUILD) uninstall

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.c')

clean:
	rm -rf build build-asan build-tsan build-fuzz
