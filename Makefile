# gomha: `make sandbox` watches gomha on a local three-host lab; `make test` runs every test.
GO ?= go
export GOFLAGS ?= -buildvcs=false

.PHONY: all build test unit race lab-deps lab-consul sandbox vet fmt-check bench bench-relaylog clean

all: build

build:
	$(GO) build ./...
	$(GO) build -o bin/mha ./cmd/mha
	$(GO) build -o bin/mha-node ./cmd/mha-node

# Installs the Debian packages the lab needs (mariadb-server, openssh, keepalived, iproute2) when missing.
lab-deps:
	bash integration/install-deps.sh

# Builds the lab's Consul agent once (minutes; cached in /var/cache/gomha-lab): the tests' Consul
# runbooks and `make sandbox SANDBOX_FLAGS=--consul` need it, the default sandbox does not.
lab-consul: lab-deps
	GOMHA_LAB=1 $(GO) test -count=1 -timeout 30m -run '^TestEnsureConsul$$' ./integration/lab/

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Unit tests only: no servers, no root needed.
unit:
	$(GO) test ./...

# The unit packages under the race detector, without the lab (GOMHA_LAB unset: their lab tests skip).
race:
	env -u GOMHA_LAB $(GO) test -race -timeout 20m ./manager/... ./node/... ./cmd/...

# Every test: the unit packages under -race, then every package (the integration tests and the unit
# packages' lab tests) against real MariaDB and sshd in network namespaces.
test: lab-deps lab-consul vet fmt-check race
	GOMHA_LAB=1 $(GO) test -p 1 -timeout 60m ./...

# Brings up three namespaced MariaDB+sshd hosts, runs gomha against them, and tears everything down.
sandbox: lab-deps build
	$(GO) run ./integration/cmd/sandbox --mha bin/mha --mha-node bin/mha-node $(SANDBOX_FLAGS)

# Benchmarks print figures; they are never timed pass/fail tests.
bench: bench-relaylog
	$(GO) test -run '^$$' -bench . ./node/...

# Position-finding scan of a >= 200 MB relay log from the lab, beside mariadb-binlog on the same file.
bench-relaylog: lab-deps
	GOMHA_LAB=1 $(GO) test -run '^$$' -bench RelayLogScan -benchtime 3x -timeout 20m ./integration/

clean:
	$(GO) clean -testcache

# Online switch under an insert load: >= 10 switches db1 <-> db2, the write block seen by the writer (min/median/p95) and lost writes.
.PHONY: bench-switch
bench-switch: lab-deps
	GOMHA_LAB=1 $(GO) test -run '^$$' -bench Switch -benchtime 1x -timeout 20m ./integration/

# Dead-master failover under an insert load: 10 kill -9 trials and 5 pulled-cable trials, fault -> first write on the new master and through the VIP (min/median/p95) and lost writes.
.PHONY: bench-failover
bench-failover: lab-deps
	GOMHA_LAB=1 $(GO) test -run '^$$' -bench Failover -benchtime 1x -timeout 30m ./integration/

# The fault matrix under the probers (kill, cable, sigstop, manager-link-only, lag), each scenario on fresh labs:
# median fault -> first write on the new master, acknowledged writes lost, moments with two writable masters,
# false failovers. GOMHA_BENCH_TRIALS sets the trials per scenario (default 5).
.PHONY: bench-faults
bench-faults: lab-deps
	GOMHA_LAB=1 $(GO) test -run '^$$' -bench FaultMatrix -benchtime 1x -timeout 60m ./integration/

# Failover speed (issue 11): kill -9, pulled cable (with and without fence_lease), SIGSTOP, a lagging candidate;
# per scenario min/median/max fault -> write through the VIP and on the new master, verdict and phase medians,
# lost writes, and for lag the replica's own SQL-thread catch-up time. GOMHA_BENCH_TRIALS sets the trials (default 5).
.PHONY: bench-speed
bench-speed: lab-deps
	GOMHA_LAB=1 $(GO) test -run '^$$' -bench FailoverSpeed -benchtime 1x -timeout 80m ./integration/

# The manager's RSS and CPU monitoring 1 and 20 clusters (40 mariadbd in one lab).
.PHONY: bench-footprint
bench-footprint: lab-deps
	GOMHA_LAB=1 $(GO) test -run '^$$' -bench ManagerFootprint -benchtime 1x -timeout 30m ./integration/
