# gomha: `make sandbox` watches gomha on a local three-host lab; `make test` runs every test.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: all build test unit lab-deps sandbox vet fmt-check bench clean

all: build

build:
	$(GO) build ./...

# Installs the Debian packages the lab needs (mariadb-server, openssh, keepalived, iproute2) when missing.
lab-deps:
	bash integration/install-deps.sh

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Unit tests only: no servers, no root needed.
unit:
	$(GO) test ./...

# Every test: unit tests and the integration tests against real MariaDB and sshd in network namespaces.
test: lab-deps vet fmt-check
	GOMHA_LAB=1 $(GO) test -p 1 -timeout 45m ./...

sandbox: lab-deps
	$(GO) run ./integration/cmd/sandbox

clean:
	$(GO) clean -testcache
