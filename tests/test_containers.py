"""The container stage: image present or loaded (never pulled), logs kept, container always removed.

Suite runs here go through the real fixtures, launcher and Docker engine with the
`cpu-container` profile, its engine swapped for tests/faulty_server.py (about a second
per bring-up); the real vLLM in that container runs in CI (`.ci/run`).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest
import yaml

from deploy_helpers.errors import SuiteError
from deploy_helpers.serve import containers
from deploy_helpers.serve.plan import ContainerSpec

REPO = Path(__file__).resolve().parent.parent
RUNTIME_IMAGE = "llm-acceptance/vllm-cpu-runtime:bookworm"


def _engine() -> docker.DockerClient:
    try:
        return containers.docker_client()
    except SuiteError as exc:
        pytest.fail(f"these tests need the Docker engine (./setup.sh starts it): {exc}")


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    """The local Docker engine, with the runtime image built by ./setup.sh."""
    client = _engine()
    try:
        client.images.get(RUNTIME_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"image {RUNTIME_IMAGE} missing: run ./setup.sh")
    return client


def exists(client: docker.DockerClient, name: str) -> bool:
    """True if a container named `name` exists in any state."""
    try:
        client.containers.get(name)
    except docker.errors.NotFound:
        return False
    return True


@pytest.fixture
def container_catalog(fake_engine_catalog) -> Iterator[tuple[list[str], str]]:
    """Suite args selecting `cpu-container` with a faulty-server engine, and its container name."""
    name = f"acceptance-test-{uuid.uuid4().hex[:8]}"
    catalog = fake_engine_catalog.catalog
    profile_yaml = catalog / "hardware" / "cpu-container.yaml"
    profile = yaml.safe_load(profile_yaml.read_text())
    serve = profile.setdefault("serve", {})  # cpu-container `extends` cpu's serve section
    serve["command"] = ["{python}", "-m", "tests.faulty_server"]
    serve["env"] = {"PYTHONPATH": "{repo}"}
    serve["readiness_timeout_s"] = 60
    profile["container"]["mounts"].append("{repo}:{repo}:ro")
    profile["container"]["name"] = name
    profile_yaml.write_text(yaml.safe_dump(profile, sort_keys=False))
    model_yaml = catalog / "models" / "smollm2-135m.yaml"
    model_yaml.write_text(model_yaml.read_text().replace("smollm2-135m-cpu", name))
    # the real embedded weights (made by ./setup.sh): the weights stage checks them for real
    args = ["--catalog", str(catalog), "--model", "smollm2-135m", "--hardware", "cpu-container"]
    yield args, name
    client = _engine()
    if exists(client, name):  # never leave one behind, even when the test failed
        client.containers.get(name).remove(force=True)


def edit_profile(args: list[str], **serve_env: str) -> None:
    """Add `serve_env` to the cpu-container profile of the catalog in `args`."""
    profile_yaml = Path(args[args.index("--catalog") + 1]) / "hardware" / "cpu-container.yaml"
    profile = yaml.safe_load(profile_yaml.read_text())
    profile["serve"]["env"].update(serve_env)
    profile_yaml.write_text(yaml.safe_dump(profile, sort_keys=False))


def suite_argv(tmp_path: Path, *args: str) -> list[str]:
    """argv of a completions-suite run."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "suites/test_completions.py",
        "-q",
        "-p",
        "no:cacheprovider",
        "--junitxml",
        str(tmp_path / "junit.xml"),
        *args,
    ]


def test_suite_passes_in_a_container_and_removes_it(engine, container_catalog, tmp_path) -> None:
    args, name = container_catalog
    seen: list[bool] = []
    proc = subprocess.Popen(
        suite_argv(tmp_path, *args),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    while proc.poll() is None:
        seen.append(exists(engine, name))
        time.sleep(0.2)
    output = proc.stdout.read()
    assert proc.returncode == 0, output[-3000:]
    assert any(seen), "the service never ran in a container"
    assert not exists(engine, name), "container left after a passing run"


def test_failing_bring_up_shows_the_log_and_removes_the_container(
    engine, container_catalog, tmp_path
) -> None:
    args, name = container_catalog
    edit_profile(args, FAULTY_SERVER_EXIT_AT_START="1")
    done = subprocess.run(
        suite_argv(tmp_path, *args, "-x"), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "service stage: container exited before serving" in done.stdout, done.stdout[-3000:]
    assert "refusing to start" in done.stdout, "the container's log is streamed and shown"
    assert not exists(engine, name)


def test_fatal_log_line_fails_fast_with_the_remedy(engine, container_catalog, tmp_path) -> None:
    args, name = container_catalog
    profile_yaml = Path(args[args.index("--catalog") + 1]) / "hardware" / "cpu-container.yaml"
    profile = yaml.safe_load(profile_yaml.read_text())
    # an engine that prints a fatal line of log_rules.yaml and then hangs instead of exiting
    profile["serve"]["command"] = [
        "/bin/sh",
        "-c",
        "echo 'OSError: [Errno 28] No space left on device'; sleep 600",
        "sh",
    ]
    profile_yaml.write_text(yaml.safe_dump(profile, sort_keys=False))
    start = time.monotonic()
    done = subprocess.run(
        suite_argv(tmp_path, *args, "-x"), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout[-3000:]
    assert "fatal line" in done.stdout and "seed 000 FAQ 6.2" in done.stdout, done.stdout[-3000:]
    assert time.monotonic() - start < 50, "did not fail fast"
    assert not exists(engine, name)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_to_a_running_suite_removes_the_container(
    engine, container_catalog, tmp_path, sig: signal.Signals
) -> None:
    args, name = container_catalog
    edit_profile(args, FAULTY_SERVER_DELAY_S="2")  # slow requests: the run is mid-way when hit
    proc = subprocess.Popen(
        suite_argv(tmp_path, *args),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not exists(engine, name) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        time.sleep(0.2)
    assert exists(engine, name), "the container never started"
    time.sleep(4)  # serving, tests running
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode != 0, output[-3000:]
    assert not exists(engine, name), f"container left after {sig.name}:\n{output[-3000:]}"


def test_missing_image_is_one_line_naming_image_and_tarball(
    engine, container_catalog, tmp_path
) -> None:
    args, _ = container_catalog
    profile_yaml = Path(args[args.index("--catalog") + 1]) / "hardware" / "cpu-container.yaml"
    profile = yaml.safe_load(profile_yaml.read_text())
    profile["container"]["image"] = {
        arch: "llm-acceptance/absent:0" for arch in profile["container"]["image"]
    }
    profile_yaml.write_text(yaml.safe_dump(profile, sort_keys=False))
    done = subprocess.run(
        suite_argv(tmp_path, *args), cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    lines = [line for line in done.stdout.splitlines() if "container stage:" in line]
    assert lines, done.stdout[-3000:]
    assert "'llm-acceptance/absent:0' is not on this host" in lines[0]
    assert "container.image_tarball" in lines[0] and "cpu-container" in lines[0]
    assert "Traceback" not in done.stdout


def test_prepare_never_pulls_and_names_a_missing_tarball(engine, tmp_path) -> None:
    with pytest.raises(SuiteError) as caught:
        containers.prepare("llm-acceptance/absent:0", str(tmp_path / "absent.tar"), "p")
    message = str(caught.value)
    assert "\n" not in message
    assert "absent.tar does not exist" in message and "image_tarball of profile 'p'" in message


def _tiny_image_tarball(client: docker.DockerClient, tag: str, path: Path) -> None:
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("marker")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    repository, version = tag.split(":")
    client.api.import_image_from_data(layer.getvalue(), repository=repository, tag=version)
    with path.open("wb") as out:
        for chunk in client.images.get(tag).save(named=True):
            out.write(chunk)
    client.images.remove(tag)


def test_missing_image_is_loaded_from_the_tarball(engine, tmp_path) -> None:
    tag = f"llm-acceptance/tarball-test:{uuid.uuid4().hex[:8]}"
    tarball = tmp_path / "image.tar"
    _tiny_image_tarball(engine, tag, tarball)
    try:
        prepared = containers.prepare(tag, str(tarball), "p")
        assert engine.images.get(tag).id == prepared.image_id
    finally:
        engine.images.remove(tag, force=True)


def _spec(name: str) -> ContainerSpec:
    return ContainerSpec(
        image=RUNTIME_IMAGE,
        name=name,
        devices=[],
        mounts=[],
        network_mode="host",
        ipc_mode=None,
        privileged=False,
        user=None,
        shm_size=None,
    )


def test_running_container_streams_logs_and_removes_on_error(engine, tmp_path) -> None:
    name = f"acceptance-test-{uuid.uuid4().hex[:8]}"
    prepared = containers.prepare(RUNTIME_IMAGE, None, "p")
    log = tmp_path / "server.log"
    argv = ["/bin/sh", "-c", "echo hello from $GREETING; sleep 600"]
    with (
        pytest.raises(RuntimeError),
        containers.running_container(prepared, _spec(name), argv, {"GREETING": "env"}, log),
    ):
        deadline = time.monotonic() + 20
        while b"hello" not in log.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert exists(engine, name)
        raise RuntimeError("a failing check inside the service's lifetime")
    assert b"hello from env" in log.read_bytes()
    assert not exists(engine, name)


def test_existing_container_name_is_a_one_line_error(engine) -> None:
    name = f"acceptance-test-{uuid.uuid4().hex[:8]}"
    other = engine.containers.create(RUNTIME_IMAGE, ["/bin/true"], name=name)
    try:
        prepared = containers.prepare(RUNTIME_IMAGE, None, "p")
        with (
            pytest.raises(SuiteError, match=f"docker rm -f {name}"),
            containers.running_container(
                prepared, _spec(name), ["/bin/true"], {}, Path(os.devnull)
            ),
        ):
            pass
    finally:
        other.remove(force=True)


def test_entrypoint_names_a_missing_engine_mount(engine) -> None:
    name = f"acceptance-test-{uuid.uuid4().hex[:8]}"
    container = engine.containers.run(
        RUNTIME_IMAGE, ["/absent/python", "-V"], name=name, detach=True, network_mode="host"
    )
    try:
        assert container.wait(timeout=30)["StatusCode"] == 66
        assert b"mount the engine's venv" in container.logs()
    finally:
        container.remove(force=True)
