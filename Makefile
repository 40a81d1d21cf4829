# make test: install and start what the tests need, then run every test
# with every real component required (a missing one fails, never skips).
GO ?= go
export BAKC_TEST_REQUIRE_ALL = 1

.PHONY: test test-short build example bench

build:
	$(GO) build -o bakc ./cmd/bakc

test:
	./scripts/test-setup.sh
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

# Tests that need no installed component; real components are skipped.
test-short:
	BAKC_TEST_REQUIRE_ALL= $(GO) test -short ./...

example:
	$(GO) run ./cmd/bakc compile examples/homelab/hosts/forge.hcl
