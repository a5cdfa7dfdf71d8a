"""A static file server on a loopback address that answers byte ranges, for browser tests and benches.

Python's ``http.server`` ignores ``Range``, and a browser cannot seek a media element served
without it (``currentTime`` snaps back to 0). This one answers ``Range: bytes=a-b`` with 206 and
records every request path, so a test can also prove that nothing else was asked for.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
mimetypes.add_type("text/vtt", ".vtt")
mimetypes.add_type("audio/mpeg", ".mp3")


class StaticServer:
    """Serves ``root`` at ``http://127.0.0.1:<port>/``; use as a context manager."""

    def __init__(self, root: Path, host: str = "127.0.0.1"):
        self.root = Path(root).resolve()
        self.requests: list[str] = []
        self.ranges: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._serve(body=True)

            def do_HEAD(self):
                self._serve(body=False)

            def _serve(self, body: bool) -> None:
                outer.requests.append(self.path)
                path = (outer.root / unquote(urlsplit(self.path).path).lstrip("/")).resolve()
                if not path.is_file() or not path.is_relative_to(outer.root):
                    self.send_error(404)
                    return
                size = path.stat().st_size
                first, last, status = 0, size - 1, 200
                match = _RANGE.match(self.headers.get("Range", ""))
                if match and size:
                    outer.ranges.append(self.headers["Range"])
                    a, b = match.groups()
                    first, last = (int(a), min(int(b), size - 1) if b else size - 1) if a else (size - int(b), size - 1)
                    if first > last or first >= size:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{size}")
                        self.end_headers()
                        return
                    status = 206
                self.send_response(status)
                self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(last - first + 1))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.end_headers()
                if body:
                    with open(path, "rb") as fh:
                        fh.seek(first)
                        remaining = last - first + 1
                        try:
                            while remaining > 0 and (block := fh.read(min(remaining, 1 << 16))):
                                self.wfile.write(block)
                                remaining -= len(block)
                        except (BrokenPipeError, ConnectionResetError):  # the browser cancelled
                            pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "StaticServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
