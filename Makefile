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
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --prefix=$(abspath $(PREFIX))
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

# PREFIX is honoured even when $(BUILD) was configured with another one; a
# library installed as root into a system prefix is made known to the loader.
install: build
	@cur=$$(meson configure $(BUILD) | awk '$$1 == "prefix" { print $$2; exit }'); \
	if [ "$$cur" != "$(abspath $(PREFIX))" ]; then \
		echo "$(BUILD): prefix $$cur -> $(abspath $(PREFIX))"; \
		meson configure $(BUILD) -Dprefix=$(abspath $(PREFIX)); \
	fi
	meson install -C $(BUILD)
	@case "$(abspath $(PREFIX))" in /usr|/usr/local) \
		if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then echo ldconfig; ldconfig; fi ;; \
	esac

uninstall:
	ninja -C $(BUILD) uninstall

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# clang prints "N warnings generated." for warnings it suppressed in system
# headers (Python's): only real findings are shown. *_macos.c build only on
# macOS (they include its system headers): checked there.
tidy: build
	@out=$$(clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.c' | grep -v '_macos\.c$$') 2>&1); rc=$$?; \
	printf '%s\n' "$$out" | grep -v ' warnings\? generated\.$$' | grep . ; exit $$rc

clean:
	rm -rf build build-asan build-tsan build-fuzz
