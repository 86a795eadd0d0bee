#!/usr/bin/env python3
"""`vllm-mindspore` of the Ascend twin's 300I Duo image: vllm-mindspore on vLLM 0.9.1, simulated.

The image of seed 000 (intelligence_boom 0.1.0, 300I Duo, MindSpore 2.7) runs vllm-mindspore
on vLLM 0.9.1 (its br_infer_boom branch and v0.4.0 both pin v0.9.1). This program does what
its `vllm-mindspore` entry point (vllm_mindspore.scripts:main, setup.py:258 @v0.4.0) does
before vLLM's CLI, prints what that engine logs on a 310P chip, then execs vLLM 0.32 on the
CPU with the serve line folded for it (ascend_twin.fold_for_cpu). Source lines cited are
mindspore-ai/vllm-mindspore @v0.4.0 (c8def43) and vllm-project/vllm @v0.9.1 unless said.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping

import ascend_twin
from ascend_twin import EngineError, log, twin

VLLM_VERSION = "0.9.1"
MS = "vllm-mindspore"  # the prefix of vllm-mindspore's own log lines (logger.py:33-34)
# env_setup() defaults, each set only when unset (vllm_mindspore/scripts.py:25-55)
ENV_DEFAULTS = {
    "USE_TORCH": "FALSE",
    "USE_TF": "FALSE",
    "RUN_MODE": "prefict",
    "CUSTOM_MATMUL_SHUFFLE": "on",
    "HCCL_DETERMINISTIC": "false",
    "ASCEND_LAUNCH_BLOCKING": "0",
    "TE_PARALLEL_COMPILER": "0",
    "LCCL_DETERMINISTIC": "0",
    "MS_ENABLE_GRACEFUL_EXIT": "0",
    "CPU_AFFINIITY": "True",
    "MS_ENABLE_INTERNAL_BOOST": "on",
    "MS_ENABLE_LCCL": "off",
    "HCCL_EXEC_TIMEOUT": "7200",
    "DEVICE_NUM_PER_NODE": "16",
    "HCCL_OP_EXPANSION_MODE": "AIV",
    "MS_JIT_MODULES": "vllm_mindspore,research",
    "GLOG_v": "3",
    "RAY_CGRAPH_get_timeout": "360",
    "MS_NODE_TIMEOUT": "180",
}
# check_ready() sets this one the same way (vllm_mindspore/utils.py:321-325)
READY_ENV_DEFAULTS = {
    "MS_INTERNAL_DISABLE_CUSTOM_KERNEL_LIST": "FlashAttentionScore,PagedAttention",
}
# the backend check_ready() logs for VLLM_MS_MODEL_BACKEND (utils.py:192-197, 331-345)
BACKEND_LINES = {
    "mindformers": ("utils.py:332", "Run with Mindformers backend!"),
    "mindone": ("utils.py:341", "Run with MindONE backend!"),
    "native": ("utils.py:343", "Run with native model backend!"),
    None: ("utils.py:345", "Run with auto select model backend!"),
}
# vLLM 0.9.1's dtype names (vllm/config.py:3112-3118)
DTYPES = {
    "half": "float16",
    "float16": "float16",
    "float": "float32",
    "float32": "float32",
    "bfloat16": "bfloat16",
}


def import_time_lines(environ: Mapping[str, str]) -> None:
    """What importing vllm_mindspore logs (its __init__.py runs before the CLI's main).

    __init__.py:41 imports vllm_mindspore.logger (logger.py:75); utils.py logs both backend
    variables when imported (l.204-215); check_ready() at __init__.py:578 logs the backend.
    """
    log(
        "INFO",
        "logger.py:75",
        "The config of vllm-mindspore logger has been updated successfully.",
        MS,
    )
    old = environ.get("vLLM_MODEL_BACKEND")
    log("INFO", "utils.py:205", f'environment variable "vLLM_MODEL_BACKEND" is {old}', MS)
    if old is not None:
        log(
            "WARNING",
            "utils.py:207",
            '"vLLM_MODEL_BACKEND" will be removed, please use "VLLM_MS_MODEL_BACKEND"',
            MS,
        )
    backend = environ.get("VLLM_MS_MODEL_BACKEND")
    log("INFO", "utils.py:211", f'environment variable "VLLM_MS_MODEL_BACKEND" is {backend}', MS)
    backend = old if backend is None else backend
    choice = None if backend is None else backend.lower()
    if choice not in BACKEND_LINES:
        raise EngineError(
            "ValueError",
            f"Illegal value of VLLM_MS_MODEL_BACKEND '{backend}', "
            "allowed_values: mindformers, mindone, native",
            "utils.py:222-226",
        )
    where, message = BACKEND_LINES[choice]
    log("INFO", where, message, MS)


def served_dtype(args: argparse.Namespace, config: dict) -> str:
    """The dtype the 310P engine serves in, logging the cast as vllm-mindspore does.

    vllm_mindspore/config.py:231-264 (_get_and_verify_dtype, patched over vLLM's): "auto" takes
    the checkpoint's dtype, float32 goes to the platform's first dtype (bfloat16: vLLM 0.9.1
    vllm/config.py:3193-3205, platforms/interface.py:136-141); on 310P bfloat16 becomes
    float16 (l.252-253) before the cast is logged (l.255-264). A config.json without a dtype
    counts as float32, vLLM 0.9.1's last fallback (vllm/config.py:3179-3180); the safetensors
    metadata it reads first (l.3164-3177) is not.
    """
    checkpoint = str(config.get("torch_dtype") or config.get("dtype") or "float32")
    wanted = checkpoint if args.dtype == "auto" else DTYPES.get(args.dtype, args.dtype)
    if args.dtype == "auto" and wanted == "float32":
        wanted = "bfloat16"
    if wanted == "bfloat16":  # is_310p(): the 300I Duo's chips are 310P3
        wanted = "float16"
    if wanted != checkpoint:
        if wanted == "float32":
            log("INFO", "config.py:258", f"Upcasting torch.{checkpoint} to torch.{wanted}.", MS)
        elif checkpoint == "float32":
            log("INFO", "config.py:261", f"Downcasting torch.{checkpoint} to torch.{wanted}.", MS)
        else:
            log("WARNING", "config.py:264", f"Casting torch.{checkpoint} to torch.{wanted}.", MS)
    return wanted


def engine_config_line(args: argparse.Namespace, dtype: str, config: dict) -> None:
    """vLLM 0.9.1's `Initializing a V1 LLM engine (v0.9.1) with config: ...`, shortened.

    vllm/v1/engine/core.py:70-71; the fields are VllmConfig.__str__'s, in its order and spelling
    (vllm/config.py:4620-4652), those after served_model_name left out. enforce_eager (l.4639)
    is the only mode evidence this engine logs: MindSpore graph (jit O0) unless it is True
    (vllm_mindspore/model_executor/models/model_base.py:385, 520-545). A seed left unset is 0
    (vllm/config.py:464-465).
    """
    max_len = args.max_model_len or config_max_len(config)
    served = args.served_model_name[0] if args.served_model_name else args.model
    seed = 0 if args.seed is None else args.seed
    log(
        "INFO",
        "core.py:70",
        f"Initializing a V1 LLM engine (v{VLLM_VERSION}) with config: "
        f"model={args.model!r}, tokenizer={args.tokenizer or args.model!r}, "
        f"trust_remote_code={args.trust_remote_code}, dtype=torch.{dtype}, "
        f"max_seq_len={max_len}, tensor_parallel_size={args.tensor_parallel_size}, "
        f"pipeline_parallel_size={args.pipeline_parallel_size}, "
        f"quantization={args.quantization}, enforce_eager={args.enforce_eager}, "
        f"seed={seed}, served_model_name={served}, ...",
    )


def config_max_len(config: dict) -> object:
    """The checkpoint's max_position_embeddings, which vLLM takes when --max-model-len is unset."""
    return ascend_twin.config_value(config, "max_position_embeddings")


def main(argv: list[str], environ: Mapping[str, str]) -> int:
    """Run `vllm-mindspore ARGS` as the 300I Duo image would, on vLLM 0.32 CPU; exit status."""
    env = {k: v for k, v in {**ENV_DEFAULTS, **READY_ENV_DEFAULTS}.items() if k not in environ}
    try:
        import_time_lines(environ)
    except EngineError as error:
        return ascend_twin.report(error)
    twin(
        "env defaults of vllm_mindspore/scripts.py:25-55 and utils.py:321-325, set only "
        f"when unset: {', '.join(f'{k}={v}' for k, v in env.items()) or 'none (all set)'}"
    )
    if argv[1:2] != ["serve"]:
        twin("not `serve`: vLLM's CLI runs the arguments unchanged")
        return ascend_twin.exec_cpu_engine(argv[1:], [], env, environ, None)
    top, serve = ascend_twin.serve_parser(os.path.basename(argv[0]))
    args = ascend_twin.parse_serve(top, argv[1:])
    config = ascend_twin.checkpoint_config(args.model)
    dtype = served_dtype(args, config)
    engine_config_line(args, dtype, config)
    mode = (
        "PyNative (eager, --enforce-eager)"
        if args.enforce_eager
        else "MindSpore graph mode (jit O0, the default)"
    )
    cpu = ascend_twin.fold_for_cpu(args, serve, config, {**environ, **env}, mode)
    if dtype != str(config.get("torch_dtype") or config.get("dtype")):
        twin(
            f"dtype: the 310P engine serves torch.{dtype}; the CPU engine serves the "
            "checkpoint's own dtype (--dtype as given), or float32 on a CPU without AVX-512"
        )
    line = ascend_twin.without(argv[1:], cpu.drop)
    return ascend_twin.exec_cpu_engine(line, cpu.tail, {**env, **cpu.env}, environ, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv, os.environ))
