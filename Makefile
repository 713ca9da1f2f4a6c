# kcr — GNU Makefile. Entry points: `make` (build), `make run`, `make test`.
#
# Every src/<module>/ directory becomes one static archive build/lib<module>.a;
# files named main-*.c are program entry points and stay out of the archives.
# A binary links only the archives its row of the dependency table allows
# (docs/architecture.md), so kcr-sidecar and kcr-nsexec never see api/core/store/pod.
# The table is written once, below (DEPS_<module>); `make check-layers` checks
# every #include of src/ against it.

BUILD   ?= build
CC      ?= gcc
SAN     ?=
PY      := /usr/bin/python3

# hiredis only encodes commands and parses replies for the Redis store, over
# its own socket and OpenSSL's libssl for TLS (store/meta-redis-conn.c);
# libxml2 reads the S3 store's XML replies (store/blob-s3-xml.c).
PKGS    := libmicrohttpd jansson libcurl sqlite3 libseccomp libcap libcrypto hiredis libssl \
           libxml-2.0
HAVE_PKGS := $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo yes)

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wswitch-enum -Wno-format-nonliteral -Wno-format-truncation
HARDEN  := -fstack-protector-strong -fstack-clash-protection -fPIE -D_FORTIFY_SOURCE=2
CFLAGS  ?= -O2 -g
ALL_CFLAGS := -std=gnu17 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Isrc -MMD -MP
LDFLAGS_ALL := -pie -Wl,-z,relro,-z,now $(LDFLAGS)
ifeq ($(SAN),1)
  ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS_ALL += -fsanitize=address,undefined
else
  ALL_CFLAGS += $(HARDEN)
endif
ifeq ($(HAVE_PKGS),yes)
  ALL_CFLAGS += $(shell pkg-config --cflags $(PKGS))
  LIBS := $(shell pkg-config --libs $(PKGS)) -lpthread
endif

# kcr-sidecar starts in every local pod, on the path of the pod's creation:
# its HTTP stack (libmicrohttpd, the GnuTLS it is built with and what that
# uses, jansson) is linked statically, which spares loading and relocating
# ten shared libraries, ~0.5 ms of each pod's creation (docs/local-pods.md).
# The archives are prerequisites of the link, so an upgrade of any of them
# relinks the sidecar on the next make. SIDECAR_STATIC=0: all dynamic.
SIDECAR_STATIC ?= 1
SIDECAR_AR_NAMES := microhttpd gnutls hogweed nettle gmp tasn1 idn2 unistring jansson
SIDECAR_LINK = $(LIBS)
ifeq ($(SIDECAR_STATIC)$(HAVE_PKGS),1yes)
  SIDECAR_ARS := $(foreach l,$(SIDECAR_AR_NAMES),$(shell $(CC) -print-file-name=lib$(l).a))
  ifeq ($(words $(filter /%,$(SIDECAR_ARS))),$(words $(SIDECAR_AR_NAMES)))
    SIDECAR_LINK = $(SIDECAR_ARS) $(shell pkg-config --libs p11-kit-1 libseccomp libcap) \
                   -latomic -lpthread
  else
    SIDECAR_ARS :=
  endif
endif

# The dependency table (docs/architecture.md, "Modules and the dependency
# table"), written once: DEPS_<module> is what src/<module>/ may #include,
# directly. MODULES is in link order, users before what they use, so every
# module comes before its DEPS (scripts/check-layers.py checks that too).
# `fakes` is tests/fakes/ (unit tests only), checked like a module.
MODULES := api core lint pod store sidecar http sandbox common
DEPS_api     := core http common
DEPS_core    := store pod common
DEPS_lint    := common
DEPS_pod     := sandbox common
DEPS_store   := common
DEPS_sidecar := sandbox http common
DEPS_http    := common
DEPS_sandbox := common
DEPS_common  :=
DEPS_fakes   := core pod common

define module_objs
$(patsubst src/%.c,$(BUILD)/obj/%.o,$(filter-out src/$(1)/main-%.c,$(wildcard src/$(1)/*.c)))
endef
$(foreach m,$(MODULES),$(eval OBJS_$(m) := $(call module_objs,$(m))))
$(foreach m,$(MODULES),$(eval LIB_$(m) := $(BUILD)/lib$(m).a))

# Rows derived from the table: $(call closure,mods) is mods and everything
# they use, transitively, in link order; $(call link_libs,mods) its archives.
closure_all = $(foreach m,$(1),$(m) $(call closure_all,$(DEPS_$(m))))
closure = $(filter $(sort $(call closure_all,$(1))),$(MODULES))
link_libs = $(foreach m,$(call closure,$(1)),$(LIB_$(m)))

# Each binary links the closure of the modules its entry point calls:
# main-kcr.c runs `kcr serve` (api), `kcr lint-dockerfile` (lint) and
# `kcr pod` (pod). kcr-nsexec is the sidecar module without its HTTP server.
KCR_LIBS     := $(call link_libs,api lint pod)
PODMGR_LIBS  := $(call link_libs,pod)
SIDECAR_LIBS := $(call link_libs,sidecar)
NSEXEC_LIBS  := $(filter-out $(LIB_http),$(call link_libs,sidecar))
# A unit test links its module and what that module may use (its closure),
# so a test also proves the module does not reach past its row; and the
# test fakes (tests/fakes/, libfakes.a), which nothing else links.
$(foreach m,$(MODULES),$(eval TEST_LIBS_$(m) := $(call link_libs,$(m))))
LIB_fakes  := $(BUILD)/libfakes.a
# (archived by the $(BUILD)/lib%.a rule, like a module)
OBJS_fakes := $(patsubst tests/%.c,$(BUILD)/obj/tests/%.o,$(wildcard tests/fakes/*.c))
# Tests include "fakes/pod-fake.h"; src/ never sees -Itests.
TEST_CFLAGS = $(ALL_CFLAGS) -Itests

BINS := $(BUILD)/kcr $(BUILD)/kcr-podmgr $(BUILD)/kcr-sidecar $(BUILD)/kcr-nsexec \
        $(BUILD)/kcr-probe $(BUILD)/kcr-forkserver.so

UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

.PHONY: all deps deps-test run test unit valgrind e2e asan clean format format-check bench bench-quick \
        fuzz fuzz-build check-layers
.DEFAULT_GOAL := all

# Dependencies are installed first, then make re-reads this file so that
# pkg-config sees the freshly installed libraries.
all: deps
	@$(MAKE) --no-print-directory binaries-only

.PHONY: binaries-only
binaries-only: $(BINS)

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh build test langs

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Objects are inputs of archives, not throw-away intermediates.
.SECONDARY:
.SECONDEXPANSION:

$(BUILD)/lib%.a: $$(OBJS_$$*)
	@mkdir -p $(dir $@)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/kcr: $(BUILD)/obj/main-kcr.o $(KCR_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(KCR_LIBS) $(LIBS)

# The pod manager: every local pod starts as a fork of it, and a fork costs
# a copy of every mapping, so it is linked with only the shared libraries its
# code uses (--as-needed drops the rest of LIBS: no libcurl, OpenSSL, SQLite,
# libmicrohttpd), ~50 mappings instead of kcr's ~250 (docs/local-pods.md).
$(BUILD)/kcr-podmgr: $(BUILD)/obj/pod/main-podmgr.o $(PODMGR_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -Wl,--as-needed -o $@ $< $(PODMGR_LIBS) $(LIBS)

$(BUILD)/kcr-sidecar: $(BUILD)/obj/sidecar/main-sidecar.o $(SIDECAR_LIBS) $(SIDECAR_ARS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(SIDECAR_LIBS) $(SIDECAR_LINK)

# kcr-nsexec starts every step of every execution (and every pod's runner):
# a static-pie where libc.a and libseccomp.a exist, which spares the dynamic
# loader ~0.3 ms of CPU a start (0.83 -> 0.57 ms measured). Not with the
# sanitizers, whose runtimes are shared libraries. NSEXEC_STATIC=0: dynamic.
NSEXEC_STATIC ?= 1
NSEXEC_LINK = $(LDFLAGS_ALL) -o $@ $< $(NSEXEC_LIBS) $(LIBS)
ifeq ($(NSEXEC_STATIC)$(SAN)$(HAVE_PKGS),1yes)
  NSEXEC_ARS := $(shell $(CC) -print-file-name=libseccomp.a) $(shell $(CC) -print-file-name=libc.a)
  ifeq ($(words $(filter /%,$(NSEXEC_ARS))),2)
    NSEXEC_LINK = -static-pie -Wl,-z,relro,-z,now $(LDFLAGS) -o $@ $< $(NSEXEC_LIBS) \
                  $(firstword $(NSEXEC_ARS))
  endif
endif
$(BUILD)/kcr-nsexec: $(BUILD)/obj/sidecar/main-nsexec.o $(NSEXEC_LIBS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(NSEXEC_LINK)

# The fork-server template (a Python process) loads this with ctypes: the
# privileged steps of its children, and the sandbox code they share with
# kcr-nsexec. Position-independent, only its API exported, and never built
# with sanitizers (their runtime cannot be loaded into python).
FORKSERVER_SRCS := src/sidecar/forkserver-child.c src/sidecar/forkserver-arena.c \
                   src/sandbox/caps.c src/sandbox/seccomp.c \
                   src/sandbox/rlimit.c
FORKSERVER_OBJS := $(patsubst src/%.c,$(BUILD)/pic/%.o,$(FORKSERVER_SRCS))
$(BUILD)/pic/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -std=gnu17 -D_GNU_SOURCE $(WARN) -O2 -g -fPIC -fvisibility=hidden \
	  -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Isrc -MMD -MP \
	  $(shell pkg-config --cflags libseccomp 2>/dev/null) -c $< -o $@
$(BUILD)/kcr-forkserver.so: $(FORKSERVER_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-z,relro,-z,now,-z,defs -o $@ $^ \
	  $(shell pkg-config --libs libseccomp 2>/dev/null)

# The probe runs inside minimal rootfs images (busybox), so it is static and
# built without sanitizers.
$(BUILD)/kcr-probe: tests/helpers/kcr-probe.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -std=gnu17 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -static -o $@ $<

$(BUILD)/obj/tests/fakes/%.o: tests/fakes/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(TEST_CFLAGS) -c $< -o $@

test_libs = $(LIB_fakes) $(TEST_LIBS_$(firstword $(subst /, ,$(1))))
$(BUILD)/tests/unit/%: tests/unit/%.c $$(call test_libs,$$*)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(TEST_CFLAGS) $(LDFLAGS_ALL) -o $@ $< $(call test_libs,$*) $(LIBS) -lcmocka

run: all
	$(BUILD)/kcr serve

# make test: unit tests under ASan+UBSan, then the black-box suite against the
# normal build (real processes, namespaces and sockets).
test: deps-test
	@$(MAKE) --no-print-directory binaries-only
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=20
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory format-check
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory bench-quick

# Every #include "<module>/..." in src/<module>/ and tests/fakes/ against
# the DEPS_ rows above: fails naming file:line and the forbidden edge.
check-layers:
	@$(PY) scripts/check-layers.py

# Each unit test gets 300 s: a hung test fails the run instead of stalling it.
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; timeout 300 $$t; done

# The sandbox and sidecar code under valgrind (memcheck), on the normal build:
# every unit test valgrind 3.19 can emulate. Left out, and why: test_ns and
# test_rootfs (raw clone with namespace flags, mount_setattr), test_seccomp
# (seccomp itself), test_rlimit (valgrind's reserved fds defeat the NOFILE
# check), test_exec (its posix_spawn reports a missing binary late). The
# sidecar itself runs under valgrind in tests/e2e/test_sidecar_valgrind.py.
VALGRIND_TESTS := $(addprefix $(BUILD)/tests/unit/,common/test_buf_id common/test_lang \
                  common/test_lang_mult common/test_names sandbox/test_caps sandbox/test_cgroup \
                  sidecar/test_procscan sidecar/test_ptc_proto sidecar/test_request \
                  sidecar/test_result sidecar/test_files)
valgrind: $(VALGRIND_TESTS)
	@for t in $(VALGRIND_TESTS); do echo "== valgrind $$t"; \
	  out=$$(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	    $$t 2>&1) || { echo "$$out"; exit 1; }; done

e2e: binaries-only
	KCR_BUILD=$(abspath $(BUILD)) $(PY) -m pytest -q -rs tests/e2e

bench: all
	KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py $(BENCH)

# The benchmarks with few samples, as part of make test: they print ratios
# against baselines measured in the same run and assert nothing about speed
# (about 1.5 min). The soak fails on errors and on leaked pods, cgroups or fds.
bench-quick: binaries-only
	BENCH_N=20 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py pod
	BENCH_N1=20 BENCH_N8=40 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py api
	BENCH_N=2 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py langs
	BENCH_N=50 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py auth
	BENCH_N=10 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py stages
	BENCH_N=3 BENCH_SECONDS=3 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py ladder
	BENCH_N=2 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py ts
	BENCH_SOAK_N=100 KCR_BUILD=$(abspath $(BUILD)) $(PY) bench/run.py soak

# make fuzz: the libFuzzer harnesses fuzz/fuzz_<name>.c (fuzz/README.md), built
# with clang under ASan+UBSan in build-fuzz/ from the same src/ files, each run
# for FUZZ_SECONDS on a copy of its seed corpus: build-fuzz/corpus/<name> keeps
# what the runs find (delete it to start over), fuzz/corpus is never written.
# Any crash, leak, sanitizer report or failed property fails the target; the
# input is left in build-fuzz/artifacts/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu17 -D_GNU_SOURCE $(WARN) -Wno-unknown-warning-option -O1 -g -Isrc \
                -MMD -MP $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
                $(if $(HAVE_PKGS),$(shell pkg-config --cflags $(PKGS)))
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
# The src/ files each harness links besides src/common (an archive).
FUZZ_SRC_http_route := http/http-route
FUZZ_SRC_multipart  := http/http http/http-body http/http-request http/http-response \
                       http/http-multipart http/http-route http/http-watch
FUZZ_SRC_multipart_parser := http/http-multipart
FUZZ_SRC_jwt        := api/jwt api/jwt-keys api/jwt-internal
FUZZ_SRC_request    := api/exec-request api/errors core/principal http/http http/http-body \
                       http/http-request http/http-response http/http-multipart \
                       http/http-route http/http-watch
FUZZ_SRC_dockerfile := lint/dockerfile-parse lint/dockerfile-query
FUZZ_SRC_ptc        := sidecar/sidecar-ptc-proto sidecar/sidecar-result
FUZZ_COMMON := $(FUZZ_BUILD)/libcommon.a
fuzz_objs = $(patsubst %,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRC_$(1)))

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_BUILD)/harness/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_COMMON): $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(wildcard src/common/*.c))
	@rm -f $@
	$(Q)ar rcs $@ $^
$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/harness/fuzz_%.o $$(call fuzz_objs,$$*) $(FUZZ_COMMON)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
	  c=$(FUZZ_BUILD)/corpus/$$n; log=$(FUZZ_BUILD)/fuzz_$$n.log; \
	  mkdir -p $$c $(FUZZ_BUILD)/artifacts; cp fuzz/corpus/$$n/* $$c/; \
	  echo "== fuzz $$n ($(FUZZ_SECONDS) s)"; \
	  if ! $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 \
	      -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- \
	      $$c >$$log 2>&1; then \
	    tail -60 $$log; echo "fuzz $$n: FAILED (log $$log)"; exit 1; fi; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' $$log \
	    | tr '\n' ' '; echo; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@out=$$(for f in $$(git ls-files '*.c' '*.h'); do clang-format --dry-run -Werror $$f 2>&1; done); \
	if [ -n "$$out" ]; then echo "$$out" | head -40; echo "format-check: run 'make format'"; exit 1; fi

clean:
	rm -rf build build-asan build-fuzz

-include mk/*.mk
-include $(shell find $(BUILD)/obj $(BUILD)/pic -name '*.d' 2>/dev/null)
-include $(if $(filter fuzz%,$(MAKECMDGOALS)),$(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null))

# Files served by kcr are data, compiled into the api archive as byte arrays:
# the OpenAPI document of /openapi.json (src/api/openapi.c fills in the
# version and the languages) and the operator dashboard of /admin
# (src/api/dashboard/, served by src/api/dashboard.c; docs/dashboard.md).
# EMBED_<symbol> names the file; $(BUILD)/gen/<symbol>.c defines
# `const unsigned char <symbol>[]` (NUL-terminated) and `<symbol>_len` (the
# length without that NUL). Only od and sed (coreutils, sed: in every Debian)
# are needed, so the image builds (docker/*.Dockerfile) need no more.
EMBED_kcr_openapi_json   := src/api/openapi.json
EMBED_kcr_dashboard_html := src/api/dashboard/index.html
EMBED_kcr_dashboard_js   := src/api/dashboard/dashboard.js
EMBED_kcr_dashboard_css  := src/api/dashboard/dashboard.css
EMBEDS := kcr_openapi_json kcr_dashboard_html kcr_dashboard_js kcr_dashboard_css
OBJS_api += $(patsubst %,$(BUILD)/gen/%.o,$(EMBEDS))
$(BUILD)/gen/%.c: $$(EMBED_$$*)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)od -An -v -tx1 $< >$@.hex
	$(Q){ echo '/* Generated by the Makefile from $<: do not edit. */'; \
	  echo '#include <stddef.h>'; \
	  echo 'extern const unsigned char $*[];'; \
	  echo 'extern const size_t $*_len;'; \
	  echo 'const unsigned char $*[] = {'; \
	  sed 's/[0-9a-f][0-9a-f]/0x&,/g' $@.hex; \
	  echo '0x00};'; \
	  echo 'const size_t $*_len = sizeof($*) - 1;'; } >$@.tmp
	$(Q)mv $@.tmp $@ && rm -f $@.hex
$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# Scripts run in the sandbox: the runners of programmatic tool calling are kept
# as files next to their C code (src/sidecar/sidecar-ptc-runner.c) and compiled
# into the sidecar archive as NUL-terminated byte arrays named after the file
# (ptc-runner.py: kcr_ptc_runner_py). Only od and sed, as above.
SIDECAR_SCRIPTS := src/sidecar/ptc-runner.py src/sidecar/ptc-call.sh
SIDECAR_SCRIPT_GEN := $(patsubst src/sidecar/%,$(BUILD)/gen/sidecar/%.c,$(SIDECAR_SCRIPTS))
OBJS_sidecar += $(SIDECAR_SCRIPT_GEN:.c=.o)
$(BUILD)/gen/sidecar/%.c: src/sidecar/%
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)sym=kcr_$$(echo '$*' | tr '.-' '__'); od -An -v -tx1 $< >$@.hex; \
	{ echo '/* Generated by the Makefile from $<: do not edit. */'; \
	  echo "extern const unsigned char $$sym[];"; \
	  echo "const unsigned char $$sym[] = {"; \
	  sed 's/[0-9a-f][0-9a-f]/0x&,/g' $@.hex; \
	  echo '0x00};'; } >$@.tmp
	$(Q)mv $@.tmp $@ && rm -f $@.hex
$(BUILD)/gen/sidecar/%.o: $(BUILD)/gen/sidecar/%.c
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@
