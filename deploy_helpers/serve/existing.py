"""A deployment the suite did not start (`--endpoint`): it can be watched, not stopped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy_helpers.client.endpoint import Endpoint, engine_version, http_client
from deploy_helpers.report.facts import Fact


@dataclass
class ExistingService:
    """An --endpoint deployment: alive while /health answers 200; nothing to stop."""

    endpoint: Endpoint
    target: str
    mode: str = "default"

    def alive(self) -> bool:
        """Whether /health answers 200."""
        try:
            with http_client(self.endpoint) as http:
                return http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self) -> list[Path]:
        """No logs: the suite does not run this deployment."""
        return []

    def ended(self) -> tuple[str, Path] | None:
        """Never known: the suite did not start its processes (only /health tells)."""
        return None

    def stop(self) -> None:
        """Nothing: the suite did not start it."""

    def local_pids(self) -> list[int]:
        """None known: the suite did not start it."""
        return []

    def local_containers(self) -> list[str]:
        """None known: the suite did not start it."""
        return []

    def facts(self) -> list[Fact]:
        """The endpoint, its served name and the engine's version."""
        return [
            Fact(
                "engine",
                {
                    "endpoint": self.endpoint.base_url,
                    "served_model_name": self.endpoint.served_model_name,
                    "version": engine_version(self.endpoint),
                },
                self.target,
            )
        ]
