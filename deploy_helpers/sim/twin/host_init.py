"""The first process of a twin host: lays out its Ascend paths, then runs its daemons.

Started by `deploy_helpers/sim/twin/hosts.py` inside the host's network namespace and a
new private mount namespace (`nsenter --net=... unshare --mount --propagation private`),
it reads a JSON spec and, inside that mount namespace only:

- lays an overlay over each listed directory (`/usr/local`, `/etc`, `/home`, ...): the
  real directory is the lower layer, a folder of the twin the upper one, so everything of
  the real host stays visible and every file the twin adds lands in the twin's folder;
- replaces `/dev` with a tmpfs holding copies of the real device nodes (and bind mounts of
  its sub-filesystems) plus the NPU device nodes the profile maps (`/dev/davinci0..N`,
  `davinci_manager`, `devmm_svm`, `hisi_hdc`: character devices with /dev/null's numbers);
- mounts each model's weights path as an overlay over the stand-in model's weights;
- writes the spec's files (version.info, hccn.conf, tool wrappers ...) and folders, and
  runs its set-up commands (the guides' own steps, e.g. the seed's config.json dtype edit);
- bind-mounts the spec's `/proc/meminfo` stand-in (the simulated host's memory);
- starts the spec's daemons (sshd, dockerd), writes its pid file, and waits: on SIGTERM
  it stops them (SIGTERM, then SIGKILL) and exits, and with its last process the mount
  namespace and everything mounted in it are gone. Nothing is created on the real file
  system but inside the twin's own folder.

Standard library only: it runs before anything else of the twin exists.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NULL_DEVICE = (1, 3)  # the NPU device nodes behave as /dev/null: no NPU driver answers here


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"twin host: {' '.join(argv)}: {done.stderr.strip()}")


def overlay(target: str, state: Path) -> None:
    """The real `target` as the lower layer, a twin folder as the upper one."""
    name = target.strip("/").replace("/", "_") or "root"
    upper, work = state / "upper" / name, state / "work" / name
    upper.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    _run(
        "mount",
        "-t",
        "overlay",
        f"twin-{name}",
        "-o",
        f"lowerdir={target},upperdir={upper},workdir={work}",
        target,
    )


def _copy_dev_entry(source: Path, dest: Path) -> None:
    info = os.lstat(source)
    if stat.S_ISLNK(info.st_mode):
        dest.symlink_to(os.readlink(source))
    elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
        os.mknod(dest, info.st_mode, info.st_rdev)
    elif stat.S_ISDIR(info.st_mode):
        dest.mkdir()
        _run("mount", "--rbind", str(source), str(dest))


def private_dev(devices: list[str], state: Path) -> None:
    """A tmpfs /dev with the real nodes copied in and the twin's NPU nodes added."""
    real = state / "real-dev"
    real.mkdir(parents=True, exist_ok=True)
    _run("mount", "--rbind", "/dev", str(real))
    _run("mount", "-t", "tmpfs", "-o", "mode=755", "twin-dev", "/dev")
    for entry in sorted(real.iterdir()):
        _copy_dev_entry(entry, Path("/dev") / entry.name)
    for device in devices:
        path = Path(device)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*NULL_DEVICE))


def write_files(files: dict[str, dict[str, Any]], folders: list[str]) -> None:
    """The spec's folders, then its files (text and mode)."""
    for folder in folders:
        Path(folder).mkdir(parents=True, exist_ok=True)
    for path, spec in files.items():
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(spec["text"])
        target.chmod(int(spec.get("mode", "644"), 8))


def weights(layers: list[dict[str, str]], state: Path) -> None:
    """Each model's weights path: an overlay whose lower layer is the stand-in's weights, so
    that what the twin adjusts there (config dtype, manifest) lands in the twin's folder."""
    for index, layer in enumerate(layers):
        target = Path(layer["target"])
        target.mkdir(parents=True, exist_ok=True)
        upper, work = state / "upper" / f"weights-{index}", state / "work" / f"weights-{index}"
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        _run(
            "mount",
            "-t",
            "overlay",
            f"twin-weights-{index}",
            "-o",
            f"lowerdir={layer['lower']},upperdir={upper},workdir={work}",
            str(target),
        )


def run_commands(commands: list[list[str]]) -> None:
    """The spec's set-up commands (e.g. the seed's dtype edit), each of which must succeed."""
    for argv in commands:
        _run(*argv)


def bind_files(binds: dict[str, str]) -> None:
    """Bind-mount twin files over real paths (e.g. /proc/meminfo)."""
    for target, source in binds.items():
        _run("mount", "--bind", source, target)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 15
    for proc in procs:
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main(spec_path: str) -> int:
    """Lay the host out as its spec says, run its daemons until SIGTERM."""
    spec = json.loads(Path(spec_path).read_text())
    state = Path(spec["state"])
    steps = (
        ("overlays", lambda: [overlay(t, state) for t in spec["overlays"]]),
        ("weights", lambda: weights(spec["weights"], state)),
        ("/dev", lambda: private_dev(spec["devices"], state)),
        ("files", lambda: write_files(spec["files"], spec["folders"])),
        ("binds", lambda: bind_files(spec["binds"])),
        ("commands", lambda: run_commands(spec["commands"])),
    )
    for name, step in steps:
        print(f"twin host: {name}", flush=True)
        step()
    procs: list[subprocess.Popen] = []
    stopping = False

    def on_term(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    for daemon in spec["daemons"]:
        log = open(daemon["log"], "wb")  # noqa: SIM115 - kept open for the daemon's life
        procs.append(
            subprocess.Popen(
                daemon["argv"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **daemon.get("env", {})},
            )
        )
    Path(spec["pid_file"]).write_text(str(os.getpid()))
    while not stopping and all(p.poll() is None for p in procs):
        time.sleep(0.5)
    _stop(procs)
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
