"""The weights checks of a catalog target, by name, each with the remedy it prints.

`checks_for(target)` lists the checks that apply to a target (the model identity check
where the catalog publishes config.json values, the tool-call template check only where
it says `tools_in_template`, the thinking switch only where it declares one), so the suite
parametrizes from the catalog and never skips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deploy_helpers.catalog.target import Target
from deploy_helpers.weights import config as weights_config
from deploy_helpers.weights import manifest as weights
from deploy_helpers.weights import shards as weights_shards


@dataclass(frozen=True)
class Settings:
    """How to check: which manifest, whether to bypass the verified-cache."""

    manifest: Path | None = None
    rehash: bool = False
    cache_path: Path | None = None
    progress: bool | None = None


@dataclass(frozen=True)
class CheckResult:
    """The problems one check found and what to do about them."""

    name: str
    root: Path
    problems: list[str] = field(default_factory=list)
    remedy: str = ""

    @property
    def ok(self) -> bool:
        """True when the check found nothing wrong."""
        return not self.problems

    def message(self) -> str:
        """One line: the check, the directory, every problem (file first), the remedy."""
        return f"{self.name}: {self.root}: {'; '.join(self.problems)} -> {self.remedy}"


def _source(target: Target) -> str:
    src = target.model.source
    return src.modelscope or src.huggingface or src.pypi or "the model's source"


def _manifest(target: Target, root: Path, settings: Settings) -> CheckResult:
    manifest = settings.manifest or root / weights.MANIFEST_NAME
    problems = weights.verify(
        root,
        manifest,
        rehash=settings.rehash,
        cache_path=settings.cache_path,
        progress=settings.progress,
        allow_unverified=target.model.unverified_files_allowed,
    )
    return CheckResult(
        "manifest",
        root,
        problems,
        f"re-download the named files from {_source(target)} (an unverified file: "
        "remove it, or check it against the source and add it to the manifest), "
        f"then python -m deploy_helpers weights verify {root} --manifest {manifest}",
    )


def _shards(target: Target, root: Path, settings: Settings) -> CheckResult:
    return CheckResult(
        "shards",
        root,
        weights_shards.check_layout(root),
        f"re-download the named files from {_source(target)}",
    )


def _dtype(target: Target, root: Path, settings: Settings) -> CheckResult:
    allowed = target.hardware.dtypes
    return CheckResult(
        "dtype",
        root,
        weights_config.check_dtype(root, allowed),
        f"{target.hardware.name} computes in {', '.join(allowed)}: python -m deploy_helpers "
        f"weights set-dtype {root} {allowed[0]} --update-manifest",
    )


def _quantization(target: Target, root: Path, settings: Settings) -> CheckResult:
    want = target.model.quantization
    problems = weights_config.check_quantization(root, want, target.hardware.dtypes)
    return CheckResult(
        "quantization",
        root,
        problems,
        f"use the {want or 'unquantized'} checkpoint of {_source(target)} "
        "(the Ascend NPU does not compute fp8)",
    )


def _identity(target: Target, root: Path, settings: Settings) -> CheckResult:
    published = target.model.config
    assert published is not None  # checks_for lists this check only when the catalog has one
    model_id = _source(target)
    note = f" ({target.model.source.note})" if target.model.source.note else ""
    return CheckResult(
        "identity",
        root,
        weights_config.check_identity(root, published.published(), model_id),
        f"{root} does not hold {model_id}: download {model_id} there{note}",
    )


def _tools_template(target: Target, root: Path, settings: Settings) -> CheckResult:
    return CheckResult(
        "tools_template",
        root,
        weights_config.check_tools_in_template(root),
        "replace tokenizer_config.json chat_template (or chat_template.jinja) with the model's "
        "tool-call template (seed 003 §5.3: tokenizer_config_with_tool_call.json)",
    )


def _thinking_template(target: Target, root: Path, settings: Settings) -> CheckResult:
    switch = target.model.chat.thinking
    assert switch is not None  # checks_for lists this check only when the catalog has one
    problems = weights_config.check_thinking_switch(
        root, switch.kwarg, switch.prompt_suffix_on, switch.prompt_suffix_off
    )
    return CheckResult(
        "thinking_template",
        root,
        problems,
        f"use the model's chat template with the {switch.kwarg} switch (seed 003 §5.2)",
    )


# checks of what the model itself is (its chat template): on a twin they are held to the
# stand-in model actually served, the others to the deployment's target
MODEL_CHECKS = ("identity", "tools_template", "thinking_template")
CHECKS: dict[str, Callable[[Target, Path, Settings], CheckResult]] = {
    "manifest": _manifest,
    "shards": _shards,
    "dtype": _dtype,
    "quantization": _quantization,
    "identity": _identity,
    "tools_template": _tools_template,
    "thinking_template": _thinking_template,
}


def checks_for(target: Target, expected: Target | None = None) -> list[str]:
    """Names of the weights checks that apply to `target`, in the order they run; the model
    checks follow `expected` (the model actually served, on a twin) when given."""
    model = (expected or target).model
    names = ["manifest", "shards", "dtype", "quantization"]
    if model.config is not None:
        names.append("identity")
    if model.chat.tools_in_template:
        names.append("tools_template")
    if model.chat.thinking is not None:
        names.append("thinking_template")
    return names


def run_check(
    name: str,
    target: Target,
    root: Path,
    settings: Settings = Settings(),
    expected: Target | None = None,
) -> CheckResult:
    """Run one named check on the weights directory `root` of `target`."""
    held_to = (expected or target) if name in MODEL_CHECKS else target
    return CHECKS[name](held_to, root, settings)


def verify_target(
    target: Target, root: Path, settings: Settings = Settings(), expected: Target | None = None
) -> list[CheckResult]:
    """Every applicable check; raises WeightsError when `root` or its manifest is unusable."""
    return [
        run_check(name, target, root, settings, expected) for name in checks_for(target, expected)
    ]
