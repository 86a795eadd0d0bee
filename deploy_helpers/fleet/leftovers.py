"""Processes a unit's suite left running: those holding a file open under its run folder.

A suite that exits normally tears its stack down; one that crashed (killed, out of memory)
leaves its engine running, still writing its log into the run folder. The playbook asks for
them after every stage and stops them, so nothing is left running on the unit, and only
processes of this very run folder are touched: never an engine someone else started.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Holder:
    """A process with a file open (or its working folder) under the run folder."""

    pid: int
    command: str


def _command(proc: Path) -> str:
    raw = (proc / "cmdline").read_bytes()
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _holds(proc: Path, root: str) -> bool:
    links = [proc / "cwd", *(proc / "fd").iterdir()]
    for link in links:
        with suppress(OSError):
            target = os.readlink(link)
            if target == root or target.startswith(root + "/"):
                return True
    return False


def holders(folder: Path, proc_root: Path = Path("/proc")) -> list[Holder]:
    """Processes (other than this one) holding a file under `folder`."""
    root = str(folder.resolve())
    found = []
    for proc in proc_root.iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with suppress(OSError):
            if _holds(proc, root):
                found.append(Holder(int(proc.name), _command(proc)))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(found: list[Holder], grace_s: float = 10.0) -> None:
    """SIGTERM each process, wait up to `grace_s`, SIGKILL what is left."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for holder in found:
            with suppress(ProcessLookupError):
                os.kill(holder.pid, sig)
        deadline = time.monotonic() + wait_s
        while any(_alive(h.pid) for h in found) and time.monotonic() < deadline:
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """List (and with --stop, stop) the processes holding files under FOLDER."""
    parser = argparse.ArgumentParser(prog="python -m deploy_helpers.fleet.leftovers")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--stop", action="store_true", help="stop them")
    args = parser.parse_args(argv)
    found = holders(args.folder) if args.folder.exists() else []
    for holder in found:
        print(f"pid {holder.pid}: {holder.command}")
    if args.stop:
        stop(found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
