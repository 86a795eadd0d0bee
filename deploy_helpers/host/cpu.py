"""The CPU of a node: model name, the ISA flags serving speed depends on, and its class.

vLLM's CPU backend runs several times faster with AVX-512 than with AVX2 only (measured on
this suite's embedded target: README "The embedded target"), so CPU floors are per ISA
class, and a node is held to the floors of the best class it has.
"""

from __future__ import annotations

from deploy_helpers.host.node import SshSettings, connect

# from slowest to fastest; each class needs the /proc/cpuinfo flag beside it
ISA_CLASSES = (
    ("avx2", "avx2"),
    ("avx512", "avx512f"),
    ("avx512_bf16", "avx512_bf16"),
    ("amx", "amx_bf16"),
)
ISA_FLAGS = (*(flag for _, flag in ISA_CLASSES), "amx_tile", "avx512_fp16", "fma")
BASELINE = "baseline"


def parse_cpuinfo(text: str) -> dict[str, object]:
    """Model name, the ISA flags of interest present, and the ISA class, from /proc/cpuinfo."""
    model, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return {
        "cpu": model,
        "isa_flags": sorted(f for f in ISA_FLAGS if f in flags),
        "isa_class": isa_class(flags),
    }


def isa_class(flags: set[str]) -> str:
    """The fastest ISA class whose flag the CPU has ("baseline" when it has none)."""
    found = BASELINE
    for name, flag in ISA_CLASSES:
        if flag in flags:
            found = name
    return found


def ladder() -> list[str]:
    """Every class, slowest first."""
    return [BASELINE, *(name for name, _ in ISA_CLASSES)]


def best_at_most(machine: str, available: list[str]) -> str | None:
    """The fastest class of `available` that is not faster than `machine` (a machine may be
    held to the floors of a slower class, never of a faster one)."""
    order = ladder()
    if machine not in order:
        return None
    usable = [c for c in available if c in order and order.index(c) <= order.index(machine)]
    return max(usable, key=order.index) if usable else None


def node_isa(address: str) -> str | None:
    """The ISA class of the node at `address` (this machine's for loopback, else over ssh);
    None when it cannot be read."""
    try:
        text = connect(address, SshSettings()).file("/proc/cpuinfo").content_string
    except Exception:  # testinfra backends raise anything; None: the class is unknown
        return None
    return str(parse_cpuinfo(text)["isa_class"])
