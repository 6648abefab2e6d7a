# slipway: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
TOOLS := $(BIN)/buildkitd $(BIN)/buildctl $(BIN)/registry $(BIN)/cosign $(BIN)/crane
GOTEST_FLAGS ?= -timeout 45m

.PHONY: all build tools system-packages test test-unit test-integration lint bench demo clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/slipway ./cmd/slipway

# tools: the programs the tests and the demo run, built from tools/go.mod
# (BuildKit at the same version as the client library), plus Debian's runc.
tools: system-packages $(TOOLS)

system-packages:
	@bash tools/system-packages.sh

$(BIN)/buildkitd $(BIN)/buildctl: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o $@ github.com/moby/buildkit/cmd/$(notdir $@)
$(BIN)/registry: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o $@ github.com/distribution/distribution/v3/cmd/registry
$(BIN)/cosign: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o $@ github.com/sigstore/cosign/v2/cmd/cosign
$(BIN)/crane: tools/go.mod tools/go.sum
	cd tools && $(GO) build -o $@ github.com/google/go-containerregistry/cmd/crane
# Trivy has its own module (tools/trivy) so that its dependencies cannot move
# BuildKit's, cosign's or the registry's; Go 1.26 needs the jsonv2 experiment
# for it. About 6 minutes on a new machine: test and bench need it, demo not.
$(BIN)/trivy: tools/trivy/go.mod tools/trivy/go.sum
	cd tools/trivy && GOEXPERIMENT=jsonv2 $(GO) build -o $@ github.com/aquasecurity/trivy/cmd/trivy

# test: everything, unit and integration, with the real programs.
test: tools $(BIN)/trivy build lint
	SLIPWAY_REQUIRE_TOOLS=1 SLIPWAY_BIN=$(BIN)/slipway $(GO) test $(GOTEST_FLAGS) ./...

# test-unit: the fast tests; those that need real programs skip under -short.
test-unit:
	$(GO) test -short ./...

# test-integration: the end-to-end tests of the built binary.
test-integration: tools $(BIN)/trivy build
	SLIPWAY_REQUIRE_TOOLS=1 SLIPWAY_BIN=$(BIN)/slipway $(GO) test $(GOTEST_FLAGS) ./integration/...

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' | grep -v '^examples/\|^tools/')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: tools $(BIN)/trivy build
	BIN=$(BIN) bash internal/bench/run.sh

demo: tools build
	BIN=$(BIN) bash internal/demo/demo.sh

clean:
	rm -rf $(BIN)
