# Thin wrapper over meson + ninja. Every target installs what is missing first.
BUILD  ?= build
PREFIX ?= /usr/local

.PHONY: all deps build demo check bench install uninstall format tidy clean

all: build

deps:
	@scripts/deps

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --prefix=$(PREFIX)
	@ninja -C $(BUILD)

demo: build
	@BUILD=$(BUILD) scripts/demo

check: deps
	@scripts/check

bench: build
	@BUILD=$(BUILD) scripts/bench

install: build
	meson install -C $(BUILD)

uninstall:
	ninja -C $(BUILD) uninstall

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# *_macos.c build only on macOS (they include its system headers): checked there.
tidy: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.c' | grep -v '_macos\.c$$')

clean:
	rm -rf build build-asan build-tsan
