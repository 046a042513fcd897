# Launcher control plane.
#   make run      install what is missing, build, run the whole local stack (Ctrl-C stops it)
#   make test     the whole suite; last line "N passed, N failed"
#   make start / make stop   the same stack in the background
#   make lint     banned calls + warnings as errors
#   make bench    wrk through nginx, then the env of a deploy (see README, Performance)
#   make bench-agent / make bench-deploy   agent memory; deploy time vs the floor
#   make bench-db   POST /databases -> running per type vs podman run + readiness
#   make bench-backup   a 2 GB PostgreSQL backed up to local and radosgw: MB/s vs pg_dump, agent RSS
#   make bench-dnscheck   launcher-dnscheck's run time, 10,000 domains of which 100 due
#   make bench-ws   launcher-ws: print -> client latency over 10,000 lines, RSS with 1,000 streams
#   make bench-domains  custom domain: DNS records -> first HTTPS answer, launcher-dnscheck every minute
#   make bench-monitoring  CPU of the pool + PostgreSQL ingesting 1,000 applications' metrics and traffic from 10 agents
#   make bench-ingest   real Sentry SDK requests at 2,000 events/s for 10 s: none lost, API p99 idle vs under load, grouping lag
#   make bench-search  GET /search p99 with 100,000 resources in a tenant, against GET /auth/me
#   make test SANITIZE=1     the suite on an ASan/UBSan build

VERSION   := $(shell cat VERSION)
CC        ?= cc
BUILD     ?= build
PKGS      := libpq libcjson libsodium libcurl libcrypto libidn2 zlib yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Field tables are positional rows whose optional trailing members (json.h:
# options, sub, key_check, flags) stay zero: -Wno-missing-field-initializers.
WARN      := -Wall -Wextra -Wformat=2 -Wvla -Wshadow -Wno-unused-parameter \
             -Wno-missing-field-initializers -Werror
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
             -D_FORTIFY_SOURCE=2 -DLAUNCHER_VERSION='"$(VERSION)"' $(PKG_CFLAGS) -MMD -MP
LDLIBS    := -lfcgi -ljwt $(PKG_LIBS)
ifeq ($(SANITIZE),1)
BUILD     := build-san
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer -O1
CFLAGS    := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS))
LDFLAGS   += -fsanitize=address,undefined
endif

CORE_SRC  := $(wildcard fcgi/core/*.c)
API_SRC   := $(wildcard fcgi/api/*.c)
LIB_OBJ   := $(patsubst fcgi/%.c,$(BUILD)/obj/%.o,$(CORE_SRC) $(API_SRC))
BINS      := $(BUILD)/bin/launcher-fcgi $(BUILD)/bin/launcher-admin $(BUILD)/bin/launcher-scheduler \
             $(BUILD)/bin/launcher-dnscheck $(BUILD)/bin/launcher-backup $(BUILD)/bin/launcher-notify \
             $(BUILD)/bin/launcher-issues
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
STACK     := conf/stack/launcher-stack.sh

# launcher-agent: its modules (fcgi/agent/) stay out of liblauncher.a, so the
# pool never links them; it takes only util/log/arena/buf and the object
# store layer (objstore/s3: backups) from the library and needs only libcurl,
# cJSON, libcrypto (SHA-1 of the WebSocket handshake) and libsodium (the
# objects' sha256).
AGENT_SRC := $(wildcard fcgi/agent/*.c)
AGENT_OBJ := $(patsubst fcgi/%.c,$(BUILD)/obj/%.o,$(AGENT_SRC))
AGENT_LIBS := $(shell pkg-config --libs libcurl libcjson libcrypto libsodium 2>/dev/null) -lutil -lm
BINS      += $(BUILD)/bin/launcher-agent

# launcher-ws: the WebSocket daemon (fcgi/ws/), the only user of
# libwebsockets and threads.
WS_SRC    := $(wildcard fcgi/ws/*.c)
WS_OBJ    := $(patsubst fcgi/%.c,$(BUILD)/obj/%.o,$(WS_SRC))
WS_LIBS   := $(shell pkg-config --libs libwebsockets 2>/dev/null) -pthread
BINS      += $(BUILD)/bin/launcher-ws

.PHONY: all run start stop test unit lint bench bench-agent bench-deploy bench-db bench-backup bench-ws bench-dnscheck bench-domains bench-monitoring bench-ingest bench-search fuzz clean install-deps
all: $(BINS) $(UNIT_BINS)

$(BUILD)/obj/%.o: fcgi/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/lib/liblauncher.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/bin/launcher-fcgi: $(BUILD)/obj/bin/launcher_fcgi.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/launcher-admin: $(BUILD)/obj/bin/launcher_admin.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/launcher-scheduler: $(BUILD)/obj/bin/launcher_scheduler.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# launcher-dnscheck: the only user of the system resolver library (core/dns.c).
$(BUILD)/bin/launcher-dnscheck: $(BUILD)/obj/bin/launcher_dnscheck.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lresolv

$(BUILD)/bin/launcher-backup: $(BUILD)/obj/bin/launcher_backup.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# launcher-notify: the alert outbox (libcurl: webhooks, Slack, Discord, SMTP).
$(BUILD)/bin/launcher-notify: $(BUILD)/obj/bin/launcher_notify.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm

# launcher-issues: groups the error events queued by ingest into issues.
$(BUILD)/bin/launcher-issues: $(BUILD)/obj/bin/launcher_issues.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/launcher-agent: $(BUILD)/obj/bin/launcher_agent.o $(AGENT_OBJ) $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)

$(BUILD)/bin/launcher-ws: $(BUILD)/obj/bin/launcher_ws.o $(WS_OBJ) $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(WS_LIBS)

# Agent tests link the agent's objects (a shorter stem wins over the rule below).
$(BUILD)/tests/test_agent_%: tests/unit/test_agent_%.c $(AGENT_OBJ) $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ifcgi -o $@ $(filter %.c %.o %.a,$^) $(AGENT_LIBS)

# The stream test links launcher-ws's stream.o alone (it scripts the socket).
$(BUILD)/tests/test_ws_stream: tests/unit/test_ws_stream.c $(BUILD)/obj/ws/stream.o $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ifcgi -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/lib/liblauncher.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ifcgi -o $@ $(filter %.c %.a,$^) $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

install-deps:
	@bash $(STACK) install

run: install-deps
	@$(MAKE) --no-print-directory all
	@bash $(STACK) run

start: install-deps
	@$(MAKE) --no-print-directory all
	@bash $(STACK) start

stop:
	@bash $(STACK) stop

lint:
	@bash tests/lint.sh

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

test: install-deps
	@SANITIZE=$(SANITIZE) bash tests/run.sh

bench: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/bench.sh

bench-agent: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/agent_rss.sh

bench-deploy: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/deploy_time.sh

bench-db: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/db_time.sh

bench-backup: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/backup_bench.sh

bench-ws: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/ws_bench.sh

bench-dnscheck: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/dnscheck_bench.sh

bench-domains: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/domain_ttfb.sh

bench-monitoring: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/monitoring_bench.sh

bench-ingest: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/ingest_bench.sh
bench-search: install-deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/search_bench.sh

# Each parser of untrusted bytes under libFuzzer (FUZZ_SECONDS each, default 10).
fuzz: install-deps
	@bash tests/fuzz/run.sh

clean:
	rm -rf build build-san build-fuzz
