"""Open the report page in headless Chromium, as a user would, and say what went wrong.

The page is served over HTTP from a local thread (127.0.0.1, a free port), so a missing file shows
up as a 404 and a wrong MIME type as a failed load, as on any web server. Chromium is Debian's
(`apt-get install chromium`), driven by Python Playwright with executable_path: Playwright's own
browser download is not used. The flags keep Chromium off the network: without
--disable-background-networking it retries refused connections in a loop on a closed network.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
METADATA_TIMEOUT_MS = 20000

# In the page: wait until every <audio> has its metadata (or failed), then describe images and players.
_INSPECT = """async (timeoutMs) => {
  const audios = [...document.querySelectorAll('audio')];
  const ready = a => a.readyState >= 1 || a.error ? Promise.resolve() : new Promise(resolve => {
    a.addEventListener('loadedmetadata', resolve, {once: true});
    a.addEventListener('error', resolve, {once: true});
    if (a.networkState === HTMLMediaElement.NETWORK_EMPTY) a.load();
  });
  await Promise.race([Promise.all(audios.map(ready)), new Promise(r => setTimeout(r, timeoutMs))]);
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  return {
    images: [...document.images].map(i => ({src: i.getAttribute('src'), width: i.naturalWidth})),
    audios: audios.map(a => ({src: a.getAttribute('src'), kind: a.dataset.kind || '', duration: a.duration,
                              error: a.error ? a.error.code : null})),
    cells: document.querySelectorAll('figure.cell').length,
    tables: [...document.querySelectorAll('table[data-table]')].map(t => t.dataset.table),
    grids: Object.fromEntries([...document.querySelectorAll('table[data-grid]')].map(
      t => [t.dataset.grid, {rows: +t.dataset.rows, columns: +t.dataset.columns}])),
    midi: document.querySelectorAll('a[data-midi]').length,
  };
}"""


@dataclass
class PageCheck:
    """What a user's browser met on the page."""

    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)  # "status url" or "failed url: reason"
    images: list[dict] = field(default_factory=list)  # src, width (naturalWidth)
    audios: list[dict] = field(default_factory=list)  # src, kind, duration (s), error
    cells: int = 0
    tables: list[str] = field(default_factory=list)
    grids: dict = field(default_factory=dict)
    midi: int = 0

    @property
    def problems(self) -> list[str]:
        """Everything a user would notice as broken, one line each."""
        return [
            *(f"console: {e}" for e in self.console_errors),
            *(f"request: {r}" for r in self.failed_requests),
            *(f"image does not decode: {i['src']}" for i in self.images if not i["width"]),
            *(
                f"audio has no metadata: {a['src']} (error {a['error']})"
                for a in self.audios
                if a["error"] is not None or not a["duration"] or a["duration"] != a["duration"]
            ),
        ]


def find_chromium() -> str | None:
    """The system Chromium ($LOOPGEN_CHROMIUM, else chromium on PATH), or None."""
    path = os.environ.get("LOOPGEN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    return path if path and Path(path).is_file() else None


def unavailable() -> str | None:
    """Why the page cannot be checked here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python playwright is not installed (pip install playwright)"
    if find_chromium() is None:
        return "no chromium: neither $LOOPGEN_CHROMIUM nor chromium on PATH (apt-get install chromium)"
    return None


@contextmanager
def serve(folder):
    """An HTTP server for `folder` on 127.0.0.1 in a thread; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Chromium hangs up on a sound once it has its metadata (preload="metadata"): not an error.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the check reports failures itself
        pass


def _real_failure(request) -> bool:
    """Chromium aborts a sound's download once it has the metadata (preload="metadata"): that
    net::ERR_ABORTED is normal, any other failure is not."""
    return not (request.resource_type == "media" and "ERR_ABORTED" in (request.failure or ""))


def check_page(
    folder, screenshot=None, width: int = 1400, page_name: str = "index.html", over_http: bool = True
) -> PageCheck:
    """Open folder/page_name in headless Chromium, over local HTTP or (over_http=False) from file://;
    optionally save a full-page screenshot."""
    from playwright.sync_api import sync_playwright

    reason = unavailable()
    if reason:
        raise RuntimeError(f"cannot check the page: {reason}")
    check = PageCheck()
    with serve(folder) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: m.type == "error" and check.console_errors.append(m.text))
            page.on("pageerror", lambda e: check.console_errors.append(str(e)))
            page.on("response", lambda r: r.status >= 400 and check.failed_requests.append(f"{r.status} {r.url}"))
            page.on(
                "requestfailed",
                lambda r: _real_failure(r) and check.failed_requests.append(f"failed {r.url}: {r.failure}"),
            )
            page.goto(
                url + page_name if over_http else (Path(folder) / page_name).resolve().as_uri(), wait_until="load"
            )
            found = page.evaluate(_INSPECT, METADATA_TIMEOUT_MS)
            for key, value in found.items():
                setattr(check, key, value)
            if screenshot:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return check
