"""The twin's container runtime: runc, with the capabilities this machine lacks dropped.

The seeds start their containers `--privileged` (seed 000 §4, seed 003 §3), and Docker then
asks runc for every capability it knows. Where the machine's own bounding set lacks some
(here CAP_SYS_RESOURCE: `CapBnd: 000001fffeffffff`), runc refuses with `unable to apply
caps: operation not permitted`, on any Docker engine of the machine. The twin's engines run
this instead (`dockerd --add-runtime ... --default-runtime ...`): it removes from the
bundle's config.json (`create`, `run`) or from the process file (`exec --process`, as for
`docker exec` into a privileged container) the capabilities outside this process's
bounding set, then execs runc with the same arguments. On a machine that has them all
it changes nothing.

Standard library only: dockerd's containerd shim runs it directly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Linux capability numbers (include/uapi/linux/capability.h), as Docker names them
CAPABILITIES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
    "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
    "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
    "CHECKPOINT_RESTORE"
).split()
RUNC = "runc"


def bounding_set(status: str) -> set[str]:
    """The capability names of a /proc/PID/status text's CapBnd line."""
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            mask = int(line.split()[1], 16)
            return {f"CAP_{name}" for bit, name in enumerate(CAPABILITIES) if mask >> bit & 1}
    raise ValueError("no CapBnd line")


def drop_missing(process: dict, allowed: set[str]) -> list[str]:
    """Remove from an OCI process's capabilities those not in `allowed`; the dropped."""
    dropped: set[str] = set()
    capabilities = process.get("capabilities") or {}
    for kind, names in capabilities.items():
        kept = [name for name in names if name in allowed]
        dropped.update(set(names) - set(kept))
        capabilities[kind] = kept
    return sorted(dropped)


def _option(argv: list[str], long: str, short: str) -> str | None:
    for index, arg in enumerate(argv):
        if arg in (long, short) and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(f"{long}="):
            return arg.split("=", 1)[1]
    return None


def process_file(argv: list[str]) -> tuple[Path, bool] | None:
    """The JSON file a runc command line starts a process from, and whether it is a whole
    bundle config (its process under "process") rather than a bare process file."""
    bundle = _option(argv, "--bundle", "-b")
    if bundle is not None:
        return Path(bundle) / "config.json", True
    process = _option(argv, "--process", "-p")
    return (Path(process), False) if process is not None else None


def main() -> None:
    """Adjust the capabilities of the process runc is to start, if any, then become runc."""
    argv = sys.argv[1:]
    found = process_file(argv)
    if found is not None and found[0].is_file():
        path, whole = found
        config = json.loads(path.read_text())
        process = config.get("process", {}) if whole else config
        if drop_missing(process, bounding_set(Path("/proc/self/status").read_text())):
            path.write_text(json.dumps(config))
    os.execvp(RUNC, [RUNC, *argv])


if __name__ == "__main__":
    main()
