"""Task scores over a served endpoint with lm-evaluation-harness (lm-eval 0.4.13).

`score_tasks` scores the catalog's `AccuracyTask`s of a deployment against an endpoint:
lm-eval's `local-completions` / `local-chat-completions` models send the task's prompts to
`/v1/completions` or `/v1/chat/completions` (greedy, no tokenizer of their own, one
attempt per request: a retry would hide a fault), and the task's metric comes back with
its Wilson interval and a few of the answers.

lm-eval runs in a worker process (`python -m deploy_helpers.client.accuracy`, request on
stdin, result in a file), so that its environment is its own: Hugging Face offline when
every task's data is local (a misconfigured task then fails in seconds instead of a
minute of hub retries), a scratch datasets cache, its logs in a file of the run folder,
and a crash or a hang that cannot take the suite down. It calls `lm_eval.evaluator.evaluate`
rather than `simple_evaluate`, which after scoring imports torch for its environment
report (`torch.utils.collect_env`, 6 s per call measured here) and runs `git describe`.

Tasks shipped with the suite live in deploy_helpers/tasks/ (lm-eval YAML and their JSONL
data, `data_files` relative to the YAML): a new task is data, not code. Standard tasks are
lm-eval's own by name (gsm8k ...); `dataset` points one at a local copy of its data.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy_helpers.catalog.schema import AccuracyTask, ThinkingSwitch
from deploy_helpers.client.endpoint import API_KEY_ENV, Endpoint, request_bound
from deploy_helpers.client.scoring import shown_interval, wilson_interval
from deploy_helpers.paths import PACKAGE, REPO_ROOT

TASKS = PACKAGE / "tasks"
ROUTES = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
LM_EVAL_MODELS = {"completions": "local-completions", "chat": "local-chat-completions"}
EXAMPLES = 6  # answers kept per task for messages and the report
FEWSHOT_SEED = 1234  # lm-eval's default few-shot seed (lm_eval.defaults.DEFAULT_OTHER_SEED)
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@dataclass(frozen=True)
class Example:
    """One scored document: what was due, what the model answered, and whether it counted."""

    target: str
    answer: str
    correct: bool


@dataclass(frozen=True)
class TaskScore:
    """A task's score on one service, or why it could not be scored."""

    task: str
    metric: str
    value: float | None = None
    samples: int = 0
    interval: tuple[float, float] | None = None
    examples: tuple[Example, ...] = ()
    wall_s: float = 0.0
    error: str | None = None

    def shown(self) -> str:
        """`capitals exact_match,strict-match 0.66 (n=40, 95% CI 0.51-0.79)` or the error."""
        if self.value is None:
            return f"{self.task}: not scored ({self.error})"
        extra = ", ".join(x for x in (f"n={self.samples}", shown_interval(self.interval)) if x)
        return f"{self.task} {self.metric} {self.value:.2f} ({extra})"

    def answers(self) -> str:
        """A few answers as `target -> answer` for messages."""
        return "; ".join(f"{e.target!r} -> {e.answer!r}" for e in self.examples)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskScore:
        """The score the worker wrote."""
        interval = tuple(data["interval"]) if data.get("interval") else None
        examples = tuple(Example(**e) for e in data.get("examples", ()))
        return cls(**{**data, "interval": interval, "examples": examples})


def shipped_tasks() -> dict[str, Path]:
    """The tasks shipped with the suite: task name -> its YAML file."""
    tasks = {}
    for path in sorted(TASKS.glob("*.yaml")):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        tasks[config["task"]] = path
    return tasks


def render_shipped(into: Path) -> Path:
    """The shipped task YAMLs written into `into` with absolute `data_files` (datasets
    resolves relative ones against the working directory, not the YAML's folder)."""
    for path in shipped_tasks().values():
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        files = config.get("dataset_kwargs", {}).get("data_files", {})
        config["dataset_kwargs"]["data_files"] = {
            split: str((path.parent / name).resolve()) for split, name in files.items()
        }
        (into / path.name).write_text(yaml.safe_dump(config, sort_keys=False))
    return into


def _local(task: AccuracyTask) -> bool:
    """Whether the task's data is on this machine (shipped, or a local copy given)."""
    return task.task in shipped_tasks() or bool(task.dataset)


def worker_request(
    endpoint: Endpoint, tasks: list[AccuracyTask], thinking: ThinkingSwitch | None, out: Path
) -> dict[str, Any]:
    """What the worker is asked: where to send requests, the tasks, where to write."""
    return {
        "base_url": endpoint.base_url,
        "model": endpoint.served_model_name,
        "tasks": [t.model_dump() for t in tasks],
        "out": str(out),
        "timeouts_s": {t.task: request_timeout_s(endpoint, t) for t in tasks},
        "thinking": thinking.model_dump() if thinking else None,
    }


def request_timeout_s(endpoint: Endpoint, task: AccuracyTask) -> float:
    """One scoring request's timeout: the profile's bound for a completion of max_gen_toks."""
    return request_bound(
        endpoint.bounds, "/v1/completions", {"max_tokens": task.max_gen_toks}
    ).seconds


def worker_timeout_s(endpoint: Endpoint, tasks: list[AccuracyTask]) -> float:
    """An upper bound of the worker's run: every request taking its whole timeout."""
    return 60 + sum(
        math.ceil((t.samples or 2000) / t.concurrency) * request_timeout_s(endpoint, t)
        for t in tasks
    )


def score_tasks(
    endpoint: Endpoint,
    tasks: list[AccuracyTask],
    thinking: ThinkingSwitch | None,
    log_path: Path | None = None,
) -> dict[str, TaskScore]:
    """Score `tasks` on `endpoint` in an lm-eval worker; task name -> score (or its error).

    The worker's output goes to `log_path` (default: discarded); the API key reaches it
    through its environment only.
    """
    if not tasks:
        return {}
    with tempfile.TemporaryDirectory(prefix="accuracy-") as scratch:
        out = Path(scratch) / "scores.json"
        # the worker imports this very package, whatever its working directory
        path = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
        env = {
            **os.environ,
            "HF_DATASETS_CACHE": str(Path(scratch) / "datasets"),
            "PYTHONPATH": path,
        }
        env.pop(API_KEY_ENV, None)
        if endpoint.api_key:
            env[API_KEY_ENV] = endpoint.api_key
        if all(_local(t) for t in tasks):
            env.update(OFFLINE_ENV)
        request = json.dumps(worker_request(endpoint, tasks, thinking, out))
        argv = [sys.executable, "-m", "deploy_helpers.client.accuracy"]
        started = time.monotonic()
        log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            done = subprocess.run(
                argv,
                input=request.encode(),
                stdout=log,
                stderr=log,
                env=env,
                cwd=scratch,
                timeout=worker_timeout_s(endpoint, tasks),
                check=False,
            )
            failure = (
                None
                if out.is_file()
                else f"the lm-eval worker exited with code {done.returncode} and no scores"
            )
        except subprocess.TimeoutExpired as exc:
            failure = f"the lm-eval worker did not finish within {exc.timeout:.0f} s"
        finally:
            if log_path:
                log.close()
        if failure:
            where = f" (its log: {log_path})" if log_path else ""
            wall = round(time.monotonic() - started, 1)
            return {
                t.task: TaskScore(t.task, t.metric, wall_s=wall, error=failure + where)
                for t in tasks
            }
        scores = json.loads(out.read_text())
    return {name: TaskScore.from_dict(data) for name, data in scores.items()}


# --------------------------------------------------------------------------- the worker


def _model(kind: str) -> type:
    """lm-eval's API model class for `kind`, sending no request seed: greedy requests need
    none, and a request seed may crash vllm-mindspore (seed 000 §5.2)."""
    from lm_eval.api.registry import get_model

    base = get_model(LM_EVAL_MODELS[kind])

    class Unseeded(base):
        def _create_payload(self, *args: Any, **kwargs: Any) -> dict:
            payload = super()._create_payload(*args, **kwargs)
            payload.pop("seed", None)
            return payload

    return Unseeded


def _spec(task: AccuracyTask) -> str | dict[str, Any]:
    """The lm-eval task spec: its name, or a group laying the local-copy overrides over it."""
    if not task.dataset:
        return task.task
    return {"group": f"{task.task}-local-copy", "task": [{"task": task.task, **task.dataset}]}


def _examples(samples: list[dict[str, Any]], metric: str, filter_name: str) -> list[Example]:
    mine = [s for s in samples if s.get("filter", "none") == filter_name]
    return [
        Example(str(s.get("target")), str(s["filtered_resps"][0])[:160], bool(s[metric]))
        for s in mine[:EXAMPLES]
    ]


def _interval(
    samples: list[dict[str, Any]], metric: str, filter_name: str
) -> tuple[float, float] | None:
    """The Wilson interval when every per-document value is 0 or 1, else None."""
    values = [s[metric] for s in samples if s.get("filter", "none") == filter_name]
    if not values or any(float(v) not in (0.0, 1.0) for v in values):
        return None
    return wilson_interval(int(sum(float(v) for v in values)), len(values))


def score_one(request: dict[str, Any], task: AccuracyTask, tasks_dir: Path) -> TaskScore:
    """Score one task with lm-eval against the request's endpoint."""
    from lm_eval import evaluator
    from lm_eval.tasks import TaskManager

    started = time.monotonic()
    manager = TaskManager(
        include_path=str(tasks_dir), include_defaults=task.task not in shipped_tasks()
    )
    loaded = manager.load([_spec(task)])
    if task.task not in loaded["tasks"]:
        raise ValueError(f"lm-eval loaded {sorted(loaded['tasks'])}, not {task.task}")
    gen_kwargs: dict[str, Any] = {"max_gen_toks": task.max_gen_toks}
    thinking = request["thinking"]
    if task.api == "chat" and thinking:
        gen_kwargs["chat_template_kwargs"] = {thinking["kwarg"]: task.thinking}
    for task_obj in loaded["tasks"].values():
        if task_obj.get_config("output_type") == "generate_until":
            task_obj.set_config(key="generation_kwargs", value=gen_kwargs, update=True)
        if task.num_fewshot is not None:
            task_obj.set_config(key="num_fewshot", value=task.num_fewshot)
        elif task_obj.get_config("num_fewshot") is None:
            task_obj.set_config(key="num_fewshot", value=0)
        task_obj.set_fewshot_seed(seed=FEWSHOT_SEED)
    key = os.environ.get(API_KEY_ENV)
    lm = _model(task.api).create_from_arg_obj(
        {
            "base_url": request["base_url"] + ROUTES[task.api],
            "model": request["model"],
            "tokenizer_backend": None if task.tokenizer == "none" else task.tokenizer,
            "num_concurrent": task.concurrency,
            "max_retries": 1,
            "timeout": math.ceil(request["timeouts_s"][task.task]),
            "max_length": task.max_length,
            "max_gen_toks": task.max_gen_toks,
            **({"header": {"Authorization": f"Bearer {key}"}} if key else {}),
        }
    )
    chat = task.api == "chat"
    results = evaluator.evaluate(
        lm=lm,
        task_dict=loaded,
        limit=task.samples,
        bootstrap_iters=0,
        log_samples=True,
        apply_chat_template=chat,
        fewshot_as_multiturn=chat,
    )
    scores = results["results"][task.task]
    if task.metric not in scores:
        found = sorted(k for k in scores if "," in k and "_stderr" not in k)
        raise ValueError(f"task {task.task} has no metric {task.metric!r}; it has {found}")
    metric, _, filter_name = task.metric.partition(",")
    samples = results["samples"][task.task]
    return TaskScore(
        task=task.task,
        metric=task.metric,
        value=float(scores[task.metric]),
        samples=int(results["n-samples"][task.task]["effective"]),
        interval=_interval(samples, metric, filter_name or "none"),
        examples=tuple(_examples(samples, metric, filter_name or "none")),
        wall_s=round(time.monotonic() - started, 1),
    )


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def main() -> None:
    """Worker: read the request from stdin, score each task, write the scores file."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    request = json.loads(sys.stdin.read())
    scores = {}
    with tempfile.TemporaryDirectory(prefix="tasks-") as folder:
        tasks_dir = render_shipped(Path(folder))
        for data in request["tasks"]:
            task = AccuracyTask.model_validate(data)
            try:
                scores[task.task] = score_one(request, task, tasks_dir)
            except Exception as exc:  # any scorer failure is reported, in one line
                print(f"scoring {task.task} failed:", file=sys.stderr)
                traceback.print_exc()
                scores[task.task] = TaskScore(
                    task.task, task.metric, error=f"lm-eval raised {one_line(exc)}"
                )
    Path(request["out"]).write_text(json.dumps({k: asdict(v) for k, v in scores.items()}))


if __name__ == "__main__":
    main()
