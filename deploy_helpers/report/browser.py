"""Open a report in headless Chromium (Debian's `chromium`) over the DevTools protocol:
console errors, the verdict it shows, the plots it loaded, and a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from deploy_helpers.errors import SuiteError

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1280,1000",
]
DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")
PAGE_FACTS = """(() => ({
  verdict: (document.querySelector('[data-verdict]') || {}).textContent || null,
  title: document.title,
  plots: [...document.images].filter(i => i.complete && i.naturalWidth > 0).length,
  images: document.images.length,
}))()"""


@dataclass
class PageCheck:
    """What Chromium saw: console errors, the verdict, plots drawn, the screenshot file."""

    console_errors: list[str] = field(default_factory=list)
    verdict: str | None = None
    title: str = ""
    plots: int = 0
    images: int = 0
    screenshot: Path | None = None


def chromium_binary() -> str:
    """The Chromium executable, or a one-line error saying how to install it."""
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    raise SuiteError("chromium not found: install Debian's `chromium` (./setup.sh does)")


class DevTools:
    """A minimal DevTools-protocol session: commands with ids, events kept in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout_s: float = 30.0,
    ) -> dict[str, Any]:
        """Send a command and return its result (events that arrive meanwhile are kept)."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout_s
        while True:
            reply = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SuiteError(f"chromium: {method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout_s: float = 30.0) -> None:
        """Wait until an event `method` has arrived."""
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SuiteError(f"chromium: no {method} within {timeout_s:.0f} s")
            with suppress(TimeoutError):
                self.events.append(json.loads(self.ws.recv(timeout=remaining)))

    def drain(self, seconds: float) -> None:
        """Collect events for `seconds` more (late console messages)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=remaining)))
            except TimeoutError:
                return


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    """Errors among the page's events: console.error/assert, exceptions, error log entries."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"{entry.get('text')} ({entry.get('url', '')})")
    return errors


def _devtools_url(proc: subprocess.Popen, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if match := DEVTOOLS.search(line):
            return match.group(1)
    raise SuiteError("chromium did not start: " + "".join(seen[-5:]).strip())


def check_page(html: Path, screenshot: Path, timeout_s: float = 60.0) -> PageCheck:
    """Load `html` in a fresh headless Chromium profile; report what it saw; save a PNG."""
    profile = tempfile.mkdtemp(prefix="report-chromium-")
    argv = [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        with connect(_devtools_url(proc, timeout_s), max_size=None, open_timeout=20) as ws:
            return _inspect(DevTools(ws), html, screenshot, timeout_s)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _inspect(tools: DevTools, html: Path, screenshot: Path, timeout_s: float) -> PageCheck:
    """Open `html` in a new tab of the connected browser and read what it shows."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Log"):
        tools.send(f"{domain}.enable", session=session)
    tools.send("Page.navigate", {"url": html.resolve().as_uri()}, session=session)
    tools.wait_for("Page.loadEventFired", timeout_s)
    tools.drain(0.5)
    facts = tools.send(
        "Runtime.evaluate", {"expression": PAGE_FACTS, "returnByValue": True}, session=session
    )["result"]["value"]
    size = tools.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
    shot = tools.send(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
        session=session,
        timeout_s=timeout_s,
    )
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    with suppress(Exception):
        tools.send("Browser.close", timeout_s=5)
    return PageCheck(console_errors=console_errors(tools.events), screenshot=screenshot, **facts)
