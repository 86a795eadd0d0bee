"""Keep secrets (API keys, tokens, passwords) out of every artifact of a run."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

MASK = "***"
SECRET_NAME = re.compile(
    r"(?i)(^|[_-])(api[_-]?key|token|secret|passw(or)?d|credentials?)($|[_-])"
)  # HF_TOKEN, --api-key, VLLM_API_KEY; not --max-num-batched-tokens or --tokenizer
MIN_SECRET_LEN = 6  # shorter values would mask ordinary words and numbers


def is_secret_name(name: str) -> bool:
    """Whether an env var or flag name looks like it carries a secret."""
    return bool(SECRET_NAME.search(name))


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the values of secret-looking variables masked."""
    return {k: MASK if is_secret_name(k) and v else v for k, v in env.items()}


def redact_argv(argv: Iterable[str]) -> list[str]:
    """`argv` with the values of secret-looking flags masked (`--flag V` and `--flag=V`)."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
        elif arg.startswith("-") and "=" in arg and is_secret_name(arg.split("=", 1)[0]):
            out.append(arg.split("=", 1)[0] + "=" + MASK)
        else:
            out.append(arg)
            mask_next = arg.startswith("-") and is_secret_name(arg)
    return out


def secrets_in_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-looking variables of the environment (long enough to mask safely)."""
    environ = os.environ if environ is None else environ
    return [v for k, v in environ.items() if is_secret_name(k) and len(v) >= MIN_SECRET_LEN]


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret masked."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def scrub_tree(root: Path, secrets: Iterable[str]) -> list[str]:
    """Mask secrets in every file under `root`; return the files that needed it.

    This is the last line of defence (e.g. a server that logs its own key): the writers
    redact at the source, and the report lists any file that still needed scrubbing.
    """
    needles = [s.encode() for s in {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}]
    changed = []
    if not needles:
        return changed
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        data = path.read_bytes()
        if not any(n in data for n in needles):
            continue
        for needle in needles:
            data = data.replace(needle, MASK.encode())
        path.write_bytes(data)
        changed.append(str(path.relative_to(root)))
    return changed
