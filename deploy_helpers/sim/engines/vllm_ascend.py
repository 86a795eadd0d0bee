#!/usr/bin/env python3
"""`vllm` of the Ascend twin's vllm-ascend image: vllm-ascend v0.11.0rc0 on vLLM 0.11, simulated.

quay.io/ascend/vllm-ascend:v0.11.0rc0 (seed 003) runs vLLM's own CLI with the vllm-ascend
platform plugin (setup.py:392-396) on vLLM v0.11.0rc3 (Dockerfile:40). This program does what
the plugin does to the serve line, prints what the engine logs for the graph mode chosen on an
Atlas A2 (910B), then execs vLLM 0.32 on the CPU with the serve line folded for it
(ascend_twin.fold_for_cpu). Source lines cited are vllm-project/vllm-ascend @v0.11.0rc0
(00ba071) and vllm-project/vllm @v0.11.0, the release after the rc3 the image pins (rc3 is not
on PyPI: its line numbers may differ slightly).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

import ascend_twin
from ascend_twin import EngineError, log, twin

ASCEND = "ascend"  # ASCEND_QUANTIZATION_METHOD (vllm_ascend/utils.py:43)
MODEL_TYPE_ENV = "ASCEND_TWIN_MODEL_TYPE"
TORCHAIR_MODEL_LIST = ["deepseek", "pangu", "kimi_k2", "qwen"]  # ascend_config.py:20
# model types vLLM 0.11 runs with MLA when config.json has kv_lora_rank
# (vllm/config/model.py:1076-1082)
MLA_MODEL_TYPES = (
    "deepseek_v2",
    "deepseek_v3",
    "deepseek_v32",
    "deepseek_mtp",
    "kimi_k2",
    "longcat_flash",
)
# torchair_graph_config keys that need enabled: true (ascend_config.py:129-156)
TORCHAIR_ONLY_KEYS = (
    "mode",
    "use_cached_graph",
    "use_cached_kv_cache_bytes",
    "graph_batch_sizes",
    "graph_batch_sizes_init",
    "enable_multistream_mla",
    "enable_kv_nz",
)
AT = "vllm_ascend/ascend_config.py"


def add_ascend_quantization(serve: argparse.ArgumentParser) -> None:
    """Make `--quantization ascend` a choice, as NPUPlatform.pre_register_and_update does.

    vllm-ascend appends "ascend" to the flag's choices (platform.py:69-77). vLLM 0.11 builds
    those choices from its QuantizationMethods Literal, sorted, plus "None"
    (vllm/engine/arg_utils.py:116-129, 263-267); vLLM 0.32 types the flag `QuantizationMethods
    | str` and has none (vllm/config/model.py:260), so they are rebuilt from 0.32's Literal
    first: an unknown method is refused at parse time, exit 2, as vLLM 0.11 refuses it.
    """
    from typing import get_args

    from vllm.model_executor.layers.quantization import QuantizationMethods

    action = serve._option_string_actions["--quantization"]
    action.choices = [*sorted(get_args(QuantizationMethods)), "None"]
    action.choices.append(ASCEND)


def ascend_config(additional: dict) -> tuple[bool, bool]:
    """(torchair enabled, ascend scheduler enabled), read and checked as AscendConfig does.

    Only torchair_graph_config and ascend_scheduler_config are read; every other key is
    ignored without a word, as AscendConfig reads its keys with .get() (l.35-96).
    """
    torchair = additional.get("torchair_graph_config", {})
    enabled = torchair.get("enabled", False)  # l.105
    sizes = torchair.get("graph_batch_sizes", [])
    if not isinstance(sizes, list):
        raise EngineError("TypeError", "graph_batch_sizes must be list[int]", f"{AT}:123-124")
    if torchair.get("graph_batch_sizes_init", False) and sizes:
        raise EngineError(
            "ValueError",
            "graph_batch_sizes_init is only valid when graph_batch_sizes is empty",
            f"{AT}:125-128",
        )
    if not enabled:
        for key in TORCHAIR_ONLY_KEYS:
            if torchair.get(key):
                raise EngineError(
                    "RuntimeError",
                    f"{key} is valid only when Torchair graph mode is enabled",
                    f"{AT}:129-156",
                )
    if torchair.get("use_cached_kv_cache_bytes") and not torchair.get("use_cached_graph"):
        raise EngineError(
            "RuntimeError",
            "use_cached_kv_cache_bytes is valid only when "
            "Torchair graph mode and use_cached_graph are enabled",
            f"{AT}:157-160",
        )
    scheduler = additional.get("ascend_scheduler_config", {}).get("enabled", False)  # l.169
    return bool(enabled), bool(scheduler)


def model_type(config: dict, environ: Mapping[str, str], model: str) -> tuple[str, bool]:
    """(model type vllm-ascend's checks see, whether vLLM runs it with MLA).

    The twin serves a small stand-in checkpoint; ASCEND_TWIN_MODEL_TYPE, else the twin's
    ascend_twin.json beside it, names the model type of the checkpoint it stands in for (a
    real DeepSeek-V3.1 config has kv_lora_rank).
    """
    served = str(config.get("model_type", ""))
    source = MODEL_TYPE_ENV if environ.get(MODEL_TYPE_ENV) else ascend_twin.STAND_IN_FILE
    stand_in = environ.get(MODEL_TYPE_ENV) or ascend_twin.stand_in(model).get("model_type")
    if stand_in:
        twin(
            f"model type {stand_in} ({source}) stands in for the served checkpoint's "
            f"{served or 'unknown'} in vllm-ascend's model checks"
        )
        return stand_in, stand_in in MLA_MODEL_TYPES
    return served, served in MLA_MODEL_TYPES and config.get("kv_lora_rank") is not None


def platform_lines(args: argparse.Namespace, torchair: bool, mtype: str, mla: bool) -> None:
    """What NPUPlatform.check_and_update_config logs, in its order (platform.py:121-292)."""
    if not mla and not args.async_scheduling:
        log(
            "INFO",
            "platform.py:141",
            "Non-MLA LLMs forcibly disable the chunked prefill "
            "feature,as the performance of operators supporting this feature functionality "
            "is currently suboptimal.",
        )
    # check_ascend_config (ascend_config.py:205-238), called at platform.py:176
    if args.enforce_eager and torchair:
        raise EngineError(
            "RuntimeError",
            "Can't enable graph mode and eager mode at the same "
            "time. Please set `enforce_eager=False` if you attempt to enable NPU "
            "graph mode.",
            f"{AT}:209-214",
        )
    if (
        not args.enforce_eager
        and torchair
        and not any(m in mtype.lower() for m in TORCHAIR_MODEL_LIST)
    ):
        raise EngineError(
            "NotImplementedError",
            f"Torchair graph mode only works with following model types:{TORCHAIR_MODEL_LIST}.",
            f"{AT}:218-225",
        )
    if not args.enforce_eager and not torchair and "qwen" not in mtype:
        log(
            "WARNING",
            "ascend_config.py:235",
            "ACL Graph is currently experimental. Please "
            "raise an issue on https://github.com/vllm-project/vllm-ascend/issues if you "
            "encourage any Error",
        )
    if args.enforce_eager:
        log("INFO", "platform.py:179", "Compilation disabled, using eager mode by default")
    elif torchair:
        log(
            "INFO",
            "platform.py:194",
            "Torchair compilation enabled on NPU. Setting CUDAGraphMode to NONE",
        )
    else:
        # vLLM 0.11's default FULL_AND_PIECEWISE (vllm/config/__init__.py:358-366) becomes
        # PIECEWISE (platform.py:216-217), which logs this (l.223-229)
        log(
            "INFO",
            "platform.py:227",
            "PIECEWISE compilation enabled on NPU. use_inductor "
            "not supported - using only ACL Graph mode",
        )


def main(argv: list[str], environ: Mapping[str, str]) -> int:
    """Run `vllm ARGS` as the vllm-ascend image would, on vLLM 0.32 CPU; exit status."""
    # vLLM activates the one platform plugin installed (vllm/platforms/__init__.py:205-208)
    log("INFO", "__init__.py:207", "Platform plugin ascend is activated")
    if argv[1:2] != ["serve"]:
        twin("not `serve`: vLLM's CLI runs the arguments unchanged")
        return ascend_twin.exec_cpu_engine(argv[1:], [], {}, environ, None)
    top, serve = ascend_twin.serve_parser(os.path.basename(argv[0]))
    add_ascend_quantization(serve)
    args = ascend_twin.parse_serve(top, argv[1:])
    config = ascend_twin.checkpoint_config(args.model)
    additional = args.additional_config if isinstance(args.additional_config, dict) else {}
    if args.enforce_eager:
        # VllmConfig.__post_init__ (vllm/config/__init__.py:378-382) logs this, as
        # NPUPlatform.support_static_graph_mode() is True (platform.py:408-409), before it calls
        # check_and_update_config (l.460), which reads the additional config (platform.py:125)
        log("INFO", "__init__.py:381", "Cudagraph is disabled under eager mode")
    try:
        torchair, scheduler = ascend_config(additional)
        mtype, mla = model_type(config, environ, args.model)
        platform_lines(args, torchair, mtype, mla)
    except EngineError as error:
        return ascend_twin.report(error)
    tail = []
    if args.quantization == ASCEND:
        tail += ["--quantization", "None"]
        twin(
            "--quantization ascend dropped: vLLM 0.32 CPU has no such method ('Unknown "
            "quantization method: ascend') and serves the stand-in checkpoint unquantized"
        )
    if additional:
        twin(
            "--additional-config kept: vLLM 0.32 CPU takes it and ignores it; read above as "
            "vllm-ascend reads it"
        )
    if scheduler:
        twin(
            "ascend_scheduler_config.enabled: vLLM 0.32's own scheduler stands in for the "
            "AscendScheduler (vllm_ascend/platform.py:287-292)"
        )
    if args.enforce_eager:
        mode = "eager (--enforce-eager)"
    elif torchair:
        mode = "TorchAir graph mode (torchair_graph_config.enabled)"
    else:
        mode = "ACL Graph, PIECEWISE (the default)"
    cpu = ascend_twin.fold_for_cpu(args, serve, config, environ, mode)
    line = ascend_twin.without(argv[1:], cpu.drop)
    return ascend_twin.exec_cpu_engine(line, tail + cpu.tail, cpu.env, environ, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv, os.environ))
