"""The HTML verify report in a real headless browser (Debian's chromium), driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: no websocket, no port): the page loads with no console
message, no exception and no request beyond the file itself, its plots are laid out at a readable size,
and the raw JSON is folded away."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinydeploy.verify.report import write_reports

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed (Debian: apt-get install chromium)")
PAGE_TIMEOUT_S = 30.0


class Browser:
    """Chromium headless with the DevTools protocol on fds 3 (commands in) and 4 (replies, events out)."""

    def __init__(self, profile: Path) -> None:
        to_browser_r, self._out = os.pipe()
        self._in, from_browser_w = os.pipe()
        os.set_inheritable(to_browser_r, True)
        os.set_inheritable(from_browser_w, True)
        # the child needs them as fds 3 and 4: dup2 in a preexec hook, after fork
        def fds() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
             "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, pass_fds=(3, 4), start_new_session=True)  # close_fds runs after preexec_fn
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = PAGE_TIMEOUT_S) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = PAGE_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(timeout=5)
        os.close(self._in)
        os.close(self._out)


LAYOUT = """JSON.stringify({
  svgs: [...document.querySelectorAll('svg:not(#layers svg)')].map(s => {const r = s.getBoundingClientRect();
        return [r.width, r.height, s.querySelectorAll('text').length];}),
  layerBars: [...document.querySelectorAll('#layers svg rect')].map(r => {const b = r.getBoundingClientRect();
        return [b.width, b.height];}),
  jsonVisible: document.querySelector('details pre').checkVisibility(),
  detailsOpen: document.querySelector('details').open,
  matrixCells: document.querySelectorAll('table.cm td').length,
  headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
  pageHeight: document.documentElement.scrollHeight,
})"""


def render(page: Path, profile: Path) -> tuple[dict, list[dict]]:
    """Load `page`; returns its layout figures and every problem event (console, exception, log, request)."""
    browser = Browser(profile)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired")
        layout = browser.send("Runtime.evaluate", {"expression": LAYOUT, "returnByValue": True}, session=session)
        problems = [e for e in browser.events if e.get("method") in
                    ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")
                    or (e.get("method") == "Network.requestWillBeSent"
                        and e["params"]["request"]["url"] != page.as_uri())]
        return json.loads(layout["result"]["value"]), problems
    finally:
        browser.close()


def test_the_probe_sees_console_errors_and_network_requests(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><details><pre>x</pre></details><img src="http://example.invalid/a.png">'
                   '<script>console.error("boom"); undefined_fn();</script></body></html>')
    _, problems = render(bad, tmp_path / "profile")
    methods = {p["method"] for p in problems}
    assert {"Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Network.requestWillBeSent"} <= methods


def native_reports(tmp_path: Path):
    """Two real reports from the native board: a classifier with class labels and its per-layer section
    (--layers=outputs), a regression head with targets."""
    from test_verify_metrics import fc_model
    from tinydeploy import pipeline
    from tinydeploy.boards import get_board
    from tinydeploy.link import DeviceLink
    from tinydeploy.verify import verify_model

    reports = []
    for n_in, n_out, labels in ((16, 4, np.arange(24) % 4), (8, 1, np.linspace(-1, 1, 24).astype(np.float32))):
        model = fc_model(n_in, n_out)
        layers = "outputs" if n_out > 1 else None
        fw = pipeline.build_firmware(model, get_board("native"), layers=bool(layers))
        x = np.random.default_rng(n_out).uniform(-1, 1, (24, n_in)).astype(np.float32)
        with pipeline.started_device(fw) as url, DeviceLink.open(url, timeout=2.0) as link:
            reports.append(verify_model(link, model, x, labels, board="native", progress=False, litert=False,
                                        arena_estimate=fw.arena_estimate, layers=layers))
    return reports


def test_the_verify_report_renders_cleanly_in_chromium(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    classifier, regression = native_reports(tmp_path)
    for name, report in (("classifier", classifier), ("regression", regression)):
        page = write_reports(report, html_path=tmp_path / f"{name}.html")[0]
        layout, problems = render(page, tmp_path / f"profile-{name}")
        assert problems == [], f"{name}: {problems}"
        assert layout["svgs"] and all(w >= 300 and h >= 200 and texts >= 6 for w, h, texts in layout["svgs"]), layout
        assert not layout["detailsOpen"] and layout["jsonVisible"] is False  # the raw JSON is folded away
        assert layout["pageHeight"] < 4000  # the report, not the JSON, is the page
        if name == "classifier":
            assert layout["matrixCells"] == 4 * 4 + 4 * 2 and "Classification against the labels" in layout["headings"]
            # the per-layer chart: one readable bar per layer (its height grows with the layers, so not above)
            assert "Per-layer latency" in layout["headings"]
            assert len(layout["layerBars"]) == len(report.extras["layers"]["layers"]) >= 1
            assert all(w > 0 and h >= 12 for w, h in layout["layerBars"]), layout["layerBars"]
        else:
            assert "Regression: predicted vs true" in layout["headings"]
