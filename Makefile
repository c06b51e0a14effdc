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

# clang prints "N warnings generated." for warnings it suppressed in system
# headers (Python's): only real findings are shown.
tidy: build
	@out=$$(clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.c') 2>&1); rc=$$?; \
	printf '%s\n' "$$out" | grep -v ' warnings\? generated\.$$' | grep . ; exit $$rc

clean:
	rm -rf build build-asan build-tsan
