"""The verdict and the environment fingerprint as suite-level properties of junit.xml, so a
CI system that reads only JUnit XML still sees what was signed off and on what."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def flatten(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    """(dotted name, text) pairs of a JSON value; a list of scalars is one space-joined text."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}")
    elif isinstance(value, list) and not any(isinstance(v, dict | list) for v in value):
        yield prefix, " ".join(str(v) for v in value)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}.{index}")
    else:
        yield prefix, "" if value is None else str(value)


def add_run_properties(junit: Path, record: dict[str, Any]) -> None:
    """Add the summary's verdict, what was simulated (on the twin) and the fingerprint to
    every <testsuite> of `junit`."""
    tree = ET.parse(junit)
    root = tree.getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    pairs = [
        ("verdict", record["verdict"]),
        *flatten(record["simulated"], "simulated"),
        *flatten(record["fingerprint"], "fingerprint"),
    ]
    for suite in suites:
        properties = suite.find("properties")
        if properties is None:
            properties = ET.Element("properties")
            suite.insert(0, properties)  # the JUnit schema wants properties first
        for name, value in pairs:
            ET.SubElement(properties, "property", name=name, value=value)
    tree.write(junit, encoding="utf-8", xml_declaration=True)
