"""The suite's load generator: exact-length streamed requests, vLLM's metrics, a self-check.

`run_load(LoadConfig(...))` returns a JSON-ready result; `floors` compares results with
catalog floors and earlier baselines. `python -m deploy_helpers loadgen --help` runs it.
"""

from deploy_helpers.loadgen.runner import LoadConfig, run_load, run_load_async
from deploy_helpers.loadgen.selfcheck import Tolerance

__all__ = ["LoadConfig", "Tolerance", "run_load", "run_load_async"]
