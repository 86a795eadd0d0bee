"""The fleet's junit.xml: one <testsuite> per unit, holding the test cases of its stages.

Each unit also gets a test case `qualification` carrying its own verdict, failing with the
cause when the unit failed (unreachable, no suite, never reported, not run, a stage failed),
so a CI system that reads only JUnit XML still sees every unit and why it failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from deploy_helpers.report.junit_properties import flatten

COUNTED = ("tests", "failures", "errors", "skipped")


def _cases(junit: Path) -> list[ET.Element]:
    if not junit.is_file():
        return []
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError:
        return []
    return list(root.iter("testcase"))


def _suite(unit: dict[str, Any], fleet_dir: Path, fleet_verdict: str) -> ET.Element:
    suite = ET.Element("testsuite", name=unit["name"])
    properties = ET.SubElement(suite, "properties")
    pairs = [
        ("fleet.verdict", fleet_verdict),
        ("unit.verdict", unit["verdict"]),
        ("unit.failure", unit["failure"] or ""),
        ("unit.model", unit["model"]),
        ("unit.hardware", unit["hardware"]),
        ("unit.nodes", " ".join(unit["nodes"])),
        *flatten(unit["fingerprint"], "unit.fingerprint"),
    ]
    for name, value in pairs:
        ET.SubElement(properties, "property", name=name, value=value)
    for stage, result in unit["stages"].items():
        run_dir = result["run_dir"]
        for case in _cases(fleet_dir / run_dir / "junit.xml") if run_dir else []:
            case.set("classname", f"{unit['name']}.{stage}.{case.get('classname', '')}")
            suite.append(case)
    # every unit's own verdict, as one test case: failing with the cause when it failed
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"{unit['name']}.fleet",
        name="qualification",
        time=str(unit["duration_s"]),
    )
    if unit["failure"]:
        ET.SubElement(
            case, "failure", message=f"{unit['failure']}: " + "; ".join(unit["reasons"][:3])
        ).text = "\n".join(unit["reasons"])
    _count(suite)
    return suite


def _count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{sum(float(c.get('time') or 0) for c in cases):.3f}")


def write(path: Path, record: dict[str, Any]) -> Path:
    """Write the merged junit.xml of a fleet summary `record` (its run folders beside it)."""
    root = ET.Element("testsuites", name=f"fleet-{record['fleet_id']}")
    for unit in record["units"]:
        root.append(_suite(unit, path.parent, record["verdict"]))
    for key in COUNTED:
        root.set(key, str(sum(int(s.get(key)) for s in root.findall("testsuite"))))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
