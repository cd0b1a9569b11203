"""Headless Chromium driven over the DevTools protocol (CDP), for tests of pages f1gen writes.

Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM); the protocol goes over a WebSocket on
127.0.0.1 (a port Chromium picks) with the `websockets` client gradio_client already brings.
No browser download, no driver.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

FLAGS = [
    "--headless",
    "--no-sandbox",  # tests may run as root (CI)
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the machine has no network: no lookups of Google's hosts
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--window-size=1280,900",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def find_chromium() -> str | None:
    """The Chromium binary, or None when the machine has none."""
    named = os.environ.get("CHROMIUM")
    return shutil.which(named) if named else shutil.which("chromium")


@dataclass
class Page:
    """One tab: commands in, events collected."""

    ws: ClientConnection
    session: str
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    events: list[dict[str, Any]] = field(default_factory=list)

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send a command to the tab and return its result; events that arrive meanwhile are kept."""
        number = next(self.ids)
        message = {"id": number, "method": method, "params": params, "sessionId": self.session}
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == number:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first event called method (kept or still to come)."""
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if "method" in event:
                self.events.append(event)
                if event["method"] == method:
                    return event

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Navigate and wait for the load event."""
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        self.evaluate("0")  # drain what has arrived
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and params.get("type") in (
                "error",
                "assert",
            ):
                found.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif event["method"] == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text", "exception"))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                found.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
        return found

    def resize(self, width: int, height: int) -> None:
        """Lay the page out in a window of width x height CSS pixels."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def screenshot(self, path: Path) -> Path:
        """The whole page as a PNG."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextmanager
def chromium(binary: str) -> Iterator[Page]:
    """A headless Chromium with one tab whose console and network errors are recorded."""
    # Chromium's helper processes may still touch the profile as the group goes down.
    with tempfile.TemporaryDirectory(
        prefix="f1gen-chromium-", ignore_cleanup_errors=True
    ) as scratch:
        log = Path(scratch) / "chromium.log"  # a file, not a pipe: a full pipe would stall it
        with log.open("w") as sink:
            process = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={scratch}/profile", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,  # its own group: every helper process goes with it
            )
        try:
            url = _devtools_url(process, log)
            with connect(url, max_size=None, open_timeout=30) as ws:
                browser = Page(ws, session="")
                target = _browser_call(browser, "Target.createTarget", url="about:blank")
                attached = _browser_call(
                    browser, "Target.attachToTarget", targetId=target["targetId"], flatten=True
                )
                page = Page(ws, session=attached["sessionId"], ids=browser.ids)
                for domain in ("Runtime", "Log", "Page"):
                    page.send(f"{domain}.enable")
                yield page
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _browser_call(browser: Page, method: str, **params: Any) -> dict[str, Any]:
    number = next(browser.ids)
    browser.ws.send(json.dumps({"id": number, "method": method, "params": params}))
    while True:
        reply = json.loads(browser.ws.recv(timeout=30))
        if reply.get("id") == number:
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            result: dict[str, Any] = reply["result"]
            return result


def _devtools_url(process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 60
    text = ""
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text(errors="replace")
        found = re.search(r"DevTools listening on (ws://\S+)", text)
        if found:
            return found.group(1)
        time.sleep(0.05)
    process.kill()
    tail = " | ".join(text.strip().splitlines()[-5:])
    raise RuntimeError(f"chromium did not start: {tail}")


VIDEOS = "Array.from(document.querySelectorAll('video'))"


def wait_for_videos(page: Page, *, seconds: float = 30.0) -> list[list[object]]:
    """readyState, error code and source of every video, once each has its metadata or an error."""
    deadline = time.monotonic() + seconds
    while True:
        states: list[list[object]] = page.evaluate(
            f"{VIDEOS}.map(v => [v.readyState, v.error && v.error.code, v.currentSrc])"
        )
        if all(int(s[0]) >= 1 or s[1] for s in states) or time.monotonic() > deadline:  # type: ignore[call-overload]
            return states
        time.sleep(0.1)
