"""How a run learns it is on the Ascend twin: `ASCEND_TWIN` names the twin's description.

`twin run` sets it for the command it runs on the twin's node 0; the description (written
inside the twin host, /etc/ascend-twin.json) says what is simulated and which model stands
in for every catalog model. A run that finds it is SIMULATED in every report it writes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from deploy_helpers.errors import SuiteError

TWIN_ENV = "ASCEND_TWIN"


def read_twin(environ: dict[str, str] | None = None) -> dict[str, Any] | None:
    """The twin's description when this run is on the twin, else None."""
    path = (os.environ if environ is None else environ).get(TWIN_ENV)
    if not path:
        return None
    try:
        about = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise SuiteError(
            f"{TWIN_ENV}={path}: not a readable twin description ({exc}); "
            "run the suite through `python -m deploy_helpers twin run`"
        ) from None
    if not isinstance(about, dict) or about.get("simulated") is not True:
        raise SuiteError(f"{TWIN_ENV}={path}: not a twin description")
    return about
