# Vigil - network traffic anomaly sensor.
#
#   make            build ./vigil and every plugin (build/plugins/*.so)
#   make test       install build deps, build, run every test
#   make demo       install deps, build, replay pcaps/ and show the alerts
#   make check-asan the whole test suite under ASan+UBSan (build-asan/)
#   make fuzz-smoke each libFuzzer target for FUZZ_SECONDS (60), then its corpus
#   make bench      throughput against bare libpcap and bare libnids loops
#   make install PREFIX=/usr/local DESTDIR=
#   make deps       install the Debian packages the build and tests need

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
SYSCONFDIR ?= $(PREFIX)/etc
DATADIR    ?= $(PREFIX)/share
PLUGINDIR  ?= $(LIBDIR)/vigil/plugins
RULESDIR   ?= $(SYSCONFDIR)/vigil/rules
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC         ?= cc
PKG_CONFIG ?= pkg-config
BUILD      ?= build
CFLAGS     ?= -O2 -g
LDFLAGS    ?=

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wundef -Wpointer-arith -Wno-missing-field-initializers
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isensor -Itests/fuzz -I$(BUILD) $(WARN) -MMD -MP $(CFLAGS)

PCAP_LIBS   := $(shell $(PKG_CONFIG) --libs libpcap 2>/dev/null || echo -lpcap)
JSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson 2>/dev/null)
JSON_LIBS   := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null || echo -ljansson)
CRYPTO_LIBS := $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null || echo -lcrypto)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)
# Debian's libnids-dev has no .pc file; its shared library pulls libnet and glib.
NIDS_LIBS   ?= -lnids
SENSOR_LIBS  = $(NIDS_LIBS) $(PCAP_LIBS) $(JSON_LIBS) $(CRYPTO_LIBS) -luuid -lcurl -lhiredis \
               -lpthread -ldl -lm

SENSOR_SRCS := $(wildcard sensor/*.c)
SENSOR_OBJS := $(patsubst sensor/%.c,$(BUILD)/sensor/%.o,$(SENSOR_SRCS))
CORE_OBJS   := $(filter-out $(BUILD)/sensor/main.o,$(SENSOR_OBJS))

# One detector per plugin: plugins/NAME.c or plugins/NAME/*.c -> NAME.so
PLUGIN_FILES := $(wildcard plugins/*.c)
PLUGIN_DIRS  := $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c)))
PLUGIN_NAMES := $(filter-out common,$(sort $(basename $(notdir $(PLUGIN_FILES))) $(notdir $(PLUGIN_DIRS))))
# Helpers shared by the in-tree plugins (plugins/common/*.c), compiled into each.
PLUGIN_COMMON := $(wildcard plugins/common/*.c)
PLUGINS      := $(patsubst %,$(BUILD)/plugins/%.so,$(PLUGIN_NAMES))

TEST_SRCS := $(wildcard tests/unit/test_*.c)
TESTS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_PLUGIN_SRCS := $(wildcard tests/plugins/*.c)
TEST_PLUGINS := $(patsubst tests/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(TEST_PLUGIN_SRCS))
TOOLS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(wildcard tools/*.c))

.PHONY: vigil all eval hardening deps test unit e2e corpus-asan fuzz-replay fuzz-smoke demo check-asan asan-suite bench install uninstall clean pcaps FORCE
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/.vigil-build $(BUILD)/vigil $(PLUGINS) $(if $(filter build,$(BUILD)),vigil)

# ./vigil at the checkout's root; it finds build/plugins and rules/ itself.
vigil: $(BUILD)/vigil
	@ln -sf $(BUILD)/vigil vigil

$(BUILD)/vigil: $(SENSOR_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SENSOR_OBJS) $(SENSOR_LIBS)

# Marks a build tree, so a binary run from it uses the checkout's plugins and rules.
$(BUILD)/.vigil-build:
	@mkdir -p $(@D) $(@D)/plugins && touch $@

# Install paths are compiled in; regenerate only when they change.
$(BUILD)/vigil-paths.h: FORCE
	@mkdir -p $(@D)
	@printf '#define VIGIL_PLUGIN_DIR "%s"\n#define VIGIL_RULES_DIR "%s"\n#define VIGIL_VERSION "%s"\n' \
	  '$(PLUGINDIR)' '$(RULESDIR)' '$(VERSION)' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

VERSION := 0.1.0

$(BUILD)/sensor/main.o: $(BUILD)/vigil-paths.h

$(BUILD)/sensor/%.o: sensor/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(JSON_CFLAGS) -c -o $@ $<

# A plugin that needs a library names it here: PLUGIN_LIBS_<name> := -lfoo
PLUGIN_LIBS_signature := -lhs -lpcre2-8

$(BUILD)/plugins/%.so: plugins/%.c include/vigil/plugin.h $(PLUGIN_COMMON) $(wildcard plugins/common/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iplugins/common -fPIC -fvisibility=hidden -shared $(LDFLAGS) -o $@ $< \
	  $(PLUGIN_COMMON) $(PLUGIN_LIBS_$*) -lm

.SECONDEXPANSION:
$(BUILD)/plugins/%.so: $$(wildcard plugins/%/*.c plugins/%/*.h) include/vigil/plugin.h \
		       $(PLUGIN_COMMON) $(wildcard plugins/common/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Iplugins/common -fPIC -fvisibility=hidden -shared $(LDFLAGS) -o $@ \
	  $(filter %.c,$^) $(PLUGIN_LIBS_$*) -lm

# The same plugins, instrumented for the fuzzers (coverage, ASan, UBSan).
build-fuzz/plugins/%.so: $$(wildcard plugins/$$*.c plugins/$$*/*.c plugins/$$*/*.h) \
			 include/vigil/plugin.h $(PLUGIN_COMMON) $(wildcard plugins/common/*.h)
	@mkdir -p $(@D)
	clang -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isensor -Iplugins/common -g -O1 -fPIC -fvisibility=hidden \
	  -shared -fsanitize=fuzzer-no-link,address,undefined -o $@ $(filter %.c,$^) $(PLUGIN_LIBS_$*) -lm

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c include/vigil/plugin.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -fPIC -fvisibility=hidden -shared $(LDFLAGS) -o $@ $< -lm

# Helpers shared by the unit tests (a fake host for plugin tests, ...).
TEST_SUPPORT := $(wildcard tests/unit/support/*.c)

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJS) $(TEST_SUPPORT) $(wildcard tests/unit/support/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit/support $(JSON_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_SUPPORT) \
	  $(CORE_OBJS) $(CMOCKA_LIBS) $(SENSOR_LIBS)

$(BUILD)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(PCAP_LIBS) $(NIDS_LIBS) -lm

deps:
	@sh tools/deps.sh

# Fuzz targets: each is a libFuzzer target (clang) and, linked with
# tests/fuzz/onefile.c, a replay driver any compiler builds.
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRC_fuzz_decode := sensor/decode.c
FUZZ_SRC_fuzz_config := sensor/config.c sensor/log.c sensor/dirlist.c
FUZZ_SRC_fuzz_dns :=
FUZZ_SRC_fuzz_rules :=
FUZZ_SRC_fuzz_pcap := $(filter-out sensor/main.c,$(SENSOR_SRCS))
FUZZ_LIBS_fuzz_pcap = $(SENSOR_LIBS)
FUZZ_SRC_fuzz_detectors := sensor/decode.c
FUZZ_LIBS_fuzz_detectors := -ldl
FUZZ_PCAP_SEEDS := pcaps pcaps/linktypes pcaps/multi tests/regress \
  $(wildcard ../shared/reliability ../shared/reliability/malformed ../shared/reliability/evasion)
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 3

$(BUILD)/fuzz/%-replay: tests/fuzz/%.c tests/fuzz/onefile.c $(CORE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/$*.c tests/fuzz/onefile.c $(CORE_OBJS) $(SENSOR_LIBS)

build-fuzz/%: tests/fuzz/%.c $$(FUZZ_SRC_$$*) $(wildcard sensor/*.h tests/fuzz/*.h)
	@mkdir -p $(@D)
	clang -std=c11 -D_DEFAULT_SOURCE -Iinclude -Isensor -Itests/fuzz -g -O1 \
	  -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*) -lm

$(BUILD)/fuzz-seeds/decode: $(wildcard pcaps/*.pcap pcaps/*/*.pcap) tests/fuzz/seeds.py
	@rm -rf $@
	@python3 tests/fuzz/seeds.py $@ $(wildcard pcaps/*.pcap pcaps/*/*.pcap) >/dev/null

$(BUILD)/fuzz-seeds/dns: $(wildcard pcaps/*.pcap) tests/fuzz/seeds.py
	@rm -rf $@
	@python3 tests/fuzz/seeds.py --dns $@ $(wildcard pcaps/*.pcap) >/dev/null

# Replay the seeds through every target (part of make test).
# A replay that aborts must fail the build: log first, then show the log.
FUZZ_RUN = run() { name=$$1; shift; "$$@" >$(BUILD)/fuzz/$$name.log 2>&1 && \
	  sed "s/^/$$name: /" $(BUILD)/fuzz/$$name.log || { cat $(BUILD)/fuzz/$$name.log; exit 1; }; }; run

fuzz-replay: $(patsubst %,$(BUILD)/fuzz/%-replay,$(FUZZ_TARGETS)) $(BUILD)/fuzz-seeds/decode \
	     $(BUILD)/fuzz-seeds/dns $(PLUGINS)
	@$(FUZZ_RUN) fuzz_decode $(BUILD)/fuzz/fuzz_decode-replay $(BUILD)/fuzz-seeds/decode
	@$(FUZZ_RUN) fuzz_config $(BUILD)/fuzz/fuzz_config-replay rules tests/fuzz/config-seeds
	@$(FUZZ_RUN) fuzz_dns $(BUILD)/fuzz/fuzz_dns-replay $(BUILD)/fuzz-seeds/dns
	@$(FUZZ_RUN) fuzz_rules $(BUILD)/fuzz/fuzz_rules-replay rules tests/fuzz/rule-seeds
	@$(FUZZ_RUN) fuzz_pcap env VIGIL_BUILD=$(BUILD) $(BUILD)/fuzz/fuzz_pcap-replay \
	  $(FUZZ_PCAP_SEEDS)
	@$(FUZZ_RUN) fuzz_detectors env VIGIL_BUILD=$(BUILD) $(BUILD)/fuzz/fuzz_detectors-replay \
	  tests/fuzz/detector-seeds

# Each libFuzzer target for FUZZ_SECONDS (FUZZ_JOBS at once), then a replay
# of the corpus it grew (tests/fuzz/smoke.sh). Part of make test.
FUZZ_PLUGINS := $(patsubst %,build-fuzz/plugins/%.so,$(PLUGIN_NAMES))
fuzz-smoke: $(patsubst %,build-fuzz/%,$(FUZZ_TARGETS)) $(FUZZ_PLUGINS) \
	    $(BUILD)/fuzz-seeds/decode $(BUILD)/fuzz-seeds/dns
	@VIGIL_BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) sh tests/fuzz/smoke.sh

# cmocka exits with the failure count modulo 256 and does not count a failed
# group teardown, so a test passes only with status 0 and no ERROR line.
$(BUILD)/tests/%.ok: $(BUILD)/tests/% FORCE
	@rm -f $@
	@if VIGIL_BUILD=$(BUILD) ./$< > $<.log 2>&1 && ! grep -q '^\[  ERROR   \]' $<.log; then \
	   echo "PASS $*: $$(grep -h '^\[  PASSED  \]' $<.log)"; touch $@; \
	 else echo "FAIL $* (log: $<.log)"; sed 's/^/    /' $<.log; exit 1; fi

unit: all $(TEST_PLUGINS) $(patsubst %,%.ok,$(TESTS))

e2e: all $(TEST_PLUGINS) $(TOOLS)
	@VIGIL_BUILD=$(BUILD) VIGIL_ASAN=$(VIGIL_ASAN) sh tests/e2e/run.sh

ASAN_FLAGS := CFLAGS="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	      LDFLAGS="-fsanitize=address,undefined" VIGIL_ASAN=1

# The shared corpus, replayed by the sensor built with ASan+UBSan.
corpus-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan $(ASAN_FLAGS) all
	@VIGIL_BUILD=build-asan VIGIL_ASAN=1 sh tests/e2e/corpus_replay.sh
	@VIGIL=build-asan/vigil sh tests/e2e/corpus_scans.sh

# Everything: unit tests, seed replays, detection scores and the hardening
# suites on the release build; unit tests, seed replays and the end-to-end
# suite (which replays the shared corpus) under ASan+UBSan; then each
# fuzzer. make e2e runs the end-to-end suite on the release build.
TEST_PARTS := unit fuzz-replay eval hardening asan-suite fuzz-smoke
test: deps
	@$(MAKE) --no-print-directory all
	@rc=0; for part in $(TEST_PARTS); do t0=$$(date +%s); \
	   $(MAKE) --no-print-directory $$part || rc=1; \
	   echo "== make $$part: $$(($$(date +%s) - t0)) s"; done; exit $$rc

check-asan: deps
	@$(MAKE) --no-print-directory asan-suite

asan-suite:
	@$(MAKE) --no-print-directory BUILD=build-asan $(ASAN_FLAGS) -k unit fuzz-replay e2e

demo: deps
	@$(MAKE) --no-print-directory all $(TOOLS)
	@sh tools/demo.sh

# Resource caps under attack, allocation failure, valgrind over the libnids
# path (docs/reliability.md).
# Every tests/e2e/hardening_*.sh runs, even after one fails.
hardening: all $(TOOLS) $(TEST_PLUGINS)
	@rc=0; for t in tests/e2e/hardening_*.sh; do t0=$$(date +%s); \
	   VIGIL_BUILD=$(BUILD) VIGIL_ASAN=$(VIGIL_ASAN) sh $$t || rc=1; \
	   echo "-- $$t: $$(($$(date +%s) - t0)) s"; done; exit $$rc

# Score every detector against the shared corpus's ground truth.
eval: all
	@python3 tools/eval.py $(BUILD)/vigil $${VIGIL_SHARED:-../shared}
	@python3 tools/eval_signatures.py $(BUILD)/vigil $${VIGIL_SHARED:-../shared}

bench: deps
	@$(MAKE) --no-print-directory all $(TOOLS)
	@sh tools/bench.sh

# Every capture in pcaps/ comes from a generator: gen_pcaps and any
# tools/pcapgen_*.c (one per detector that needs captures of its own).
PCAP_GENERATORS := $(patsubst tools/%.c,$(BUILD)/tools/%,$(wildcard tools/pcapgen_*.c))
pcaps: $(BUILD)/tools/gen_pcaps $(PCAP_GENERATORS)
	$(BUILD)/tools/gen_pcaps pcaps
	@for g in $(PCAP_GENERATORS); do echo "$$g pcaps"; $$g pcaps || exit 1; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(RULESDIR) \
	  $(DESTDIR)$(INCLUDEDIR)/vigil $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0755 $(BUILD)/vigil $(DESTDIR)$(BINDIR)/vigil
	$(if $(PLUGINS),install -m 0755 $(PLUGINS) $(DESTDIR)$(PLUGINDIR)/)
	install -m 0644 rules/*.conf rules/*.rules rules/classification.config $(DESTDIR)$(RULESDIR)/
	install -m 0644 include/vigil/plugin.h $(DESTDIR)$(INCLUDEDIR)/vigil/plugin.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@PLUGINDIR@|$(PLUGINDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    vigil.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/vigil.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/vigil.pc
	install -d $(DESTDIR)$(DATADIR)/man/man8 $(DESTDIR)$(DATADIR)/man/man3
	install -m 0644 docs/vigil.8 $(DESTDIR)$(DATADIR)/man/man8/vigil.8
	install -m 0644 docs/vigil-plugin.3 $(DESTDIR)$(DATADIR)/man/man3/vigil-plugin.3
	install -d $(DESTDIR)$(LIBDIR)/systemd/system
	sed -e 's|/usr/local/bin/vigil|$(BINDIR)/vigil|g' docs/vigil.service \
	  > $(DESTDIR)$(LIBDIR)/systemd/system/vigil.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/vigil $(DESTDIR)$(INCLUDEDIR)/vigil/plugin.h \
	  $(DESTDIR)$(PKGCONFIGDIR)/vigil.pc $(DESTDIR)$(DATADIR)/man/man8/vigil.8 \
	  $(DESTDIR)$(DATADIR)/man/man3/vigil-plugin.3 $(DESTDIR)$(LIBDIR)/systemd/system/vigil.service
	rm -rf $(DESTDIR)$(PLUGINDIR)

clean:
	rm -rf build build-asan build-fuzz vigil

-include $(SENSOR_OBJS:.o=.d) $(TESTS:=.d)
