#!/usr/bin/env bash
# Builds trainwatch release binaries: one per Linux architecture, into
# --out (default dist/) as trainwatch-linux-ARCH, with SHA256SUMS beside
# them (check with: cd dist && sha256sum -c SHA256SUMS). `make release`
# and `make build` call this script; it is the one place the version
# stamping (-ldflags -X main.version/commit/date) is defined.
#
# cgo: NVIDIA GPUs are read through NVML, which go-nvml loads with dlopen
# from cgo; a binary built without cgo runs everywhere but reports
# trainwatch_gpu_backend_up{backend="nvml"} 0 ("built without cgo"). So
# each architecture is built with cgo when a C compiler for it is here:
# gcc for the host's architecture, ARCH-linux-gnu-gcc for another one
# (Debian, for arm64 on amd64: apt-get install gcc-aarch64-linux-gnu
# libc6-dev-arm64-cross).
# --cgo auto (default) builds without cgo, with a warning, when there is no
# such compiler; --cgo on fails instead (use it for published releases);
# --cgo off never uses cgo. A cgo binary links to glibc dynamically and
# needs at least the glibc version of the machine that built it.
#
# Usage:
#   scripts/release.sh [--arch "amd64 arm64"] [--out dist] [--cgo auto|on|off]
#                      [--version V] [--commit C] [--date D]
#   scripts/release.sh --print-ldflags    # the -ldflags value, for go build
#
# Defaults: version from `git describe --tags --always --dirty`, commit from
# `git rev-parse HEAD` ("dev" and "unknown" outside a git checkout), date
# from SOURCE_DATE_EPOCH if set (reproducible builds), else now, in UTC
# RFC 3339.
set -euo pipefail
cd "$(dirname "$0")/.."

arches="amd64 arm64"
out=dist
cgo=auto
version=""
commit=""
date=""
print_ldflags=false

die() { echo "release.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --arch) [ $# -ge 2 ] || die "--arch needs a value"; arches="${2//,/ }"; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a value"; out="$2"; shift 2 ;;
    --cgo) [ $# -ge 2 ] || die "--cgo needs a value"; cgo="$2"; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a value"; version="$2"; shift 2 ;;
    --commit) [ $# -ge 2 ] || die "--commit needs a value"; commit="$2"; shift 2 ;;
    --date) [ $# -ge 2 ] || die "--date needs a value"; date="$2"; shift 2 ;;
    --print-ldflags) print_ldflags=true; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case "$cgo" in auto|on|off) ;; *) die "--cgo $cgo: want auto, on or off" ;; esac

if [ -z "$version" ]; then
  version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
fi
if [ -z "$commit" ]; then
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
fi
if [ -z "$date" ]; then
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  else
    date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  fi
fi
for v in "$version" "$commit" "$date"; do
  case "$v" in
    ''|*[[:space:]\'\"\\]*) die "version, commit and date must be non-empty, without spaces, quotes or backslashes: got \"$v\"" ;;
  esac
done

# -s -w: no symbol table or DWARF (a third of the size); panics still
# print function names and lines.
ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date"
if $print_ldflags; then
  echo "$ldflags"
  exit 0
fi

hostarch=$(go env GOHOSTARCH)
triple() {
  case "$1" in
    amd64) echo x86_64-linux-gnu ;;
    arm64) echo aarch64-linux-gnu ;;
    *) echo "" ;;
  esac
}

# go-nvml's nvml.h marks many NVML calls deprecated; trainwatch does not
# call them, and the warnings would bury the build's own output.
cflags="${CGO_CFLAGS:--O2 -g} -Wno-deprecated-declarations"

mkdir -p "$out"
built=()
for arch in $arches; do
  case "$arch" in amd64|arm64) ;; *) die "--arch $arch: want amd64 or arm64" ;; esac
  cc=""
  if [ "$cgo" != off ]; then
    if [ "$arch" = "$hostarch" ]; then
      cc=$(go env CC)
      cc=${cc:-gcc}
    else
      cc="$(triple "$arch")-gcc"
    fi
    if ! command -v "${cc%% *}" >/dev/null 2>&1; then
      if [ "$cgo" = on ]; then
        die "no C compiler $cc for linux/$arch, which NVML support (cgo) needs (Debian: apt-get install gcc-$(triple "$arch") libc6-dev-$arch-cross); --cgo auto builds it without NVML"
      fi
      echo "WARNING: no C compiler $cc for linux/$arch: trainwatch-linux-$arch is built WITHOUT cgo and cannot read NVIDIA GPUs (NVML); for NVML support install gcc-$(triple "$arch") and libc6-dev-$arch-cross (Debian) and build again" >&2
      cc=""
    fi
  fi
  bin="trainwatch-linux-$arch"
  if [ -n "$cc" ]; then
    env GOOS=linux GOARCH="$arch" CGO_ENABLED=1 CC="$cc" CGO_CFLAGS="$cflags" \
      go build -trimpath -ldflags "$ldflags" -o "$out/$bin" ./cmd/trainwatch
  else
    env GOOS=linux GOARCH="$arch" CGO_ENABLED=0 \
      go build -trimpath -ldflags "$ldflags" -o "$out/$bin" ./cmd/trainwatch
  fi
  built+=("$bin")
  size=$(stat -c %s "$out/$bin")
  printf '%s/%s\tlinux/%s\tcgo=%s\t%d bytes (%d MiB)\n' "$out" "$bin" "$arch" \
    "$([ -n "$cc" ] && echo on || echo off)" "$size" $(( (size + 524288) / 1048576 ))
done

(cd "$out" && sha256sum "${built[@]}" > SHA256SUMS)
echo "$out/SHA256SUMS"
echo "version $version, commit $commit, date $date"
