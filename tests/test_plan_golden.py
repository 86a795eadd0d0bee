"""Bring-up plans held to the deployment guides (seeds 000 and 003), for every catalog entry.

The expected values below are typed from the seeds, not derived from the catalog, so a
catalog edit that drifts from a guide fails here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.errors import SuiteError
from deploy_helpers.serve.stack import RunOptions, Stack

REPO = Path(__file__).resolve().parent.parent
CATALOG = load_catalog()
ENTRIES = [(m.name, d.hardware) for m in CATALOG.models.values() for d in m.deployments]

# seed 000 §4 (启动镜像, 服务化部署) and FAQ 6.3
SEED_000_SERVE = (
    "--trust_remote_code --tensor_parallel_size={tp} --max-num-seqs=256 --block-size=128 "
    "--gpu-memory-utilization={util} --max-num-batched-tokens=4096 --max-model-len=8192"
)
SEED_000_UTILIZATION = {"32B": 0.8, "14B": 0.5, "8B": 0.3, "7B": 0.3, "4B": 0.3, "3B": 0.3}
SEED_000_DEVICES = [
    "/dev/davinci0",
    "/dev/davinci1",
    "/dev/davinci2",
    "/dev/davinci3",
    "/dev/davinci_manager",
    "/dev/devmm_svm",
    "/dev/hisi_hdc",
]
SEED_000_MOUNTS = [
    "/usr/local/Ascend/driver:/usr/local/Ascend/driver",
    "/usr/local/Ascend/add-ons/:/usr/local/Ascend/add-ons/",
    "/usr/local/sbin/:/usr/local/sbin/",
    "/var/log/npu/slog/:/var/log/npu/slog",
    "/var/log/npu/profiling/:/var/log/npu/profiling",
    "/var/log/npu/dump/:/var/log/npu/dump",
    "/var/log/npu/:/usr/slog",
    "/etc/hccn.conf:/etc/hccn.conf",
]
SEED_000_IMAGE = (
    "hub.oepkgs.net/oedeploy/openeuler/{arch}/intelligence_boom:0.1.0-{arch}-"
    "300I-Duo-mindspore2.7-openeuler24.03-lts-sp2"
)

# seed 003 §4.3 / §4.4, verbatim but for the line breaks
SEED_003_NODE0 = """vllm serve /opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8 --host 0.0.0.0 --port 8000
--data-parallel-size 2 --data-parallel-size-local 1 --data-parallel-address $local_ip
--data-parallel-rpc-port 13389 --seed 1024 --served-model-name ds-v31 --tensor-parallel-size 8
--enable-expert-parallel --max-num-seqs 8 --max-model-len 17450 --max-num-batched-tokens 17450
--trust-remote-code --no-enable-prefix-caching --gpu-memory-utilization 0.9 --quantization ascend
--additional-config '{"ascend_scheduler_config":{"enabled":true},"torchair_graph_config":{"enabled":true,"graph_batch_sizes":[8]}}'"""  # noqa: E501
SEED_003_NODE1 = """vllm serve /opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8 --host 0.0.0.0 --port 8000
--headless --data-parallel-size 2 --data-parallel-size-local 1 --data-parallel-start-rank 1
--data-parallel-address $node0_ip --data-parallel-rpc-port 13389 --seed 1024
--tensor-parallel-size 8 --served-model-name ds-v31 --max-num-seqs 8 --max-model-len 17450
--max-num-batched-tokens 17450 --enable-expert-parallel --trust-remote-code
--no-enable-prefix-caching --gpu-memory-utilization 0.9 --quantization ascend
--additional-config '{"ascend_scheduler_config":{"enabled":true},"torchair_graph_config":{"enabled":true,"graph_batch_sizes":[8]}}'"""  # noqa: E501
SEED_003_ENV = {  # §4.1 / §4.2 with nic_name enp67s0f0np0
    "VLLM_USE_MODELSCOPE": "True",
    "GLOO_SOCKET_IFNAME": "enp67s0f0np0",
    "TP_SOCKET_IFNAME": "enp67s0f0np0",
    "HCCL_SOCKET_IFNAME": "enp67s0f0np0",
    "HCCL_OP_EXPANSION_MODE": "AIV",
    "PYTORCH_NPU_ALLOC_CONF": "expandable_segments:True",
    "OMP_PROC_BIND": "false",
    "OMP_NUM_THREADS": "100",
    "HCCL_BUFFSIZE": "1024",
}
SEED_003_MOUNTS = [
    "/usr/share/zoneinfo/Asia/Shanghai:/etc/localtime",
    "/usr/local/dcmi:/usr/local/dcmi",
    "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool",
    "/usr/local/bin/npu-smi:/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/:/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info:/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info:/etc/ascend_install.info",
    "/home:/home",
    "/opt:/opt",
]
NODE0, NODE1 = "71.10.29.114", "71.10.29.116"


def plan_cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m deploy_helpers plan ARGS`."""
    return subprocess.run(
        [sys.executable, "-m", "deploy_helpers", "plan", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def plan_json(*args: str) -> dict:
    """The JSON plan the CLI prints."""
    done = plan_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def parser_flags(model: str, style: str) -> list[str]:
    """The tool/reasoning parser flags the catalog's chat features imply."""
    chat = CATALOG.models[model].chat
    pairs = []
    if chat.tool_call_parser:
        pairs += [
            ("--enable-auto-tool-choice", None),
            ("--tool-call-parser", chat.tool_call_parser),
        ]
    if chat.reasoning_parser:
        pairs.append(("--reasoning-parser", chat.reasoning_parser))
    argv: list[str] = []
    for flag, value in pairs:
        if value is None:
            argv.append(flag)
        else:
            argv += [f"{flag}={value}"] if style == "equals" else [flag, value]
    return argv


def as_mapping(argv: list[str]) -> dict[str, str | bool]:
    """`--flag value` / `--flag` words as a mapping (order-free comparison)."""
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            flags[argv[i]] = argv[i + 1]
            i += 2
        else:
            flags[argv[i]] = True
            i += 1
    return flags


# --------------------------------------------------------------------------- every entry


@pytest.mark.parametrize(("model", "hardware"), ENTRIES, ids=[f"{m}@{h}" for m, h in ENTRIES])
def test_every_catalog_entry_plans_per_its_guide(model: str, hardware: str) -> None:
    target = resolve_target(CATALOG, model, hardware)
    hw, dep = target.hardware, target.deployment
    ips = [NODE0, NODE1][: hw.nodes]
    try:
        stack = Stack.plan(
            target, RunOptions(node_ips=tuple(ips), arch="aarch64", endpoint="http://127.0.0.1:9")
        )
    except SuiteError as exc:
        # only an in-progress model may lack a guide fact; it must say which, in one line
        assert target.model.status == "in-progress", exc
        assert "\n" not in str(exc) and target.model.size_class in str(exc)
        return
    plans = stack.nodes
    assert len(plans) == hw.nodes
    for plan in plans:
        assert plan.weights in plan.argv  # the engine's positional or --model argument
        assert plan.weights.endswith(target.model.weights_dir or model)
        assert all(isinstance(v, str) for v in plan.env.values())
        tail = parser_flags(model, hw.serve.flag_style)
        assert plan.argv[len(plan.argv) - len(tail) :] == tail
        if stack.launcher.uses_containers:
            assert plan.container is not None and plan.container.image
        else:
            assert plan.container is None
        if stack.launcher.uses_containers and hw.accelerator == "npu":
            davinci = [f"/dev/davinci{i}" for i in range(dep.tensor_parallel)]
            assert set(davinci) <= set(plan.container.devices)
            assert {"/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"} <= set(
                plan.container.devices
            )
    if hardware == "atlas-300i-duo":
        plan = plans[0]
        # a deployment override (e.g. the in-progress MoE) replaces FAQ 6.3's size rule
        util = dep.gpu_memory_utilization or SEED_000_UTILIZATION[target.model.size_class]
        expected = [
            "vllm-mindspore",
            "serve",
            plan.weights,
            *SEED_000_SERVE.format(tp=dep.tensor_parallel, util=util).split(),
        ]
        assert plan.argv == expected + parser_flags(model, "equals")
        assert plan.env == {
            "MS_ENABLE_LCCL": "off",
            "HCCL_OP_EXPANSION_MODE": "AI_CPU",
            "ASCEND_RT_VISIBLE_DEVICES": ",".join(str(i) for i in range(dep.tensor_parallel)),
        }
        assert plan.container.devices == SEED_000_DEVICES
        # seed 000 mounts no weights: the catalog adds the model folder (read-only)
        assert plan.container.mounts == [*SEED_000_MOUNTS, f"{plan.weights}:{plan.weights}:ro"]


def test_tensor_parallel_per_model_on_300i_duo() -> None:
    tp = {
        m: resolve_target(CATALOG, m, "atlas-300i-duo").deployment.tensor_parallel
        for m, h in ENTRIES
        if h == "atlas-300i-duo" and CATALOG.models[m].status == "supported"
    }
    assert tp == {
        "qwen2.5-3b": 1,
        "qwen2.5-7b": 2,
        "qwen2.5-14b": 4,
        "qwen2.5-32b": 4,
        "qwen3-4b": 1,
        "qwen3-8b": 2,
        "qwen3-14b": 4,
        "qwen3-32b": 4,
    }


# --------------------------------------------------------------------------- seed 000 exactly


@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
def test_qwen25_14b_on_300i_duo_is_seed_000(arch: str) -> None:
    doc = plan_json("--model", "qwen2.5-14b", "--hardware", "atlas-300i-duo", "--arch", arch)
    assert (doc["engine"], doc["launcher"]) == ("vllm-mindspore", "container")
    [node] = doc["nodes"]
    weights = "/home/ckpt/qwen2.5-14B"  # seed 000 §2.1
    assert node["weights"] == weights
    assert node["manifest"] == f"{weights}/manifest.sha256.json"
    assert node["argv"] == [
        "vllm-mindspore",
        "serve",
        weights,
        "--trust_remote_code",
        "--tensor_parallel_size=4",
        "--max-num-seqs=256",
        "--block-size=128",
        "--gpu-memory-utilization=0.5",
        "--max-num-batched-tokens=4096",
        "--max-model-len=8192",
        "--enable-auto-tool-choice",
        "--tool-call-parser=hermes",
    ]
    assert node["env"] == {
        "MS_ENABLE_LCCL": "off",
        "HCCL_OP_EXPANSION_MODE": "AI_CPU",
        "ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3",
    }
    assert node["served_model_name"] == weights  # seed 000 §5.2 curl uses the weights path
    assert node["container"] == {
        "image": SEED_000_IMAGE.format(arch=arch),
        "name": "qwen",
        "devices": SEED_000_DEVICES,
        "mounts": [*SEED_000_MOUNTS, f"{weights}:{weights}:ro"],
        "network_mode": "host",
        "ipc_mode": "host",
        "privileged": True,
        "user": "root",
        "shm_size": None,
        "shell": ["/bin/bash"],  # seed 000 §4: docker run -it ... /bin/bash, serve inside
    }
    checks = {c["check"]: c["requires"] for c in node["host_checks"]}
    assert checks["npu_driver"].startswith("driver 24.1.rc3")
    assert checks["npu_firmware"].startswith("firmware 7.5.0.1.129")
    assert checks["kernel_version"] == "uname -r starts with 5.10"
    assert checks["kernel_packages"] == (
        "kernel-devel-$(uname -r), kernel-headers-$(uname -r) installed"
    )
    assert checks["required_commands"] == "on PATH: tar"
    assert checks["disk_space"] == f">= 30 GiB free at {weights}"  # seed 000 §2.A: 30G
    assert checks["memory"].startswith(">= 35.75 GiB")  # 27.5 GiB / 1 node x 1.3
    assert checks["npu_count"] == (
        ">= 4 NPU chips (TP 4 x DP 1 over 1 node(s): chips, one /dev/davinciN each, not NPU cards)"
    )
    assert "docker_engine" in checks and "hccn_link" not in checks


@pytest.mark.parametrize(
    ("model", "util", "tp"),
    [
        ("qwen2.5-32b", "0.8", "4"),
        ("qwen3-32b", "0.8", "4"),
        ("qwen3-14b", "0.5", "4"),
        ("qwen2.5-7b", "0.3", "2"),
        ("qwen3-8b", "0.3", "2"),
        ("qwen2.5-3b", "0.3", "1"),
        ("qwen3-4b", "0.3", "1"),
    ],
)
def test_utilization_and_tp_by_size(model: str, util: str, tp: str) -> None:
    [node] = plan_json("--model", model, "--arch", "x86_64")["nodes"]
    assert f"--gpu-memory-utilization={util}" in node["argv"]
    assert f"--tensor_parallel_size={tp}" in node["argv"]
    assert node["env"]["ASCEND_RT_VISIBLE_DEVICES"] == ",".join(map(str, range(int(tp))))


def test_qwen3_adds_reasoning_parser() -> None:
    [node] = plan_json("--model", "qwen3-8b", "--arch", "aarch64")["nodes"]
    assert node["argv"][-3:] == [
        "--enable-auto-tool-choice",
        "--tool-call-parser=hermes",
        "--reasoning-parser=qwen3",
    ]


# --------------------------------------------------------------------------- seed 003


@pytest.fixture(scope="module")
def a2_plan() -> dict:
    """DeepSeek-V3.1-w8a8 on two A2 nodes with the seed's addresses."""
    return plan_json(
        "--model",
        "deepseek-v3.1-w8a8",
        "--hardware",
        "atlas-a2",
        "--node-ip",
        NODE0,
        "--node-ip",
        NODE1,
        "--arch",
        "aarch64",
    )


def _seed_003(text: str) -> list[str]:
    return shlex.split(text.replace("$local_ip", NODE0).replace("$node0_ip", NODE0))


@pytest.mark.parametrize(("rank", "seed"), [(0, SEED_003_NODE0), (1, SEED_003_NODE1)])
def test_deepseek_on_two_a2_nodes_is_seed_003(a2_plan: dict, rank: int, seed: str) -> None:
    node = a2_plan["nodes"][rank]
    expected = _seed_003(seed)
    tail = parser_flags("deepseek-v3.1-w8a8", "separate")
    assert node["argv"][:3] == expected[:3] == ["vllm", "serve", node["weights"]]
    assert as_mapping(node["argv"][3 : len(node["argv"]) - len(tail)]) == as_mapping(expected[3:])
    assert node["argv"][len(node["argv"]) - len(tail) :] == tail
    own_ip = [NODE0, NODE1][rank]
    assert node["env"] == {**SEED_003_ENV, "HCCL_IF_IP": own_ip}
    assert node["container"] == {
        "image": "quay.io/ascend/vllm-ascend:v0.11.0rc0",
        "name": "deepseek-v31-w8a8",
        "devices": [f"/dev/davinci{i}" for i in range(8)]
        + ["/dev/davinci_manager", "/dev/devmm_svm", "/dev/hisi_hdc"],
        "mounts": SEED_003_MOUNTS,
        "network_mode": "host",
        "ipc_mode": None,
        "privileged": True,
        "user": None,
        "shm_size": "1000g",
        "shell": ["bash"],  # seed 003 §3: docker run ... -it IMAGE bash, serve inside
    }
    checks = {c["check"]: c["requires"] for c in node["host_checks"]}
    assert checks["hccl_if_ip"] == f"{own_ip} is an address of enp67s0f0np0"
    assert checks["memory"].startswith(">= 429.00 GiB")  # 660 GiB / 2 nodes x 1.3
    assert {"nic", "hccn_link", "hccn_net_health", "hccn_tls"} <= set(checks)


def test_a2_roles_and_shared_facts(a2_plan: dict) -> None:
    head, worker = (as_mapping(n["argv"][3:]) for n in a2_plan["nodes"])
    assert (a2_plan["tensor_parallel"], a2_plan["data_parallel"]) == (8, 2)
    assert a2_plan["expert_parallel"] is True
    for flags in (head, worker):
        assert flags["--data-parallel-size"] == "2" and flags["--tensor-parallel-size"] == "8"
        assert flags["--enable-expert-parallel"] is True
        assert flags["--quantization"] == "ascend" and flags["--max-model-len"] == "17450"
        assert flags["--data-parallel-address"] == NODE0
    assert "--headless" not in head and "--data-parallel-start-rank" not in head
    assert worker["--headless"] is True and worker["--data-parallel-start-rank"] == "1"
    assert json.loads(head["--additional-config"]) == {
        "ascend_scheduler_config": {"enabled": True},
        "torchair_graph_config": {"enabled": True, "graph_batch_sizes": [8]},
    }
    names = {n["container"]["name"] for n in a2_plan["nodes"]}
    assert names == {"deepseek-v31-w8a8"}  # seed 003 §3: the same --name on every node


def test_nic_override_reaches_env_and_checks() -> None:
    doc = plan_json(
        "--model", "deepseek-v3.1-w8a8", "--node-ip", NODE0, "--node-ip", NODE1, "--nic", "eth7"
    )
    for node in doc["nodes"]:
        assert node["env"]["HCCL_SOCKET_IFNAME"] == node["env"]["GLOO_SOCKET_IFNAME"] == "eth7"


def test_embedded_cpu_plan_has_no_container() -> None:
    [node] = plan_json("--model", "smollm2-135m")["nodes"]
    assert node["container"] is None
    assert [c["check"] for c in node["host_checks"]] == ["disk_space", "memory"]
    assert "--enforce-eager" in node["argv"]


def test_text_output_shows_every_node() -> None:
    done = plan_cli("--model", "deepseek-v3.1-w8a8", "--node-ip", NODE0, "--node-ip", NODE1)
    assert done.returncode == 0, done.stderr
    assert f"node 0 (head, {NODE0})" in done.stdout and f"node 1 (worker, {NODE1})" in done.stdout
    assert "serve: vllm serve /opt/data/weights/Deepseek/DeepSeek-V3.1-w8a8" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "gpt-9"], "error: unknown model 'gpt-9'; valid models:"),
        (["--model", "qwen2.5-14b", "--hardware", "h100"], "error: unknown hardware 'h100'"),
        (["--model", "qwen2.5-14b", "--hardware", "atlas-a2"], "has no deployment on 'atlas-a2'"),
        (
            ["--model", "deepseek-v3.1-w8a8", "--node-ip", NODE0],
            "runs on 2 node(s): pass --node-ip once per node, node 0 first (got 1)",
        ),
        (
            ["--model", "deepseek-v3.1-w8a8"],
            "runs on 2 node(s): pass --node-ip once per node, node 0 first (got 0)",
        ),
        (
            ["--model", "qwen2.5-14b", "--node-ip", NODE0, "--node-ip", NODE1],
            "runs on 1 node(s): pass --node-ip once per node, node 0 first (got 2)",
        ),
        (["--model", "qwen2.5-14b", "--graph-mode", "torchair"], "graph mode 'torchair' does not"),
    ],
)
def test_bad_input_is_one_line_error(args: list[str], message: str) -> None:
    done = plan_cli(*args, "--json")
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""


def test_a_container_that_cannot_see_the_weights_is_refused_by_the_container_stage() -> None:
    catalog = load_catalog()
    hardware = catalog.hardware["atlas-300i-duo"]
    spec = hardware.container
    seed_only = [m for m in spec.mounts if "{weights}" not in m]  # seed 000's mounts only
    container = spec.model_copy(update={"mounts": seed_only})
    catalog.hardware["atlas-300i-duo"] = hardware.model_copy(update={"container": container})
    target = resolve_target(catalog, "qwen2.5-14b", "atlas-300i-duo")
    stack = Stack.plan(target, RunOptions())  # host and weights stages still plan and run
    with pytest.raises(SuiteError, match="no container mount holds the weights /home/ckpt/"):
        stack.launcher.prepare(stack)
