"""The Ascend twin's engine shims (deploy_helpers/sim/engines/) on the seeds' serve lines.

Each shim runs in this process with ASCEND_TWIN_DRY_RUN=1 on the argv and env the catalog's
plans give (seed 000: qwen2.5-14b on the 300I Duo; seed 003: deepseek-v3.1-w8a8 on two A2
nodes), the weights path swapped for a stand-in checkpoint whose config.json is the embedded
model's. What the shim would exec is parsed back with vLLM 0.32's own parser. The slow test at
the end runs the 300I Duo image with a real vLLM server (deploy_helpers/images/ascend-twin).
"""

from __future__ import annotations

import ast
import fcntl
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
ENGINES = REPO / "deploy_helpers" / "sim" / "engines"
TWIN = "[ascend-twin SIMULATED] "
# the embedded checkpoint's config.json (.weights/smollm2-135m), as far as the shims read it
STAND_IN = {
    "model_type": "llama",
    "dtype": "bfloat16",
    "max_position_embeddings": 8192,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
}
# a vLLM logger line (vllm/logger.py _FORMAT, _DATE_FORMAT), or vllm-mindspore's own
LOG_LINE = re.compile(r"^(INFO|WARNING) \d\d-\d\d \d\d:\d\d:\d\d (vllm-mindspore)?\[\w+\.py:\d+\] ")
ASCEND_EVIDENCE = {
    "aclgraph": [
        "PIECEWISE compilation enabled on NPU. use_inductor not supported - using "
        "only ACL Graph mode"
    ],
    "eager": [
        "Cudagraph is disabled under eager mode",
        "Compilation disabled, using eager mode by default",
    ],
    "torchair": ["Torchair compilation enabled on NPU. Setting CUDAGraphMode to NONE"],
}
EAGER_AND_TORCHAIR = (
    "Can't enable graph mode and eager mode at the same time. Please set "
    "`enforce_eager=False` if you attempt to enable NPU graph mode."
)


@dataclass
class Run:
    """One dry run of a shim: exit status, output, and the argv/env it would exec."""

    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def engine_lines(self) -> list[str]:
        """The lines reproduced from the NPU engine (the twin's own left out)."""
        return [line for line in self.lines if not line.startswith(TWIN)]

    def twin_value(self, prefix: str) -> object:
        """The JSON after `prefix` on the twin's line that starts with it."""
        for line in self.lines:
            if line.startswith(TWIN + prefix):
                return json.loads(line[len(TWIN + prefix) :])
        raise AssertionError(f"no twin line {prefix!r} in:\n{self.out}")

    @property
    def argv(self) -> list[str]:
        return self.twin_value("CPU engine argv: ")

    @property
    def env(self) -> dict[str, str]:
        return self.twin_value("CPU engine env set by the twin: ")


@pytest.fixture(scope="module")
def shims() -> Iterator[dict[str, ModuleType]]:
    """The two shims, imported from their files as the images run them (helper beside)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ENGINES))
        loaded = {}
        for name in ("vllm_mindspore", "vllm_ascend"):
            spec = importlib.util.spec_from_file_location(f"twin_{name}", ENGINES / f"{name}.py")
            loaded[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded[name])
        yield loaded


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint directory whose config.json is the embedded model's."""
    folder = tmp_path_factory.mktemp("stand-in")
    (folder / "config.json").write_text(json.dumps(STAND_IN))
    return folder


def plan(*args: str) -> dict:
    """`python -m deploy_helpers plan ARGS --json`."""
    done = subprocess.run(
        [sys.executable, "-m", "deploy_helpers", "plan", *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def seed_000() -> dict:
    """Node 0 of the 300I Duo plan: seed 000's `vllm-mindspore serve` line and env."""
    return plan("--model", "qwen2.5-14b")["nodes"][0]


@pytest.fixture(scope="module")
def seed_003() -> dict[str, list[dict]]:
    """Both nodes of the two-A2 plan per graph mode (torchair is seed 003's own line)."""
    return {
        mode: plan(
            "--model",
            "deepseek-v3.1-w8a8",
            "--node-ip",
            "10.0.0.1",
            "--node-ip",
            "10.0.0.2",
            "--graph-mode",
            mode,
        )["nodes"]
        for mode in ASCEND_EVIDENCE
    }


def dry_run(
    shim: ModuleType, argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> Run:
    """Run `shim` on `argv` with `env` (plus ASCEND_TWIN_DRY_RUN=1) in this process."""
    capsys.readouterr()
    try:
        code = shim.main(argv, {**env, "ASCEND_TWIN_DRY_RUN": "1"})
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return Run(code, out, err)


def with_weights(node: dict, weights: Path) -> list[str]:
    """The node's serve argv with its weights path swapped for `weights`."""
    return [str(weights) if arg == node["weights"] else arg for arg in node["argv"]]


def parse_back(shims: dict[str, ModuleType], argv: list[str]) -> object:
    """Parse an exec'd argv (python ascend_twin.py serve ...) with vLLM 0.32's own parser."""
    assert argv[1] == str(ENGINES / "ascend_twin.py")
    top, _ = shims["vllm_ascend"].ascend_twin.serve_parser("vllm")
    return shims["vllm_ascend"].ascend_twin.parse_serve(top, argv[2:])


# --------------------------------------------------------------------------- seed 000


def test_seed_000_line_on_310p(shims, seed_000, stand_in, capsys) -> None:
    run = dry_run(
        shims["vllm_mindspore"], with_weights(seed_000, stand_in), seed_000["env"], capsys
    )
    assert run.code == 0, run.err
    assert all(LOG_LINE.match(line) for line in run.engine_lines), run.out
    assert any(
        line.endswith("vllm-mindspore[config.py:264] Casting torch.bfloat16 to torch.float16.")
        for line in run.lines
    )
    (config,) = [line for line in run.lines if "Initializing a V1 LLM engine (v0.9.1)" in line]
    assert "[core.py:70]" in config
    assert "enforce_eager=False" in config and "enforce_eager=True" not in run.out
    assert "tensor_parallel_size=4" in config and "dtype=torch.float16" in config
    assert TWIN + "tensor parallel 4 folded to 1 on the CPU" in run.out
    args = parse_back(shims, run.argv)
    assert (args.model, args.tensor_parallel_size, args.enforce_eager) == (str(stand_in), 1, True)
    assert (args.port, args.host) == (8000, None)  # no --port, no --host: vLLM's defaults
    assert (args.max_model_len, args.block_size, args.max_num_seqs) == (8192, 128, 256)
    assert args.tool_call_parser == "hermes"
    # scripts.py's defaults only where the deployment set nothing: seed 000 exports AI_CPU
    assert "HCCL_OP_EXPANSION_MODE" not in run.env and "MS_ENABLE_LCCL" not in run.env
    assert run.env["MS_ENABLE_INTERNAL_BOOST"] == "on"
    assert run.env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert "VLLM_CPU_OMP_THREADS_BIND" not in run.env  # one engine: vLLM's own binding


def test_seed_000_eager_and_float16_config(shims, seed_000, tmp_path, capsys) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**STAND_IN, "dtype": "float16"}))
    argv = [*with_weights(seed_000, tmp_path), "--enforce-eager"]
    run = dry_run(shims["vllm_mindspore"], argv, seed_000["env"], capsys)
    assert run.code == 0, run.err
    assert "enforce_eager=True" in run.out and "enforce_eager=False" not in run.out
    assert "Casting" not in run.out  # seed 000 §2.1 sets torch_dtype float16 first
    assert parse_back(shims, run.argv).enforce_eager is True


def test_seed_000_unknown_backend_fails_as_check_ready(shims, seed_000, stand_in, capsys) -> None:
    env = {**seed_000["env"], "VLLM_MS_MODEL_BACKEND": "tensorrt"}
    run = dry_run(shims["vllm_mindspore"], with_weights(seed_000, stand_in), env, capsys)
    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "ValueError: Illegal value of VLLM_MS_MODEL_BACKEND "
        "'tensorrt', allowed_values: mindformers, mindone, native"
    )


# --------------------------------------------------------------------------- seed 003


@pytest.mark.parametrize("mode", list(ASCEND_EVIDENCE))
@pytest.mark.parametrize("rank", [0, 1])
def test_seed_003_lines_per_graph_mode(
    shims, seed_003, stand_in, capsys, mode: str, rank: int
) -> None:
    node = seed_003[mode][rank]
    env = {**node["env"], "ASCEND_TWIN_MODEL_TYPE": "deepseek_v3"}
    run = dry_run(shims["vllm_ascend"], with_weights(node, stand_in), env, capsys)
    assert run.code == 0, run.err
    assert all(LOG_LINE.match(line) for line in run.engine_lines), run.out
    assert run.engine_lines[0].endswith("[__init__.py:207] Platform plugin ascend is activated")
    for other, evidence in ASCEND_EVIDENCE.items():
        for line in evidence:
            assert (line in run.out) == (other == mode), (mode, line)
    if mode == "eager":  # vLLM's line comes first, then vllm-ascend's
        assert run.out.index(ASCEND_EVIDENCE["eager"][0]) < run.out.index(
            ASCEND_EVIDENCE["eager"][1]
        )
    assert ("ACL Graph is currently experimental" in run.out) == (mode == "aclgraph")
    assert "Non-MLA LLMs" not in run.out  # DeepSeek runs with MLA
    assert TWIN + "tensor parallel 8 folded to 1 on the CPU" in run.out
    args = parse_back(shims, run.argv)
    assert (args.tensor_parallel_size, args.enforce_eager, args.quantization) == (1, True, None)
    assert args.additional_config["ascend_scheduler_config"] == {"enabled": True}
    assert (args.max_model_len, args.max_num_batched_tokens) == (8192, 17450)
    assert args.enable_expert_parallel is False  # the stand-in has no experts
    assert (args.served_model_name, args.host, args.port) == (["ds-v31"], "0.0.0.0", 8000)
    assert (args.data_parallel_size, args.data_parallel_size_local) == (2, 1)
    assert (args.data_parallel_address, args.data_parallel_rpc_port) == ("10.0.0.1", 13389)
    assert args.headless is (rank == 1)
    assert args.api_server_count == (1 if rank == 0 else None)
    assert args.data_parallel_start_rank == (1 if rank == 1 else None)
    cores = sorted(os.sched_getaffinity(0))
    assert run.env["VLLM_CPU_OMP_THREADS_BIND"] == str(cores[rank % len(cores)])
    assert run.env["VLLM_CPU_KVCACHE_SPACE"] == "2"


def test_default_port_and_host_are_vllms(shims, seed_003, stand_in, capsys) -> None:
    node = seed_003["aclgraph"][0]
    argv = with_weights(node, stand_in)
    for flag in ("--host", "--port"):
        del argv[argv.index(flag) : argv.index(flag) + 2]
    run = dry_run(shims["vllm_ascend"], argv, node["env"], capsys)
    assert run.code == 0, run.err
    args = parse_back(shims, run.argv)
    assert (args.port, args.host) == (8000, None)  # None: every interface


def test_torchair_with_enforce_eager_refused(shims, seed_003, stand_in, capsys) -> None:
    node = seed_003["torchair"][0]
    env = {**node["env"], "ASCEND_TWIN_MODEL_TYPE": "deepseek_v3"}
    run = dry_run(
        shims["vllm_ascend"], [*with_weights(node, stand_in), "--enforce-eager"], env, capsys
    )
    assert run.code == 1
    assert run.err.splitlines()[-1] == f"RuntimeError: {EAGER_AND_TORCHAIR}"
    assert "CPU engine argv" not in run.out


def test_torchair_needs_a_torchair_model_type(shims, seed_003, stand_in, capsys) -> None:
    node = seed_003["torchair"][0]  # the stand-in's own type, llama, without the override
    run = dry_run(shims["vllm_ascend"], with_weights(node, stand_in), node["env"], capsys)
    assert run.code == 1
    assert run.err.splitlines()[-1] == (
        "NotImplementedError: Torchair graph mode only works with following model types:"
        "['deepseek', 'pangu', 'kimi_k2', 'qwen']."
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"torchair_graph_config": {"enabled": True, "graph_batch_sizes": 8}},
            "TypeError: graph_batch_sizes must be list[int]",
        ),
        (
            {"torchair_graph_config": {"graph_batch_sizes": [8]}},
            "RuntimeError: graph_batch_sizes is valid only when Torchair graph mode is enabled",
        ),
        (
            {"no_such_key": 1, "torchair_graph_config": {"enabled": False, "no_such_option": 2}},
            None,
        ),
    ],
)
def test_additional_config_as_vllm_ascend_reads_it(
    shims, seed_003, stand_in, capsys, config: dict, message: str | None
) -> None:
    node = seed_003["aclgraph"][0]
    argv = with_weights(node, stand_in)
    argv[argv.index("--additional-config") + 1] = json.dumps(config)
    run = dry_run(shims["vllm_ascend"], argv, node["env"], capsys)
    if message is None:  # unknown keys are ignored: ACL Graph, accepted
        assert run.code == 0, run.err
        assert ASCEND_EVIDENCE["aclgraph"][0] in run.out
        assert parse_back(shims, run.argv).additional_config == config
    else:
        assert run.code == 1
        assert run.err.splitlines()[-1] == message


def test_qwen_on_a2_logs_non_mla_and_no_experimental_warning(
    shims, seed_003, tmp_path, capsys
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**STAND_IN, "model_type": "qwen2"}))
    node = seed_003["aclgraph"][0]
    run = dry_run(shims["vllm_ascend"], with_weights(node, tmp_path), node["env"], capsys)
    assert run.code == 0, run.err
    assert "[platform.py:141] Non-MLA LLMs forcibly disable the chunked prefill" in run.out
    assert "ACL Graph is currently experimental" not in run.out


# --------------------------------------------------------------------------- vLLM's parser


@pytest.mark.parametrize("shim", ["vllm_mindspore", "vllm_ascend"])
def test_typo_flag_refused_as_vllm_refuses_it(
    shims, seed_000, stand_in, capsys, monkeypatch, shim: str
) -> None:
    argv = ["vllm", "serve", str(stand_in), "--tensor_paralel_size=4"]
    run = dry_run(shims[shim], argv, {}, capsys)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("VLLM_WORKER_MULTIPROC_METHOD", "spawn")  # main() sets it otherwise
    with pytest.raises(SystemExit) as vllm_exit:
        shims[shim].ascend_twin.run_vllm_cli()  # vLLM 0.32's own CLI
    vllm_err = capsys.readouterr().err
    assert run.code == vllm_exit.value.code == 2
    assert (
        run.err.splitlines()[-1]
        == vllm_err.splitlines()[-1]
        == ("vllm: error: unrecognized arguments: --tensor-paralel-size=4")
    )
    assert "CPU engine argv" not in run.out


def test_underscore_spellings_and_unknown_quantization(shims, stand_in, capsys) -> None:
    run = dry_run(
        shims["vllm_ascend"],
        ["vllm", "serve", str(stand_in), "--tensor_parallel_size=2", "--max_model_len=4096"],
        {},
        capsys,
    )
    assert run.code == 0, run.err
    assert TWIN + "tensor parallel 2 folded to 1 on the CPU" in run.out
    assert parse_back(shims, run.argv).max_model_len == 4096
    run = dry_run(
        shims["vllm_ascend"],
        ["vllm", "serve", str(stand_in), "--quantization", "ascnd"],
        {},
        capsys,
    )
    assert run.code == 2
    assert "argument --quantization/-q: invalid choice: 'ascnd'" in run.err
    assert "'ascend')" in run.err  # the plugin's choice, appended last


def test_secrets_never_printed(shims, stand_in, capsys) -> None:
    run = dry_run(
        shims["vllm_ascend"],
        ["vllm", "serve", str(stand_in), "--api-key", "s3cret-key", "--hf-token=s3cret-token"],
        {"VLLM_API_KEY": "s3cret-env"},
        capsys,
    )
    assert run.code == 0, run.err
    assert "s3cret" not in run.out + run.err
    assert run.argv[run.argv.index("--api-key") + 1] == "***"
    assert "--hf-token=***" in run.argv


def test_shim_file_runs_as_the_image_runs_it(stand_in) -> None:
    """The executable itself (helper imported from its own folder): a typo exits 2."""
    done = subprocess.run(
        [
            sys.executable,
            str(ENGINES / "vllm_mindspore.py"),
            "serve",
            str(stand_in),
            "--max-modle-len=8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={"ASCEND_TWIN_DRY_RUN": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "vllm_mindspore.py: error: unrecognized arguments: --max-modle-len=8"
    )
    assert "The config of vllm-mindspore logger has been updated successfully." in done.stdout


def test_shims_import_only_the_standard_library_vllm_and_their_helper() -> None:
    """deploy_helpers is not in the images: the shim files must not import it."""
    allowed = set(sys.stdlib_module_names) | {"vllm", "ascend_twin", "__future__"}
    for path in ENGINES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert {n.split(".")[0] for n in names} <= allowed, (path.name, names)


# --------------------------------------------------------------------------- the image


@pytest.fixture
def vllm_lock() -> Iterator[None]:
    """This machine's lock for real vLLM servers and heavy docker work (/tmp/vllm.lock)."""
    with open("/tmp/vllm.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_300i_duo_image_serves_a_completion(seed_000, vllm_lock) -> None:
    """Seed 000's serve line in the twin's 300I Duo image, real vLLM CPU underneath."""
    image = seed_000["container"]["image"]
    if _docker("image", "inspect", image).returncode != 0:
        pytest.fail(
            f"image {image} missing: run deploy_helpers/images/ascend-twin/build.sh "
            "(./setup.sh does, as root)"
        )
    weights = REPO / ".weights" / "smollm2-135m"
    if not (weights / "config.json").is_file():
        pytest.fail(f"{weights} missing: run ./setup.sh")
    serve = [*seed_000["argv"][:2], "/weights", *seed_000["argv"][3:]]
    name = f"twin-300i-duo-{uuid.uuid4().hex[:8]}"
    env = [f"--env={key}={value}" for key, value in seed_000["env"].items()]
    # as seed 000 §4 runs it: bash in the container, the serve line inside it (bash's "$@",
    # no command string); its own network namespace, so port 8000 clashes with nothing
    started = _docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        "none",
        "--ipc",
        "host",
        *env,
        "-v",
        f"{weights.resolve()}:/weights:ro",
        image,
        "/bin/bash",
        "-c",
        '"$@"',
        "bash",
        *serve,
    )
    assert started.returncode == 0, started.stderr
    try:
        shebang = _docker("exec", name, "head", "-1", "/usr/local/bin/vllm-mindspore").stdout
        started_at, answer = time.monotonic(), None
        while answer is None and time.monotonic() < started_at + 170:
            time.sleep(3)
            done = _docker(
                "exec", name, shebang.strip().removeprefix("#!"), "-c", COMPLETION, timeout=90
            )
            if done.returncode == 0:
                answer = done.stdout
            state = _docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip()
            assert state == "true", _docker("logs", name).stdout[-3000:]
        log = _docker("logs", name).stdout
        assert answer is not None, f"no completion within 170 s:\n{log[-3000:]}"
        assert "Initializing a V1 LLM engine (v0.9.1)" in log and "enforce_eager=False" in log
        assert TWIN + "tensor parallel 4 folded to 1 on the CPU" in log
    finally:
        _docker("rm", "-f", name)


# one greedy completion from the server inside the container, printed
COMPLETION = """
import json, urllib.request
body = {"model": "/weights", "prompt": "The capital of France is", "max_tokens": 8,
        "temperature": 0}
request = urllib.request.Request("http://127.0.0.1:8000/v1/completions",
                                 json.dumps(body).encode(), {"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(request, timeout=60))["choices"][0]["text"])
"""


def test_the_twins_description_sets_model_type_and_the_stand_ins_parsers(
    shims, seed_003, tmp_path: Path, capsys
) -> None:
    (tmp_path / "config.json").write_text(json.dumps(STAND_IN))
    described = {
        "model_type": "deepseek_v3",
        "tool_call_parser": "hermes",
        "reasoning_parser": None,
    }
    (tmp_path / "ascend_twin.json").write_text(json.dumps(described))
    node = seed_003["torchair"][0]  # deepseek_v31 tool parser, deepseek_v3 reasoning parser
    run = dry_run(shims["vllm_ascend"], with_weights(node, tmp_path), node["env"], capsys)
    assert run.code == 0, run.err
    assert "model type deepseek_v3 (ascend_twin.json) stands in" in run.out
    assert "--tool-call-parser deepseek_v31 folded to hermes" in run.out
    assert "--reasoning-parser deepseek_v3 dropped" in run.out
    argv = json.loads(run.out.split("CPU engine argv: ", 1)[1].splitlines()[0])
    assert (
        "--reasoning-parser" not in argv
        and argv[-argv[::-1].index("--tool-call-parser") :][0] == "hermes"
    )
