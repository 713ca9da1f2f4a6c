# The runtime directory local pods bind read-only at /opt/kcr (bin/ symlinks,
# npm libraries, ts-runner.js); see scripts/build-runtime.sh.
.PHONY: runtime
binaries-only: runtime

RUNTIME_INPUTS := runtime/package.json runtime/package-lock.json runtime/ts-runner.js \
                  runtime/python/sitecustomize.py \
                  scripts/build-runtime.sh

runtime: $(BUILD)/runtime/.stamp

# Rebuilt when an input changes, or when the installed libraries vanished.
.PHONY: runtime-force
$(BUILD)/runtime/.stamp: $(RUNTIME_INPUTS) \
    $(if $(wildcard $(BUILD)/runtime/node_modules/.kcr-lock-sha256),,runtime-force)
	@$(if $(Q),echo "  RUNTIME $(BUILD)/runtime")
	$(Q)scripts/build-runtime.sh $(BUILD)/runtime
	@touch $@

# `make run` installs the language toolchains too (make test does it through
# deps-test): without them every execution but bash would fail.
.PHONY: deps-langs
deps-langs:
	@scripts/deps.sh langs
run: deps-langs
