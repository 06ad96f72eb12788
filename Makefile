# Meldeweg: the two commands a new user needs are "make demo" and "make test".
GO      ?= go
BIN     := bin/meldeweg
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# The demo works in DEMO (made anew each time) for Träger 12345 and last
# month, on embedded defaults: SQLite register, test PKI, no configuration.
DEMO    ?= demo
TRAEGER := 12345
MONTH   := $(shell date -u -d "$$(date -u +%Y-%m-01) -1 month" +%Y-%m)

# Each recipe runs in one shell that stops at the first failing command.
.ONESHELL:
.SHELLFLAGS := -ec

.PHONY: build demo demo-console test bench fuzz soak clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/meldeweg

# demo runs the main job: a monthly XSozial delivery and an eM@w exchange
# with the BA simulator on loopback, then the register and its verification.
demo: build
	@mw() { echo "\$$ meldeweg $$*" >&2; ./$(BIN) "$$@"; }
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	echo "== 1. A test PKI (marked test-only) and synthetic source records of Träger $(TRAEGER) for $(MONTH)"
	mw pki init $(DEMO)/pki >/dev/null
	mw testdata xsozial --bgs 500 --seed 1 --month $(MONTH) --traeger $(TRAEGER) --out $(DEMO)/src
	echo
	echo "== 2. The BA simulator on loopback (mTLS; it opens, checks and answers like the BA)"
	./$(BIN) sim --pki $(DEMO)/pki --dir $(DEMO)/sim --listen 127.0.0.1:0 --ready-file $(DEMO)/sim.url > $(DEMO)/sim.log 2>&1 &
	SIM=$$!; trap 'kill $$SIM 2>/dev/null || true' EXIT
	for i in $$(seq 100); do [ -s $(DEMO)/sim.url ] && break; sleep 0.1; done
	[ -s $(DEMO)/sim.url ] || { cat $(DEMO)/sim.log; exit 1; }
	URL=$$(cat $(DEMO)/sim.url)
	echo "simulator at $$URL"
	BA="--pki $(DEMO)/pki --url $$URL --register $(DEMO)/register.db"
	echo
	echo "== 3. The monthly XSozial delivery: build, check, seal, send, await feedback, record"
	mw xsozial run --month $(MONTH) --traeger $(TRAEGER) --in $(DEMO)/src --work $(DEMO)/out $$BA
	echo
	echo "== 4. Run it again: nothing to do"
	mw xsozial run --month $(MONTH) --traeger $(TRAEGER) --in $(DEMO)/src --work $(DEMO)/out $$BA
	echo
	echo "== 5. eM@w: three events built and validated, packed, sealed, sent; the acknowledgement and the Anmeldungen collected; deadlines from the register"
	mkdir -p $(DEMO)/emaw
	for t in Eintritt AnwesenheitMonat Planung; do mw emaw new $$t --in testdata/emaw/events/out/$$t.json --out $(DEMO)/emaw/EX-$$t.xml; done
	mw emaw pack --out $(DEMO)/emaw/upload.zip $(DEMO)/emaw/EX-Eintritt.xml $(DEMO)/emaw/EX-AnwesenheitMonat.xml $(DEMO)/emaw/EX-Planung.xml
	mw send $(DEMO)/emaw/upload.zip --channel emaw $$BA
	sleep 1
	mw poll --channel emaw $$BA
	echo
	echo "The table above is today's eM@w deadlines from the register. The sample measure runs until"
	echo "2026-12-18 and only February's attendance was sent, so every later month is overdue once"
	echo "the 9th of the month after it has passed. poll exits 0 all the same (everything offered was"
	echo "recorded); \"emaw due\" prints the same table and exits 1 when a report is overdue, for a daily check:"
	echo "\$$ meldeweg emaw due --register $(DEMO)/register.db --pki $(DEMO)/pki > /dev/null" >&2
	rc=0; ./$(BIN) emaw due --register $(DEMO)/register.db --pki $(DEMO)/pki > /dev/null || rc=$$?
	case $$rc in
	1) echo "exit 1: reports are overdue" ;;
	0) echo "exit 0: nothing is overdue" ;;
	*) echo "exit $$rc: emaw due failed" >&2; exit 1 ;;
	esac
	echo
	echo "== 6. The register, and its verification"
	mw register list --register $(DEMO)/register.db
	mw register verify --register $(DEMO)/register.db
	echo
	echo "== 7. Two tenants (Träger 12345 and 54321): each its own register and key-encryption key; one's data is refused under the other"
	mkdir -p $(DEMO)/keks && chmod 0700 $(DEMO)/keks
	openssl rand -hex 32 > $(DEMO)/keks/kreis-a.kek && chmod 0400 $(DEMO)/keks/kreis-a.kek
	DEMO_KEK_B=$$(openssl rand -hex 32); export DEMO_KEK_B
	printf '%s\n' '{"tenants": {' \
	  '  "kreis-a": {"traeger": "12345", "register": "kreis-a/register.db", "kek_file": "keks/kreis-a.kek", "massnahmen": ["123/21/1/26"]},' \
	  '  "kreis-b": {"traeger": "54321", "register": "kreis-b/register.db", "kek_env": "DEMO_KEK_B", "massnahmen": ["99999999"]}' \
	  '}}' > $(DEMO)/tenants.json
	cat $(DEMO)/tenants.json
	T="--config $(DEMO)/tenants.json --pki $(DEMO)/pki --url $$URL"
	mkdir -p $(DEMO)/tenants
	mw xsozial build --traeger $(TRAEGER) --month $(MONTH) --in $(DEMO)/src --out $(DEMO)/tenants/XSOZIAL_$(TRAEGER)_$(MONTH)_P.xml
	rc=0; mw --tenant kreis-b send $(DEMO)/tenants/XSOZIAL_$(TRAEGER)_$(MONTH)_P.xml --channel xsozial $$T || rc=$$?
	[ $$rc = 1 ] || { echo "exit $$rc: expected the refusal (exit 1)" >&2; exit 1; }
	echo "exit 1: Träger $(TRAEGER)'s dataset refused under tenant kreis-b before anything was sealed"
	mw --tenant kreis-a send $(DEMO)/emaw/upload.zip --channel emaw --message-id demo-kreis-a-1 $$T
	mw --tenant kreis-a keys list --config $(DEMO)/tenants.json
	mw --tenant kreis-a register verify --config $(DEMO)/tenants.json
	echo
	echo "== 8. The service: meldeweg serve runs the jobs on their schedules (here every 2 seconds) until SIGTERM"
	printf '%s\n' '{"traeger": "$(TRAEGER)", "xsozial_source": "src", "work_dir": "out",' \
	  ' "service": {"health_listen": "127.0.0.1:0", "grace_period": "10s",' \
	  '  "jobs": {"xsozial_monthly": {"schedule": "@every 2s"}, "emaw": {"schedule": "@every 2s"}, "daily_checks": {"disabled": true}}}}' > $(DEMO)/serve.json
	cat $(DEMO)/serve.json
	echo "\$$ meldeweg serve --config $(DEMO)/serve.json $$BA   (logs in $(DEMO)/serve.log)" >&2
	./$(BIN) serve --config $(DEMO)/serve.json $$BA 2> $(DEMO)/serve.log &
	SERVE=$$!
	for i in $$(seq 100); do grep -q '"run finished".*"job":"emaw-exchange"' $(DEMO)/serve.log 2>/dev/null && grep -q '"run finished".*"job":"xsozial-monthly' $(DEMO)/serve.log && break; sleep 0.1; done
	HEALTH=$$(sed -n 's/.*"health":"\([^"]*\)".*/\1/p' $(DEMO)/serve.log | head -1)
	echo "health listener at $$HEALTH"
	if command -v curl >/dev/null 2>&1; then
	  curl -s "http://$$HEALTH/readyz"; echo
	  curl -s "http://$$HEALTH/metrics" | grep -E '^meldeweg_(job_runs_total|outbox_messages\{channel="xsozial",state="acknowledged"\})' || true
	else
	  echo "(curl is not installed: see http://$$HEALTH/readyz and /metrics)"
	fi
	grep '"run finished"' $(DEMO)/serve.log | head -4
	kill -TERM $$SERVE
	wait $$SERVE
	echo "serve stopped cleanly (exit 0)"
	mw status --register $(DEMO)/register.db --pki $(DEMO)/pki || [ $$? -eq 1 ]

# demo-console runs the demo, then serves the web console on its register
# (with the simulator on loopback again) until interrupted (Ctrl-C). It
# makes one demo login per role with a fresh random password, printed once.
CONSOLE_LISTEN ?= 127.0.0.1:8443
demo-console: demo
	@echo
	echo "== 7. The web console on the demo register"
	./$(BIN) sim --pki $(DEMO)/pki --dir $(DEMO)/sim --listen 127.0.0.1:0 --ready-file $(DEMO)/sim.url > $(DEMO)/sim.log 2>&1 &
	SIM=$$!; trap 'kill $$SIM 2>/dev/null || true' EXIT
	for i in $$(seq 100); do [ -s $(DEMO)/sim.url ] && break; sleep 0.1; done
	[ -s $(DEMO)/sim.url ] || { cat $(DEMO)/sim.log; exit 1; }
	(umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > $(DEMO)/demo-password)
	for r in operator auditor caseworker admin; do
	  ./$(BIN) users add demo-$$r --role $$r --massnahme '*' --users $(DEMO)/users.json --password-file $(DEMO)/demo-password >/dev/null
	done
	echo "simulator at $$(cat $(DEMO)/sim.url) (meldeweg poll --pki $(DEMO)/pki --url $$(cat $(DEMO)/sim.url) --register $(DEMO)/register.db)"
	echo "demo logins: demo-operator, demo-auditor, demo-caseworker, demo-admin"
	echo "password (this run only): $$(cat $(DEMO)/demo-password)"
	echo "the certificate is self-signed for this demo: your browser will warn. Stop with Ctrl-C."
	./$(BIN) console --insecure-self-signed --listen $(CONSOLE_LISTEN) --pki $(DEMO)/pki --register $(DEMO)/register.db --users $(DEMO)/users.json

# FUZZ lists the fuzz targets as package:target:executions. make test runs
# each for that many executions (a few seconds here), not for a duration: a
# duration-based -fuzztime can fail with "context deadline exceeded" when it
# expires while a worker is busy (golang/go#75804, fixed in Go 1.27), which
# is a toolchain race, not a finding. A real finding fails and writes its
# input to the package's testdata/fuzz.
FUZZ := ./emaw/msg:FuzzUnmarshal:50000x ./emaw/msg:FuzzDecode:100000x ./emaw/pack:FuzzOpen:20000x \
	./transport/cms:FuzzOpen:100000x ./transport/cms:FuzzOpenSigned:5000x ./xsozial/feedback:FuzzParse:20000x
fuzzrun = for f in $(FUZZ); do pkg=$${f%%:*}; t=$${f\#*:}; n=$${t\#*:}; t=$${t%%:*}; \
	$(GO) test $$pkg -run '^$$' -fuzz "^$$t$$" -fuzztime $(1) -fuzzminimizetime $(2) || exit 1; done

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(call fuzzrun,$$n,1000x)

# fuzz runs every fuzz target longer.
fuzz:
	$(call fuzzrun,5m,10s)

# soak runs the SIGKILL crash test of "meldeweg send" with 50 rounds.
soak:
	MELDEWEG_SOAK_ROUNDS=50 $(GO) test -count=1 -timeout 60m -run TestSendSurvivesSIGKILL ./cmd/meldeweg

# bench measures speed and memory against xmllint/openssl in the same run.
bench: build
	MELDEWEG_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 120m ./...

clean:
	rm -rf bin $(DEMO)
