"""Serving containers through the Docker SDK: engine reachable, image present, always removed.

The container stage of the deployment guides (`docker run --name ... --device ... -v ...`)
as a library: `prepare` checks that the engine answers and that the image is on the
host (loading the profile's `docker save` tarball when it is not: no registry is ever
asked), and `running_container` starts the serve argv in a container, streams its log to
a file and removes the container when the block ends, on an error, on Ctrl-C and on
SIGTERM.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container

from deploy_helpers.errors import SuiteError
from deploy_helpers.paths import REPO_ROOT
from deploy_helpers.serve.plan import ContainerSpec
from deploy_helpers.signals import sigterm_raises_interrupt

LABEL = "llm-serving-acceptance"  # every container the suite starts carries this label
STOP_GRACE_S = 20


@dataclass(frozen=True)
class PreparedImage:
    """A reachable Docker engine and the id of an image that is on the host."""

    client: docker.DockerClient
    image: str
    image_id: str


def docker_client() -> docker.DockerClient:
    """A client of the local Docker engine, or a one-line error saying how to start one."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        reason = str(exc).splitlines()[0][:160]
        raise SuiteError(
            f"Docker engine not reachable ({reason}): start dockerd (./setup.sh starts it)"
        ) from None
    return client


def resolve_tarball(tarball: str | None) -> Path | None:
    """The profile's `image_tarball` as a path (relative paths are relative to the repo)."""
    if not tarball:
        return None
    path = Path(tarball)
    return path if path.is_absolute() else REPO_ROOT / path


def prepare(image: str, tarball: str | None, profile: str) -> PreparedImage:
    """Make sure `image` is on the host, `docker load`-ing `tarball` if needed; never pull."""
    client = docker_client()
    path = resolve_tarball(tarball)
    with suppress(docker.errors.ImageNotFound):
        return PreparedImage(client, image, client.images.get(image).id)
    if path is not None and path.is_file():
        with path.open("rb") as stream:
            client.images.load(stream)
        try:
            return PreparedImage(client, image, client.images.get(image).id)
        except docker.errors.ImageNotFound:
            raise SuiteError(f"{path} was loaded but holds no image '{image}'") from None
    where = f" ({path} does not exist)" if path is not None else ""
    raise SuiteError(
        f"image '{image}' is not on this host and no registry is reachable: build it "
        f"(./setup.sh) or `docker load` it, or set container.image_tarball of profile "
        f"'{profile}' to a `docker save` tarball{where}"
    )


def bind_mounts(spec: ContainerSpec) -> dict[str, dict[str, str]]:
    """The mounts of `spec` as host path -> {bind, mode}; a malformed one is an error."""
    volumes: dict[str, dict[str, str]] = {}
    for mount in spec.mounts:
        parts = mount.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]):
            raise SuiteError(f"mount '{mount}' is not host:container[:mode]")
        volumes[parts[0]] = {"bind": parts[1], "mode": parts[2] if len(parts) == 3 else "rw"}
    return volumes


def run_options(spec: ContainerSpec) -> dict:
    """The Docker SDK keyword arguments of `spec`: the guides' `docker run` flags."""
    volumes = bind_mounts(spec)
    options: dict = {
        "name": spec.name,
        "devices": [f"{dev}:{dev}:rwm" for dev in spec.devices],
        "volumes": volumes,
        "network_mode": spec.network_mode,
        "privileged": spec.privileged,
        "init": True,  # docker-init as PID 1 forwards the stop signal, reaps the engine's children
        "labels": {LABEL: "1"},
    }
    for key in ("ipc_mode", "user", "shm_size"):
        if getattr(spec, key) is not None:
            options[key] = getattr(spec, key)
    return options


def docker_run_argv(spec: ContainerSpec, argv: list[str], env_keys: list[str]) -> list[str]:
    """The `docker run` argv of `spec` running `argv`, for a node reached over ssh.

    The same flags as `run_options`, plus `--rm`. Environment variables are passed by name
    only (`-e KEY`): docker takes their values from its own environment, so no value, and
    no secret, is ever in an argv.
    """
    out = ["docker", "run", "--rm", "--init", "--name", spec.name, "--label", f"{LABEL}=1",
           "--network", spec.network_mode]
    if spec.ipc_mode is not None:
        out += ["--ipc", spec.ipc_mode]
    if spec.privileged:
        out.append("--privileged")
    if spec.user is not None:
        out += ["--user", spec.user]
    if spec.shm_size is not None:
        out += ["--shm-size", spec.shm_size]
    for device in spec.devices:
        out += ["--device", f"{device}:{device}:rwm"]
    for host_path, bind in bind_mounts(spec).items():
        out += ["-v", f"{host_path}:{bind['bind']}:{bind['mode']}"]
    for key in env_keys:
        out += ["-e", key]
    return [*out, spec.image, *argv]


def missing_host_paths(spec: ContainerSpec) -> list[str]:
    """Devices and mount sources of `spec` that do not exist on this host."""
    paths = list(spec.devices) + [mount.split(":")[0] for mount in spec.mounts]
    return [path for path in paths if not Path(path).exists()]


def is_running(container: Container) -> bool:
    """True while the container has not exited."""
    try:
        container.reload()
    except docker.errors.NotFound:
        return False
    return container.status in ("created", "running", "restarting")


def remove(container: Container, grace_s: float = STOP_GRACE_S) -> None:
    """Stop (SIGTERM, then SIGKILL after `grace_s`) and remove the container, whatever its state."""
    with suppress(docker.errors.NotFound, docker.errors.APIError):
        container.stop(timeout=int(grace_s))
    with suppress(docker.errors.NotFound):
        container.remove(force=True)


def _stream_logs(container: Container, log: Path) -> threading.Thread:
    def pump() -> None:
        with log.open("ab") as out, suppress(docker.errors.DockerException, OSError):
            for chunk in container.logs(stream=True, follow=True):
                out.write(chunk)
                out.flush()

    thread = threading.Thread(target=pump, name=f"logs-{container.name}", daemon=True)
    thread.start()
    return thread


@contextmanager
def running_container(
    prepared: PreparedImage,
    spec: ContainerSpec,
    argv: list[str],
    env: dict[str, str],
    log: Path,
) -> Iterator[Container]:
    """Run `argv` in a container of `spec`; stream its output to `log`; always remove it."""
    client = prepared.client
    with suppress(docker.errors.NotFound):
        other = client.containers.get(spec.name)
        raise SuiteError(
            f"a container named '{spec.name}' already exists ({other.status}): "
            f"remove it (docker rm -f {spec.name}) or name this deployment's container otherwise"
        )
    missing = missing_host_paths(spec)
    if missing:
        raise SuiteError(f"container {spec.name}: not on this host: {', '.join(missing)}")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    with sigterm_raises_interrupt():
        try:
            container = client.containers.create(
                prepared.image_id, command=argv, environment=env, detach=True,
                **run_options(spec),
            )
        except docker.errors.APIError as exc:
            raise SuiteError(f"docker run {spec.name}: {exc.explanation or exc}") from None
        try:
            try:
                container.start()
            except docker.errors.APIError as exc:
                raise SuiteError(f"docker start {spec.name}: {exc.explanation or exc}") from None
            pump = _stream_logs(container, log)
            yield container
        finally:
            remove(container)
        pump.join(timeout=5)
