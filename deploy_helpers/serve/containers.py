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
from deploy_helpers.serve.process import exit_cause
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


def _run_flags(spec: ContainerSpec) -> list[str]:
    """The `docker run` flags of `spec` (the guides' --net/--ipc/--privileged/--device/-v)."""
    out = ["--init", "--name", spec.name, "--label", f"{LABEL}=1", "--network", spec.network_mode]
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
    return out


def _env_flags(env_keys: list[str]) -> list[str]:
    # by name only (`-e KEY`): docker takes the values from its own environment, so no
    # value, and no secret, is ever in an argv
    return [flag for key in env_keys for flag in ("-e", key)]


def docker_run_argv(spec: ContainerSpec, argv: list[str], env_keys: list[str]) -> list[str]:
    """The `docker run --rm` argv of `spec` running `argv`, for a node reached over ssh (the
    same flags as `run_options`)."""
    return ["docker", "run", "--rm", *_run_flags(spec), *_env_flags(env_keys), spec.image, *argv]


def docker_shell_argv(spec: ContainerSpec) -> list[str]:
    """`docker run -d -it ... IMAGE SHELL`: the container as the guides start it, its shell
    waiting on a terminal for the serve command (see `docker_exec_argv`)."""
    return ["docker", "run", "-d", "-i", "-t", *_run_flags(spec), spec.image, *spec.shell]


def docker_exec_argv(spec: ContainerSpec, argv: list[str], env_keys: list[str]) -> list[str]:
    """`docker exec` of the serve argv in the container `docker_shell_argv` started."""
    return ["docker", "exec", *_env_flags(env_keys), spec.name, *argv]


def missing_devices(spec: ContainerSpec) -> list[str]:
    """Devices of `spec` that do not exist on this host (`docker run --device` needs them;
    a missing mount source is created by `docker run -v`, as on the guides' hosts)."""
    return [path for path in spec.devices if not Path(path).exists()]


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


@dataclass(frozen=True)
class ServingContainer:
    """A container the serve argv runs in: itself, or an exec in its shell (the guides'
    shape), and whether that serve process still runs."""

    container: Container
    exec_id: str | None = None

    def pid(self) -> int | None:
        """The container's first process as this machine sees it (the serve argv and its
        children, or the shell and the exec'd serve command, run below it)."""
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return None
        return self.container.attrs.get("State", {}).get("Pid") or None

    def ended(self) -> str | None:
        """How the serve process ended: the exec's exit code, else the container's (a
        code above 128 is a signal, docker-init reports 128+N; OOMKilled is the kernel's
        OOM killer); None while it runs."""
        if self.alive():
            return None
        try:
            if self.exec_id is not None:
                state = self.container.client.api.exec_inspect(self.exec_id)
            else:
                self.container.reload()
                state = self.container.attrs.get("State", {})
        except docker.errors.NotFound:
            return "was removed"
        if state.get("OOMKilled"):
            return "was killed by the kernel's OOM killer (OOMKilled)"
        code = int(state.get("ExitCode") or 0)
        return exit_cause(128 - code if code > 128 else code)

    def alive(self) -> bool:
        """True while the serve process runs (the exec, else the container's command)."""
        if self.exec_id is None:
            return is_running(self.container)
        try:
            return bool(self.container.client.api.exec_inspect(self.exec_id)["Running"])
        except docker.errors.NotFound:
            return False


def _exec_serve(container: Container, argv: list[str], env: dict[str, str], log: Path) -> str:
    """`docker exec` the serve argv in the container's shell, its output to `log`."""
    api = container.client.api
    exec_id = api.exec_create(container.id, argv, environment=env)["Id"]
    output = api.exec_start(exec_id, stream=True)

    def pump() -> None:
        with log.open("ab") as out, suppress(docker.errors.DockerException, OSError):
            for chunk in output:
                out.write(chunk)
                out.flush()

    threading.Thread(target=pump, name=f"exec-{container.name}", daemon=True).start()
    return exec_id


@contextmanager
def running_container(
    prepared: PreparedImage,
    spec: ContainerSpec,
    argv: list[str],
    env: dict[str, str],
    log: Path,
) -> Iterator[ServingContainer]:
    """Run `argv` in a container of `spec` — as its command, or, where the profile gives the
    guides' shell, inside it as they do (`docker run -it ... /bin/bash`, then the serve
    command in that shell) — stream its output to `log`; always remove the container."""
    client = prepared.client
    with suppress(docker.errors.NotFound):
        other = client.containers.get(spec.name)
        raise SuiteError(
            f"a container named '{spec.name}' already exists ({other.status}): "
            f"remove it (docker rm -f {spec.name}) or name this deployment's container otherwise"
        )
    missing = missing_devices(spec)
    if missing:
        raise SuiteError(f"container {spec.name}: devices not on this host: {', '.join(missing)}")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_bytes(b"")
    shaped = (
        {"command": spec.shell, "tty": True, "stdin_open": True}
        if spec.shell
        else {"command": argv, "environment": env}
    )
    with sigterm_raises_interrupt():
        try:
            container = client.containers.create(
                prepared.image_id, detach=True, **shaped, **run_options(spec)
            )
        except docker.errors.APIError as exc:
            raise SuiteError(f"docker run {spec.name}: {exc.explanation or exc}") from None
        pump = None
        try:
            try:
                container.start()
                exec_id = _exec_serve(container, argv, env, log) if spec.shell else None
            except docker.errors.APIError as exc:
                raise SuiteError(f"docker start {spec.name}: {exc.explanation or exc}") from None
            if exec_id is None:
                pump = _stream_logs(container, log)
            yield ServingContainer(container, exec_id)
        finally:
            remove(container)
        if pump is not None:
            pump.join(timeout=5)
