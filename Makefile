# trainwatch's build entry points. Version stamping and the per-architecture
# cgo choice live in scripts/release.sh, which both build and release use.

GO ?= go
DIST ?= dist
ARCHES ?= amd64 arm64
# auto: cgo (NVML) where a C compiler for the architecture is here, else a
# warning and a build without NVML; on: fail instead (published releases).
CGO ?= auto

.PHONY: build test release clean

## build: ./trainwatch for this machine, version-stamped
build:
	$(GO) build -trimpath -ldflags "$$(bash scripts/release.sh --print-ldflags)" -o trainwatch ./cmd/trainwatch

## test: the whole test suite (gofmt, vet, staticcheck, go test -race), as CI runs it
test:
	bash scripts/test

## release: $(DIST)/trainwatch-linux-{amd64,arm64} and $(DIST)/SHA256SUMS
release:
	bash scripts/release.sh --out $(DIST) --arch "$(ARCHES)" --cgo $(CGO)

clean:
	rm -rf $(DIST) trainwatch
