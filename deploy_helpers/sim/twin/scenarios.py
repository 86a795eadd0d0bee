"""The twin's scenario switches: a healthy host, or one fault a release engineer meets.

Each scenario names the profiles it applies to, the npu stand-in scenario of each node
(deploy_helpers/sim/npu/scenarios.py: recorded real outputs with one thing changed), and
what else the twin changes, with the stage whose check must fail and the text naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deploy_helpers.errors import SuiteError

DUO, A2 = "atlas-300i-duo", "atlas-a2"


@dataclass(frozen=True)
class TwinScenario:
    """One fault (or none) on the twin, and where the suite must catch it."""

    name: str
    description: str
    profiles: tuple[str, ...]
    npu: dict[int, str] = field(default_factory=dict)  # node index -> npu stand-in scenario
    bf16_config: bool = False  # leave the weights' config.json in bfloat16 (seed 000 §2.1)
    image_absent: bool = False  # the serving image was never pulled or loaded
    port_taken: bool = False  # another process already listens on the engine's port
    stage: str = ""  # the stage that must fail ("" for healthy)
    cause: str = ""  # text the failure must show


SCENARIOS: dict[str, TwinScenario] = {
    s.name: s
    for s in (
        TwinScenario("healthy", "every node as the guides want it", (DUO, A2)),
        TwinScenario(
            "wrong-driver",
            "the NPU driver is 23.0.3, not the recommended 24.1.rc3",
            (DUO,),
            npu={0: "duo-wrong-driver"},
            stage="host",
            cause="npu_driver",
        ),
        TwinScenario(
            "chip-alarm",
            "one 310P3 chip reports Health Alarm",
            (DUO,),
            npu={0: "duo-chip-alarm"},
            stage="host",
            cause="npu_health",
        ),
        TwinScenario(
            "card-missing",
            "a card's device nodes are missing (/dev/davinci3, hisi_hdc)",
            (DUO,),
            npu={0: "duo-missing-device"},
            stage="host",
            cause="device_nodes",
        ),
        TwinScenario(
            "nic-down",
            "node 1's NPU 5 RoCE link is DOWN",
            (A2,),
            npu={1: "a2-link-down"},
            stage="host",
            cause="hccn_link",
        ),
        TwinScenario(
            "bf16-config",
            "config.json left in bfloat16 on the 300I Duo",
            (DUO,),
            bf16_config=True,
            stage="weights",
            cause="dtype",
        ),
        TwinScenario(
            "image-absent",
            "the serving image was never pulled or loaded",
            (DUO,),
            image_absent=True,
            stage="container",
            cause="is not on this host",
        ),
        TwinScenario(
            "port-taken",
            "another service already listens on port 8000",
            (DUO,),
            port_taken=True,
            stage="service",
            cause="Address already in use",
        ),
    )
}


def scenario(name: str, profile: str) -> TwinScenario:
    """The scenario `name` for `profile`, or a one-line error listing the valid ones."""
    found = SCENARIOS.get(name)
    valid = ", ".join(s.name for s in SCENARIOS.values() if profile in s.profiles)
    if found is None or profile not in found.profiles:
        raise SuiteError(f"twin scenario '{name}' does not apply to {profile} (valid: {valid})")
    return found
