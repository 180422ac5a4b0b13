# Mosaic: `make run` starts the whole system; `make test` runs the tests (real PostgreSQL, real NATS).
GO      ?= go
BIN     := bin/mosaic
ARGS    ?=

.PHONY: build run test bench fuzz chaos lint clean

# The version and commit that `mosaic version` prints and agents report (from git, when there is one).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/mosaic

## run: the whole system in one process (embedded NATS, a local PostgreSQL under .mosaic/). ARGS="--workers 8"
run: build
	./$(BIN) dev $(ARGS)

## test: every test, against throwaway PostgreSQL clusters and embedded NATS servers; every
## benchmark runs once too, so that none rots (their figures are not asserted). Then the binary
## is cross-compiled for the other supported platforms (PLATFORMS), so that none stops building.
PLATFORMS ?= darwin/amd64 darwin/arm64 linux/arm64
test:
	$(GO) test -count=1 -timeout 20m -bench . -benchtime 1x ./...
	@for p in $(PLATFORMS); do \
		echo "cross-compile ./cmd/mosaic for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -o /dev/null ./cmd/mosaic || exit 1; \
	done

## bench: the hot-path benchmarks, then Mosaic side by side with raw JetStream and River
## (bench/, a module of its own). BENCH_ARGS="-runs 5 -tasks 100000"; see docs/benchmarks.md.
BENCH_ARGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./events/ ./store/
	cd bench && $(GO) run . $(BENCH_ARGS)

## fuzz: every fuzz target of the module, one after another, for FUZZTIME each; a failing input
## lands in its package's testdata/fuzz/, which `make test` replays. FUZZTIME=2m FUZZ_ARGS=
## (-parallel 1 by default: each fuzzing process of api/ starts a PostgreSQL of its own).
FUZZTIME ?= 30s
FUZZ_ARGS ?= -parallel 1
fuzz:
	@for dir in $$($(GO) list -f '{{.Dir}}' ./...); do \
		for fz in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$dir/*_test.go 2>/dev/null); do \
			echo "== $$fz ($$dir)"; \
			$(GO) test -run '^$$' -fuzz "^$$fz\$$" -fuzztime $(FUZZTIME) $(FUZZ_ARGS) $$dir || exit 1; \
		done; \
	done

## chaos: many tasks on several worker processes, random SIGKILLs, then the exactly-once verdict
## (lost, doubled). CHAOS_TASKS, CHAOS_KILLS, CHAOS_WORKERS; `make test` runs a small one.
CHAOS_TASKS ?= 3000
CHAOS_KILLS ?= 20
CHAOS_WORKERS ?= 4
chaos:
	MOSAIC_CHAOS_TASKS=$(CHAOS_TASKS) MOSAIC_CHAOS_KILLS=$(CHAOS_KILLS) MOSAIC_CHAOS_WORKERS=$(CHAOS_WORKERS) \
		$(GO) test -count=1 -timeout 60m -run '^TestChaos$$' -v ./cmd/mosaic/

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
