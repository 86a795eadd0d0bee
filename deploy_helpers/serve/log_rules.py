"""Known fatal server-log lines and the remedy the deployment guides give for each."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, TypeAdapter

from deploy_helpers.paths import CATALOG

RULES_FILE = CATALOG / "log_rules.yaml"


class LogRule(BaseModel):
    """A regex over the server log and the remedy to print when it matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pattern: str
    remedy: str


@cache
def load_rules(path: Path = RULES_FILE) -> tuple[LogRule, ...]:
    """The validated rules of `path`."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(TypeAdapter(list[LogRule]).validate_python(data))


def explain_failure(log_text: str) -> str | None:
    """The remedy of the first rule that matches `log_text`, or None."""
    for rule in load_rules():
        if re.search(rule.pattern, log_text):
            return rule.remedy
    return None


def fatal_line(log_text: str) -> tuple[str, str] | None:
    """The last line of `log_text` that the first matching rule matches, and its remedy:
    the engine's own last words about why it died; None when no rule matches."""
    lines = log_text.splitlines()
    for rule in load_rules():
        for line in reversed(lines):
            if re.search(rule.pattern, line):
                return line.strip(), rule.remedy
    return None
