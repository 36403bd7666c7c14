"""A minimal headless-Chromium driver over the DevTools protocol, for the page tests (no extra dependency).

Chromium is started with ``--remote-debugging-pipe``: the protocol runs over two pipes (file descriptors 3 and 4 of
the browser), so no port is opened and no websocket client is needed. The network is closed to the page: every
host name resolves to nothing and every proxied request goes to a closed local port, and each request the page makes
is recorded, so a test can fail on any request that is not ``file:`` or ``data:``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    # network off: a name resolves to nothing, a proxied request goes to a closed port
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


def find_chromium() -> str | None:
    """Return the Chromium executable (``CHROMIUM`` env var, else ``chromium`` / ``chromium-browser`` on PATH)."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@dataclass
class Visit:
    """What one page load did: every request, failures, console errors and uncaught exceptions."""

    url: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def problems(self, allowed_schemes: tuple[str, ...] = ("file:", "data:", "about:")) -> list[str]:
        """List what a self-contained page must not do."""
        out = [f"request to {u}" for u in self.requests if not u.startswith(allowed_schemes)]
        out += [f"failed request: {f}" for f in self.failed]
        out += [f"console error: {c}" for c in self.console_errors]
        return out


class Chromium:
    """One headless Chromium process; :meth:`visit` opens a page in a fresh tab and records what it did."""

    def __init__(self, executable: str | None = None, *, timeout: float = 60.0):
        exe = executable or find_chromium()
        if exe is None:
            raise FileNotFoundError("chromium not found (Debian: apt-get install chromium)")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="pages-chromium-")
        self._log = open(Path(self._profile) / "stderr.log", "wb")  # noqa: SIM115 (closed in close())
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds() -> None:  # in the child: the protocol pipes become fds 3 (commands in) and 4 (messages out)
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        cmd = [exe, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            preexec_fn=wire_fds,
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._lock = threading.Condition()
        self._replies: dict[int, dict] = {}
        self._events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.version = self.call("Browser.getVersion")["product"]

    # ---------------------------------------------------------------------------------------------- protocol
    def _read(self) -> None:
        buf = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._lock:
                    self._closed = True
                    self._lock.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self._lock:
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self._events.append(msg)
                    self._lock.notify_all()

    _closed = False

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one protocol command and return its result (raise on a protocol error)."""
        with self._lock:
            self._next_id += 1
            mid = self._next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while mid not in self._replies:
                if self._closed:
                    raise RuntimeError(f"chromium exited during {method}: {self._stderr_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{method}: no reply in {self.timeout:.0f} s")
                self._lock.wait(left)
            reply = self._replies.pop(mid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _wait_event(self, session: str, method: str, start: int) -> int:
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while True:
                for i in range(start, len(self._events)):
                    ev = self._events[i]
                    if ev.get("sessionId") == session and ev.get("method") == method:
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise TimeoutError(f"no {method} within {self.timeout:.0f} s")
                self._lock.wait(left)

    def _stderr_tail(self) -> str:
        self._log.flush()
        return (Path(self._profile) / "stderr.log").read_text(errors="replace")[-2000:]

    # ------------------------------------------------------------------------------------------------- pages
    def open_tab(self) -> str:
        """Open a blank tab; return its protocol session id (page, network, console and log events enabled)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        self._targets = {**getattr(self, "_targets", {}), session: target}
        return session

    def close_tab(self, session: str) -> None:
        """Close a tab opened by :meth:`open_tab`."""
        self.call("Target.closeTarget", {"targetId": self._targets.pop(session)})

    def set_width(self, session: str, width: int, height: int = 900) -> None:
        """Emulate a screen ``width`` CSS px wide (a phone below 600 px: mobile viewport, touch)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
            session=session,
        )

    def visit(self, session: str, url: str, settle: float = 0.3) -> Visit:
        """Load ``url`` in the tab, wait for the load event and a quiet moment, and return what happened."""
        with self._lock:
            start = len(self._events)
        t0 = time.perf_counter()
        nav = self.call("Page.navigate", {"url": url}, session=session)
        if nav.get("errorText"):
            return Visit(url, failed=[f"{url}: {nav['errorText']}"])
        self._wait_event(session, "Page.loadEventFired", start)
        time.sleep(settle)
        visit = Visit(url, seconds=time.perf_counter() - t0)
        with self._lock:
            events = [e for e in self._events[start:] if e.get("sessionId") == session]
        for ev in events:
            p = ev.get("params", {})
            m = ev["method"]
            if m == "Network.requestWillBeSent":
                visit.requests.append(p["request"]["url"])
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                visit.failed.append(f"{p.get('type', '')} {p.get('errorText', '')} ({p.get('requestId')})")
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                visit.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif m == "Runtime.exceptionThrown":
                visit.console_errors.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                visit.console_errors.append(f"{p['entry'].get('source')}: {p['entry'].get('text')}")
        return visit

    def evaluate(self, session: str, expression: str):
        """Evaluate a JavaScript expression in the page and return its (JSON) value."""
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression}: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def screenshot(self, session: str, path: str | Path, width: int) -> int:
        """Save a full-page PNG at the current width; return the page height in CSS px."""
        height = int(self.evaluate(session, "Math.ceil(document.documentElement.scrollHeight)"))
        shot = self.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
            session=session,
        )
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return height

    def close(self) -> None:
        """Stop the browser and remove its profile."""
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
