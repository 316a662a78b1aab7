"""A real browser for tests: headless Chromium (the Debian ``chromium`` package) driven through the Chrome DevTools
protocol over a websocket, so a test sees what a person's browser would: console errors, uncaught exceptions,
every request the page makes, the rendered DOM, and a screenshot.

Use the ``browser`` fixture (registered for every test in conftest.py)::

    opened = browser.open(path_to_html, width=1280)
    assert opened.errors == []
    browser.screenshot(opened, artefact("report.png"))

Screenshots go under ``.artefacts/`` in the repository (``TIEPULSE_TEST_ARTEFACTS`` moves them); the path is
printed. Tests skip, saying why, only when no Chromium is installed (CI's ``.ci/run`` installs it).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 60.0
"""Upper bound on any one protocol answer (a report loads in well under a second on a quiet machine)."""
ARTEFACTS = Path(os.environ.get("TIEPULSE_TEST_ARTEFACTS", Path(__file__).resolve().parents[1] / ".artefacts"))


def artefact(name: str) -> Path:
    """A path under the test artefacts folder (created)."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS / name


@dataclass
class OpenedPage:
    session: str
    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and browser log errors, as text."""
    requests: list[str] = field(default_factory=list)
    """Every URL the page asked for."""
    loaded: bool = False


class Browser:
    """One headless Chromium and a DevTools connection to it."""

    def __init__(self, executable: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="tiepulse-chromium-")
        self._process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._socket: ClientConnection = connect(self._devtools_url(), max_size=None, open_timeout=TIMEOUT_S)
        self._next_id = 0
        self._pages: dict[str, OpenedPage] = {}

    def _devtools_url(self) -> str:
        assert self._process.stderr is not None
        for line in self._process.stderr:  # Chromium announces its endpoint on stderr when it is ready
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                return found.group(1)
        raise RuntimeError(f"chromium exited ({self._process.wait()}) without opening its DevTools endpoint")

    def _call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._socket.send(json.dumps(message))
        while True:
            reply = json.loads(self._socket.recv(timeout=TIMEOUT_S))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self._on_event(reply)

    def _on_event(self, event: dict[str, Any]) -> None:
        page = self._pages.get(event.get("sessionId", ""))
        if page is None:
            return
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            page.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            page.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            page.errors.append(f"{params['entry']['source']}: {params['entry']['text']}")
        elif method == "Network.requestWillBeSent":
            page.requests.append(params["request"]["url"])
        elif method == "Page.loadEventFired":
            page.loaded = True

    def open(self, path: Path, width: int = 1280, height: int = 900, mobile: bool = False) -> OpenedPage:
        """Open a local file in a new tab of ``width`` CSS pixels and wait until it has loaded."""
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = self._pages[session] = OpenedPage(session)
        for domain in ("Runtime", "Log", "Network", "Page"):
            self._call(f"{domain}.enable", session=session)
        self._call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
            session,
        )
        self._call("Page.navigate", {"url": path.resolve().as_uri()}, session)
        while not page.loaded:  # the file's load event (evaluating now could still reach about:blank)
            self._on_event(json.loads(self._socket.recv(timeout=TIMEOUT_S)))
        return page

    def evaluate(self, page: OpenedPage, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self._call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            page.session,
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, page: OpenedPage, out: Path, selector: str | None = None) -> Path:
        """The whole page (not only the viewport), or the element ``selector`` finds, as PNG."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if selector:
            box = self.evaluate(
                page,
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height, scale: 1}; })()",
            )
            params["clip"] = box
        data = self._call("Page.captureScreenshot", params, page.session)
        out.write_bytes(base64.b64decode(data["data"]))
        print(f"screenshot: {out}")
        return out

    def close(self) -> None:
        self._socket.close()
        self._process.terminate()
        self._process.wait(timeout=TIMEOUT_S)
        self._profile.cleanup()


def chromium_executable() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    if executable is None:
        pytest.skip("no Chromium here: install Debian's `chromium` package (CI's .ci/run does)")
    opened = Browser(executable)
    yield opened
    opened.close()
