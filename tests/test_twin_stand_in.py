"""The model a twin serves: the embedded model, in the deployment of the profile's shape."""

from __future__ import annotations

from deploy_helpers.catalog.loader import load_catalog
from deploy_helpers.catalog.target import resolve_target
from deploy_helpers.sim.twin.layout import TWIN_PROFILES
from deploy_helpers.sim.twin.weights import STAND_IN_BY_NODES


def test_every_twin_serves_a_stand_in_with_its_node_count() -> None:
    catalog = load_catalog()
    for profile in TWIN_PROFILES:
        nodes = catalog.hardware[profile].nodes
        assert nodes in STAND_IN_BY_NODES, f"{profile}: no stand-in for {nodes} nodes"
        stand_in = resolve_target(catalog, *STAND_IN_BY_NODES[nodes])
        assert stand_in.hardware.nodes == nodes, (profile, stand_in.id)


def test_the_pair_is_held_to_two_engine_floors_not_one_engine_floors() -> None:
    catalog = load_catalog()
    one, two = (resolve_target(catalog, *STAND_IN_BY_NODES[n]) for n in (1, 2))
    for isa in ("avx2", "avx512"):
        single, pair = (t.deployment.perf[0].by_isa[isa] for t in (one, two))
        assert pair.max_tpot_p99_ms > single.max_tpot_p99_ms, isa
        assert pair.source != single.source, isa
