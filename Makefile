# sclogon: `make demo` shows a smart-card logon; `make test` installs what the
# tests need and runs them all.

GO       ?= go
FUZZTIME ?= 10s
FUZZPKGS ?= ./...
BIN      := bin/sclogon

.PHONY: all build build-pam demo test setup vet lint bench fuzz clean install uninstall

all: build

build:
	$(GO) build -o $(BIN) ./cmd/sclogon

# pam_sclogon.so, the PAM module that runs `sclogon pam --module` (C, so no Go
# runtime is loaded into login, sshd or a display manager). Needs gcc and
# libpam0g-dev; install it into the PAM module directory
# (/lib/x86_64-linux-gnu/security on Debian) by hand.
build-pam:
	mkdir -p bin
	$(CC) -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -o bin/pam_sclogon.so pam/module/pam_sclogon.c -lpam

# Installs bin/sclogon, its man pages and its bash and zsh completions, all
# generated from 'sclogon help' by the binary itself, and the KDC's systemd
# unit with its sysusers.d and tmpfiles.d entries (dist/systemd). PREFIX and
# DESTDIR as usual: make install PREFIX=$HOME/.local (no root), or
# DESTDIR=pkgroot to package.
PREFIX  ?= /usr/local
DESTDIR ?=
bindir   = $(DESTDIR)$(PREFIX)/bin
man1dir  = $(DESTDIR)$(PREFIX)/share/man/man1
bashdir  = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
zshdir   = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
unitdir     = $(DESTDIR)$(PREFIX)/lib/systemd/system
sysusersdir = $(DESTDIR)$(PREFIX)/lib/sysusers.d
tmpfilesdir = $(DESTDIR)$(PREFIX)/lib/tmpfiles.d

install: build
	rm -rf $(BIN).doc && mkdir -p $(BIN).doc/man
	$(BIN) gen-man $(BIN).doc/man
	$(BIN) gen-completion bash > $(BIN).doc/sclogon.bash
	$(BIN) gen-completion zsh > $(BIN).doc/_sclogon
	install -d $(bindir) $(man1dir) $(bashdir) $(zshdir)
	install -m 0755 $(BIN) $(bindir)/sclogon
	install -m 0644 $(BIN).doc/man/*.1 $(man1dir)
	install -m 0644 $(BIN).doc/sclogon.bash $(bashdir)/sclogon
	install -m 0644 $(BIN).doc/_sclogon $(zshdir)/_sclogon
	sed 's|@bindir@|$(PREFIX)/bin|g' dist/systemd/sclogon-kdc.service > $(BIN).doc/sclogon-kdc.service
	install -d $(unitdir) $(sysusersdir) $(tmpfilesdir)
	install -m 0644 $(BIN).doc/sclogon-kdc.service $(unitdir)/sclogon-kdc.service
	install -m 0644 dist/systemd/sclogon-kdc.sysusers $(sysusersdir)/sclogon-kdc.conf
	install -m 0644 dist/systemd/sclogon-kdc.tmpfiles $(tmpfilesdir)/sclogon-kdc.conf

uninstall:
	rm -f $(bindir)/sclogon $(man1dir)/sclogon.1 $(man1dir)/sclogon-*.1 \
	  $(bashdir)/sclogon $(zshdir)/_sclogon \
	  $(unitdir)/sclogon-kdc.service $(sysusersdir)/sclogon-kdc.conf $(tmpfilesdir)/sclogon-kdc.conf

# The demo needs only Go: no cgo, no pcscd, no root.
demo:
	CGO_ENABLED=0 $(GO) run ./cmd/sclogon demo

# Installs the Debian packages the integration tests start (as root or via sudo).
setup:
	./integration/setup

test: setup lint build-pam
	$(GO) test -race -count=1 -timeout 14m ./...
	# The race detector slows a flood fivefold: the full 50,000-request flood
	# and the 20,000 idle connections run once more without it.
	$(GO) test -count=1 -run 'TestMalformedFlood|TestIdleConnections' ./kdc/
	GO=$(GO) ./integration/lab-test

# staticcheck comes from the Go module proxy, at a pinned version.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Measures sclogon's KDC against MIT krb5kdc, the crypto limit and a card
# logon's APDUs, and writes BENCHMARKS.md (minutes; see bench/).
# BENCHFLAGS passes options, e.g. BENCHFLAGS='-runs 5 -duration 10s'.
BENCHFLAGS ?=
# The revision the "before" profile is of: the tree before issue 22's
# constant-time DH and trimmed hot path. Empty: no before profile.
BENCH_BASELINE ?= dbcde22
BENCH_BASELINE_DIR := $(or $(TMPDIR),/tmp)/sclogon-bench-baseline

bench: build
	$(GO) build -o bin/kdcprofile ./bench/cmd/kdcprofile
	rm -rf $(BENCH_BASELINE_DIR) bin/kdcprofile-baseline
	if [ -n "$(BENCH_BASELINE)" ]; then mkdir -p $(BENCH_BASELINE_DIR) && git archive $(BENCH_BASELINE) | tar -x -C $(BENCH_BASELINE_DIR) && \
		(cd $(BENCH_BASELINE_DIR) && $(GO) build -o $(CURDIR)/bin/kdcprofile-baseline ./bench/cmd/kdcprofile); fi
	$(GO) run ./bench/cmd/benchreport -sclogon $(BIN) -kdcprofile bin/kdcprofile \
		$(if $(BENCH_BASELINE),-kdcprofile-before bin/kdcprofile-baseline -baseline $(BENCH_BASELINE)) -o BENCHMARKS.md $(BENCHFLAGS)

# Runs every fuzz target briefly (FUZZTIME each; FUZZPKGS narrows, e.g.
# FUZZPKGS='./kdc/...' FUZZTIME=5m for the KDC's targets). Minimising a large
# seed is capped at 5 s, or the exec counter seems to stall on it.
fuzz:
	@set -e; for pkg in $$($(GO) list $(FUZZPKGS)); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
