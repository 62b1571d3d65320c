"""A local webhook receiver for the tests: records every request, answers what the test says."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """`statuses` is consumed one per request (then `default_status`); `hang_first` blocks the first
    request until `release()`. `url` is http://127.0.0.1:<port>/hooks."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.default_status = 200
        self.extra_headers: dict[str, str] = {}
        self.hang_first = False
        self._release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                              "body": body, "path": self.path})
                    first = len(receiver.requests) == 1
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default_status
                if first and receiver.hang_first:
                    receiver._release.wait(120)
                    return
                self.send_response(status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                payload = f"answer {status} " .encode() + b"x" * 3000
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def release(self):
        self._release.set()

    def close(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()
