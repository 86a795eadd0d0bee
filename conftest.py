"""Root conftest: loads the suite's fixtures, one module per stack stage."""

pytest_plugins = [
    "fixtures.selection",
    "fixtures.known_issues",
    "fixtures.run_dir",
    "fixtures.host",
    "fixtures.weights",
    "fixtures.container",
    "fixtures.service",
    "fixtures.stage_errors",
    "fixtures.graph_modes",
    "fixtures.target_groups",
    "fixtures.report",
    "fixtures.perf",
]
