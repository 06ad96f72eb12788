# Meldeweg: the two commands a new user needs are "make demo" and "make test".
GO      ?= go
BIN     := bin/meldeweg
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build demo test bench fuzz soak clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/meldeweg

# demo runs the main job on embedded defaults.
demo: build
	@echo "== schema bundles =="
	./$(BIN) schemas list
	@echo
	@echo "== validating the example bundle's documents (one valid, one invalid) =="
	-./$(BIN) --schema-dir testdata/bundles validate --bundle example@1.0 testdata/example/valid.xml testdata/example/invalid.xml

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# bench measures speed and memory against xmllint/openssl in the same run.
bench: build
	MELDEWEG_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 120m ./...

clean:
	rm -rf bin
