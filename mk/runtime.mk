# The runtime directory local pods bind read-only at /opt/kcr (bin/ symlinks,
# npm libraries, ts-runner.js); see scripts/build-runtime.sh.
.PHONY: runtime
binaries-only: runtime

RUNTIME_INPUTS := runtime/package.json runtime/package-lock.json runtime/ts-runner.js \
                  runtime/python/sitecustomize.py runtime/forkserver.py \
                  scripts/build-runtime.sh

runtime: $(BUILD)/runtime/.stamp

# Rebuilt when an input changes, or when a part is missing (libraries
# vanished, or node/matplotlib were installed after the last build).
.PHONY: runtime-force
$(BUILD)/runtime/.stamp: $(RUNTIME_INPUTS) \
    $(if $(wildcard $(BUILD)/runtime/node_modules/.kcr-lock-sha256),,runtime-force) \
    $(if $(wildcard $(BUILD)/runtime/python/matplotlib/.built),,runtime-force)
	@$(if $(Q),echo "  RUNTIME $(BUILD)/runtime")
	$(Q)scripts/build-runtime.sh $(BUILD)/runtime
	@touch $@

# `make run` installs the language toolchains too, before anything is built
# (make test does it through deps-test): without them every execution but
# bash would fail, and the runtime dir needs node/npm.
.PHONY: deps-langs
deps-langs:
	@scripts/deps.sh langs
ifneq ($(filter run,$(MAKECMDGOALS)),)
deps: deps-langs
endif
