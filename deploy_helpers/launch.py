"""Bring a planned service up and down: the one entry point for every launcher."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy_helpers.errors import SuiteError
from deploy_helpers.openai_client import Endpoint
from deploy_helpers.serve_plan import NodePlan, Target, build_plan
from deploy_helpers.server_process import free_port, running_process


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
        env["VLLM_API_KEY"] = api_key  # passed by environment so it never shows in an argv
    if target.hardware.launcher == "process":
        with running_process(
            plan.argv, env, log, base_url, plan.served_model_name,
            target.hardware.serve.readiness_timeout_s,
        ):
            yield endpoint
        return
    raise SuiteError(f"{target.hardware.name}: launcher '{target.hardware.launcher}' not wired")

