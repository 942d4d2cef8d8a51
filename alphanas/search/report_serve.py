"""Serve a search's interactive report on localhost, live while the search runs.

    server = ReportServer("runs/a", port=8765, refresh=5)   # binds 127.0.0.1 only
    server.serve_forever()                                   # until Ctrl-C (or server.shutdown())

``GET /`` answers the report page (:func:`alphanas.search.report_html.page`) built from the store as
it is now; the page fetches ``GET /data.json`` every ``refresh`` seconds and redraws in place, so a
running search shows up trial by trial. The store is opened read-only on every request; nothing is
written to the search folder.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from alphanas.errors import AlphanasError
from alphanas.search.report import read_search, report_data
from alphanas.search.report_html import page


class ReportServer(ThreadingHTTPServer):
    """An HTTP server on ``host:port`` (port 0: any free port; see :attr:`url`) for the report of ``out_dir``."""

    daemon_threads = True

    def __init__(self, out_dir: str | Path, port: int = 8765, refresh: float = 5.0, host: str = "127.0.0.1") -> None:
        self.out_dir = Path(out_dir)
        self.refresh = refresh
        read_search(self.out_dir)  # a folder without a search fails here, before serving
        try:
            super().__init__((host, port), _Handler)
        except OSError as e:
            raise AlphanasError(f"cannot serve on {host}:{port} ({e.strerror or e}); choose another port") from None

    @property
    def url(self) -> str:
        """Where the report is served."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: ReportServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path.split("?", 1)[0]
        try:
            if path in ("/", "/index.html", "/report.html"):
                body = page(report_data(read_search(self.server.out_dir)), refresh=self.server.refresh).encode()
                self._send(200, "text/html; charset=utf-8", body)
            elif path == "/data.json":
                body = json.dumps(report_data(read_search(self.server.out_dir)), allow_nan=False).encode()
                self._send(200, "application/json", body)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")
        except AlphanasError as e:  # e.g. the store is being replaced: the page keeps its last data
            self._send(503, "text/plain; charset=utf-8", f"{e}\n".encode())

    def _send(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        pass  # quiet: the command prints the address once
