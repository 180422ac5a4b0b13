# Mosaic: `make run` starts the whole system; `make test` runs the tests (real PostgreSQL, real NATS).
GO      ?= go
BIN     := bin/mosaic
ARGS    ?=

.PHONY: build run test bench lint clean

build:
	$(GO) build -o $(BIN) ./cmd/mosaic

## run: the whole system in one process (embedded NATS, a local PostgreSQL under .mosaic/). ARGS="--workers 8"
run: build
	./$(BIN) dev $(ARGS)

## test: every test, against throwaway PostgreSQL clusters and embedded NATS servers; every
## benchmark runs once too, so that none rots (their figures are not asserted).
test:
	$(GO) test -count=1 -timeout 20m -bench . -benchtime 1x ./...

## bench: the hot-path benchmarks, then Mosaic side by side with raw JetStream and River
## (bench/, a module of its own). BENCH_ARGS="-runs 5 -tasks 100000"; see docs/benchmarks.md.
BENCH_ARGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./events/ ./store/
	cd bench && $(GO) run . $(BENCH_ARGS)

## lint: formatting and vet.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-ed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
