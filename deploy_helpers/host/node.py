"""One node of a deployment as the host checks see it: a testinfra host, its plan, its paths.

A node is reached locally (`local://`) when its address is loopback, else over ssh
(`ssh://USER@IP`, the testbed's ssh_config when one is set): the same checks qualify this
machine and remote NPU nodes. Every command is an argv, each word quoted by testinfra.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import testinfra

from deploy_helpers.catalog.target import Target
from deploy_helpers.host import npu_table, npu_tools
from deploy_helpers.serve.plan import NodePlan
from deploy_helpers.serve.remote import SSH_CONFIG_ENV

DEFAULT_ASCEND_ROOT = "/usr/local/Ascend"
DEFAULT_DEV_ROOT = "/dev"
LOCAL_ADDRESSES = ("127.0.0.1", "localhost", "::1")
SSH_ARGS = "-o BatchMode=yes -o StrictHostKeyChecking=accept-new -o ConnectTimeout=10"


@dataclass(frozen=True)
class SshSettings:
    """How nodes other than this machine are reached."""

    user: str = "root"
    identity: str | None = None


def is_local(address: str) -> bool:
    """Whether a node address is this machine (loopback)."""
    return address in LOCAL_ADDRESSES


def connect(address: str, ssh: SshSettings) -> Any:
    """A testinfra host: `local://` for a loopback address, else ssh to USER@address."""
    if is_local(address):
        return testinfra.get_host("local://")
    return testinfra.get_host(
        f"ssh://{ssh.user}@{address}",
        ssh_identity_file=ssh.identity,
        ssh_extra_args=SSH_ARGS,
        ssh_config=os.environ.get(SSH_CONFIG_ENV),  # set by `python -m deploy_helpers testbed run`
    )


class CheckFailed(Exception):
    """A check's finding on one node: what is wrong there (without the remedy)."""


@dataclass(frozen=True)
class HostPaths:
    """Where a node keeps the Ascend install and its device nodes (configurable for tests)."""

    ascend_root: str = DEFAULT_ASCEND_ROOT
    dev_root: str = DEFAULT_DEV_ROOT

    def device(self, path: str) -> str:
        """A container device path (/dev/...) under this node's device root."""
        rel = posixpath.relpath(path, DEFAULT_DEV_ROOT)
        return posixpath.join(self.dev_root, rel)


@dataclass(frozen=True)
class CheckResult:
    """One check on one node: passed or not, with evidence or the failure message."""

    check: str
    node: str
    ok: bool
    message: str


@dataclass
class Node:
    """One node of a deployment as the checks see it: its host, plan and paths.

    `endpoint` is the run's --endpoint when the deployment already serves (its own engine
    may then hold the chips), None before a bring-up.
    """

    host: Any  # testinfra.host.Host
    plan: NodePlan
    target: Target
    paths: HostPaths = field(default_factory=HostPaths)
    endpoint: str | None = None

    @property
    def label(self) -> str:
        """How messages name the node."""
        return f"node {self.plan.rank} ({self.plan.address})"

    def run(self, *argv: str) -> Any:
        """Run an argv on the node (each word quoted by testinfra, never a shell string)."""
        return self.host.run(" ".join(["%s"] * len(argv)), *argv)

    def output(self, *argv: str) -> str:
        """stdout of an argv that must succeed; CheckFailed naming the command otherwise."""
        result = self.run(*argv)
        if result.rc != 0:
            text = (result.stderr or result.stdout).strip().splitlines()
            why = text[-1] if text else f"exit code {result.rc}"
            raise CheckFailed(f"`{' '.join(argv)}` failed: {why}")
        return result.stdout

    def read(self, path: str) -> str:
        """A text file of the node; CheckFailed when it is missing."""
        handle = self.host.file(path)
        if not handle.exists:
            raise CheckFailed(f"{path} not found")
        return handle.content_string

    @cached_property
    def npu_info(self) -> npu_table.NpuTable:
        """The node's whole `npu-smi info` table; CheckFailed naming what it lacks."""
        try:
            return npu_table.parse_npu_smi_info(self.output("npu-smi", "info"))
        except npu_tools.ParseError as exc:
            raise CheckFailed(str(exc)) from None

    def board(self, npu_id: int, chip: int | None = None) -> npu_tools.KeyValues:
        """`npu-smi info -t board -i NPU [-c CHIP]`, which must describe that NPU (chip)."""
        argv = ["npu-smi", "info", "-t", "board", "-i", str(npu_id)]
        if chip is not None:
            argv += ["-c", str(chip)]
        try:
            return npu_tools.parse_board(self.output(*argv), npu_id, chip)
        except npu_tools.ParseError as exc:
            raise CheckFailed(str(exc)) from None

    def installed_version(self, part: str) -> str:
        """`Version=` of ASCEND_ROOT/PART/version.info (driver, firmware)."""
        path = posixpath.join(self.paths.ascend_root, part, "version.info")
        try:
            return npu_tools.parse_version_info(self.read(path), path).version("Version")
        except npu_tools.ParseError as exc:
            raise CheckFailed(str(exc)) from None

    @cached_property
    def hccn_tool(self) -> str:
        """hccn_tool from PATH, else the driver's tools folder."""
        if self.host.exists("hccn_tool"):
            return "hccn_tool"
        return posixpath.join(self.paths.ascend_root, "driver", "tools", "hccn_tool")

    def hccn(self, device: int, *query: str) -> str:
        """`hccn_tool -i DEVICE QUERY... -g` output."""
        return self.output(self.hccn_tool, "-i", str(device), *query, "-g")
