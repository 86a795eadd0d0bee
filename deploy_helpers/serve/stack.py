"""Bring a planned service up and down: the one entry point for every launcher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from deploy_helpers.catalog.target import Target
from deploy_helpers.client.endpoint import API_KEY_ENV, Endpoint
from deploy_helpers.errors import SuiteError
from deploy_helpers.report import facts
from deploy_helpers.report.redact import redact_argv, redact_env
from deploy_helpers.serve.nodes import in_container, serving_nodes, watch_nodes
from deploy_helpers.serve.plan import NodePlan, build_plan
from deploy_helpers.serve.process import free_port, running_process, wait_until_serving


def local_plan(target: Target, graph_mode: str | None = None, **kwargs) -> NodePlan:
    """The plan of a single-node target on this machine, with a free port."""
    plans = build_plan(target, port=free_port(), graph_mode=graph_mode, **kwargs)
    if len(plans) != 1:
        raise SuiteError(f"{target.id} needs {len(plans)} nodes: pass --node-ip for each")
    return plans[0]


@contextmanager
def serve(
    target: Target, plan: NodePlan, log_dir: Path, api_key: str | None = None
) -> Iterator[Endpoint]:
    """Run `plan` with the target's launcher; yield its endpoint once it serves."""
    mode = plan.graph_mode or "default"
    log = log_dir / f"server-{target.model.name}-{mode}.log"
    host = "127.0.0.1" if plan.address in ("0.0.0.0", "") else plan.address
    base_url = f"http://{host}:{plan.port}"
    endpoint = Endpoint(base_url, plan.served_model_name, api_key=api_key, log_path=log)
    env = dict(plan.env)
    if api_key:
        env[API_KEY_ENV] = api_key  # passed by environment so it never shows in an argv
    record_bring_up(log_dir, target, mode, base_url, plan.argv, env, log)
    if target.hardware.launcher == "process":
        with running_process(
            plan.argv, env, log, base_url, plan.served_model_name,
            target.hardware.serve.readiness_timeout_s, headers=endpoint.headers,
        ):
            yield endpoint
        return
    if target.hardware.launcher == "container":
        with in_container(target, plan, env, log) as alive:
            wait_until_serving(
                base_url, plan.served_model_name, target.hardware.serve.readiness_timeout_s,
                alive=watch_nodes([("container", alive, log)]), log=log,
                headers=endpoint.headers,
            )
            yield endpoint
        return
    raise SuiteError(f"{target.hardware.name}: launcher '{target.hardware.launcher}' not wired")


def record_bring_up(log_dir: Path, target: Target, mode: str, base_url: str, argv: list[str],
                    env: dict[str, str], log: Path, **more: Any) -> None:
    """Add one server start (its argv and env, secrets masked) to the run's fingerprint."""
    facts.record(log_dir, facts.BRING_UP, {
        "graph_mode": mode, "launcher": target.hardware.launcher, "base_url": base_url,
        "argv": redact_argv(argv), "env": redact_env(env), "log": log.name,
        "engine": target.hardware.serve.engine, "started": facts.now_iso(), **more,
    }, target=target.id, append=True, source="launch")


def cluster_plans(
    target: Target, node_ips: list[str], graph_mode: str | None = None, **kwargs
) -> list[NodePlan]:
    """The plans of every node of a multi-node target, node 0 first (its port: the profile's)."""
    nodes = target.hardware.nodes
    if len(node_ips) != nodes:
        raise SuiteError(
            f"{target.id} runs on {nodes} nodes: pass --node-ip once per node, node 0 first "
            f"(got {len(node_ips)})"
        )
    return build_plan(target, node_ips=node_ips, graph_mode=graph_mode, **kwargs)


@contextmanager
def serve_cluster(
    target: Target, plans: list[NodePlan], log_dir: Path, api_key: str | None = None
) -> Iterator[Endpoint]:
    """Run every node's plan on its node over ssh; yield node 0's endpoint once all have joined."""
    head = plans[0]
    base_url = f"http://{head.address}:{head.port}"
    mode = head.graph_mode or "default"
    logs = [log_dir / f"server-{target.model.name}-{mode}-node{p.rank}.log" for p in plans]
    endpoint = Endpoint(base_url, head.served_model_name, api_key=api_key, log_path=logs[0])
    secrets = {API_KEY_ENV: api_key} if api_key else {}
    record = partial(record_bring_up, log_dir, target, mode, base_url)
    with serving_nodes(target, plans, logs, secrets, endpoint, record):
        yield endpoint



@contextmanager
def serve_target(
    target: Target, graph_mode: str | None, log_dir: Path, *, node_ips: list[str],
    weights_root: str | None = None, api_key: str | None = None,
) -> Iterator[Endpoint]:
    """Bring `target` up in `graph_mode` as its profile says (one node, or every node of a
    cluster over ssh); yield the endpoint that serves it."""
    if target.hardware.nodes > 1:
        plans = cluster_plans(target, node_ips, graph_mode, weights_root=weights_root)
        with serve_cluster(target, plans, log_dir, api_key=api_key) as endpoint:
            yield endpoint
        return
    plan = local_plan(target, graph_mode, weights_root=weights_root)
    with serve(target, plan, log_dir, api_key=api_key) as endpoint:
        yield endpoint
