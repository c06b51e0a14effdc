# Thin wrapper over meson + ninja. Every target installs what is missing first.
BUILD  ?= build
PREFIX ?= /usr/local

.PHONY: all deps build demo check bench install uninstall format tidy clean

all: build

deps:
	@scripts/deps

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --prefix=$(abspath $(PREFIX))
	@ninja -C $(BUILD)

demo: build
	@BUILD=$(BUILD) scripts/demo

check: deps
	@scripts/check

bench: build
	@BUILD=$(BUILD) scripts/bench

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

tidy: build
	clang-tidy -p $(BUILD) --quiet $$(git ls-files '*.c')

clean:
	rm -rf build build-asan build-tsan
