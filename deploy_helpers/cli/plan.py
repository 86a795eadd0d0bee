"""`plan`: print, per node, everything the stack will do for a model on a hardware profile.

Host checks with their thresholds, the weights and manifest paths, the container spec and
the serve argv and env — the same `Stack` the fixtures bring up (deploy_helpers/serve/stack.py),
so what is printed is what they run.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import asdict
from pathlib import PurePosixPath

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.host.checks import requirements
from deploy_helpers.serve.plan import NodePlan
from deploy_helpers.serve.stack import RunOptions, Stack
from deploy_helpers.weights.manifest import MANIFEST_NAME


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `plan` command."""
    parser = subparsers.add_parser("plan", help="print the bring-up plan of every node")
    parser.add_argument("--model", required=True, help="catalog model")
    parser.add_argument("--hardware", default=None, help="profile (default: the model's first)")
    parser.add_argument(
        "--node-ip",
        action="append",
        default=[],
        help="node address, in rank order (one per node of the profile)",
    )
    parser.add_argument("--graph-mode", default=None, help="graph mode (default: the catalog's)")
    parser.add_argument(
        "--arch",
        choices=["aarch64", "x86_64"],
        default=None,
        help="CPU architecture of the nodes (default: this machine's)",
    )
    parser.add_argument("--weights-root", default=None, help="override the profile's")
    parser.add_argument("--nic", default=None, help="NIC for HCCL/GLOO/TP (default: profile's)")
    parser.add_argument("--catalog", default=None, help="catalog folder (default: shipped)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


def node_document(stack: Stack, plan: NodePlan) -> dict:
    """One node's plan as JSON-ready data."""
    return {
        "rank": plan.rank,
        "role": plan.role,
        "address": plan.address,
        "host_checks": requirements(stack, plan),
        "weights": plan.weights,
        "manifest": str(PurePosixPath(plan.weights) / MANIFEST_NAME),
        "container": asdict(plan.container) if plan.container else None,
        "served_model_name": plan.served_model_name,
        "port": plan.port,
        "graph_mode": plan.graph_mode,
        "argv": plan.argv,
        "env": plan.env,
    }


def plan_document(stack: Stack) -> dict:
    """The whole bring-up plan of a stack as JSON-ready data."""
    target = stack.target
    return {
        "model": target.model.name,
        "hardware": target.hardware.name,
        "engine": target.hardware.serve.engine,
        "launcher": stack.launcher.kind,
        "tensor_parallel": target.deployment.tensor_parallel,
        "data_parallel": target.deployment.data_parallel,
        "expert_parallel": target.deployment.expert_parallel,
        "base_url": stack.base_url,
        "graph_modes": stack.modes,
        "nodes": [node_document(stack, p) for p in stack.nodes],
    }


def _text(doc: dict) -> str:
    lines = [
        f"{doc['model']} on {doc['hardware']} ({doc['engine']}, {doc['launcher']}, "
        f"TP {doc['tensor_parallel']} x DP {doc['data_parallel']}), served at "
        f"{doc['base_url']}"
    ]
    for node in doc["nodes"]:
        lines.append(f"\nnode {node['rank']} ({node['role']}, {node['address']})")
        lines.append("  host checks:")
        lines += [f"    {c['check']}: {c['requires']}" for c in node["host_checks"]]
        lines.append(f"  weights: {node['weights']}  (manifest {node['manifest']})")
        if node["container"]:
            lines.append(f"  container: {json.dumps(node['container'])}")
        lines.append("  env: " + " ".join(f"{k}={shlex.quote(v)}" for k, v in node["env"].items()))
        lines.append("  serve: " + shlex.join(node["argv"]))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Plan the target's stack with the given options and print it."""
    target = resolve_target(load_catalog(args.catalog), args.model, args.hardware)
    options = RunOptions(
        node_ips=tuple(args.node_ip),
        nic=args.nic,
        weights_root=args.weights_root,
        graph_mode=args.graph_mode,
        arch=args.arch,
    )
    doc = plan_document(Stack.plan(target, options))
    print(json.dumps(doc, indent=2, ensure_ascii=False) if args.json else _text(doc))
    return 0
