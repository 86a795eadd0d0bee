"""The host stage of a stack: every declared check on every node, and what the nodes are.

`check_hosts(stack, ...)` reaches each node of the stack's plan (locally or over ssh),
runs the checks its profile and launcher declare, and returns a `HostReport`: the results
by check, the nodes (which the weights stage reads next) and the fingerprint facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from deploy_helpers.host.checks import run_checks
from deploy_helpers.host.facts import node_facts
from deploy_helpers.host.node import CheckResult, HostPaths, Node, SshSettings, connect, is_local
from deploy_helpers.report.facts import Fact
from deploy_helpers.serve.stack import Stack


@dataclass
class HostReport:
    """Every check on every node of a stack, by check name, and the nodes it read."""

    stack: Stack
    nodes: list[Node]
    results: dict[str, list[CheckResult]]

    def failures(self) -> list[str]:
        """Every failed check's message (with its remedy), node by node."""
        return [r.message for results in self.results.values() for r in results if not r.ok]

    def facts(self) -> list[Fact]:
        """Each node's chip, NPU and chip counts, driver, firmware, kernel and OS; this machine's as
        the run's host when it is a node of the deployment."""
        per_node = {node.label: node_facts(node) for node in self.nodes}
        found = [Fact("host_nodes", per_node, self.stack.id)]
        local = [node for node in self.nodes if is_local(node.plan.address)]
        if local:
            found.append(Fact("host", per_node[local[0].label]))
        return found


def check_hosts(stack: Stack, ssh: SshSettings, paths: HostPaths) -> HostReport:
    """Reach every node of `stack` and run its declared host checks there (with --endpoint
    the nodes know the deployment already serves on them)."""
    nodes = [
        Node(connect(plan.address, ssh), plan, stack.target, paths, stack.options.endpoint)
        for plan in stack.nodes
    ]
    return HostReport(stack, nodes, run_checks(stack, nodes))
