"""The application behind the reverse proxies: it echoes what it received.

Every HTTP request is answered with JSON of its method, path, query and all the headers
it arrived with (each header name lower-cased, with the list of its values, so a header
that arrived twice shows two values), and is recorded in `Upstream.seen` so a script can
say what the upstream never saw. Two special cases:

- `POST /echo-body...`: the request body (Content-Length or chunked) is sent back as the
  response body, with `X-Echo-Length` and `X-Echo-Sha256` of what arrived.
- a WebSocket upgrade (RFC 6455) on any path: the first message the server sends is the
  JSON echo of the upgrade request; after that every text or binary message is sent back
  as it came. The server side is written here on purpose (it is small); the client the
  scripts use is the `websockets` library.

Responses carry `X-Echo-Upstream: 1`, so a script can tell the upstream's answer from a
proxy's or gatehouse's. Python standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
MAX_BODY = 64 * 1024 * 1024


def header_lists(headers) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "interop-echo/1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        self.server.log_lines.append(format % args)

    def record(self, body_length: int | None = None) -> dict:
        parts = urlsplit(self.path)
        entry = {
            "method": self.command,
            "path": parts.path,
            "query": {key: values for key, values in parse_qs(parts.query, keep_blank_values=True).items()},
            "raw_query": parts.query,
            "headers": header_lists(self.headers),
        }
        if body_length is not None:
            entry["body_length"] = body_length
        with self.server.lock:
            self.server.seen.append(entry)
        return entry

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers, up to the empty line
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def send_bytes(self, status: int, body: bytes, content_type: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo-Upstream", "1")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def answer(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.websocket()
            return
        body = self.read_body()
        entry = self.record(len(body))
        if self.command == "POST" and entry["path"].startswith("/echo-body"):
            self.send_bytes(200, body, "application/octet-stream", {
                "X-Echo-Length": str(len(body)),
                "X-Echo-Sha256": hashlib.sha256(body).hexdigest(),
                "X-Echo-Username": ",".join(entry["headers"].get("x-authentik-username", [])),
            })
            return
        self.send_bytes(200, json.dumps(entry).encode(), "application/json")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    # --- WebSocket (RFC 6455), server side -------------------------------------------------

    def websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        entry = self.record()
        entry["websocket"] = True
        accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.send_header("X-Echo-Upstream", "1")
        self.end_headers()
        self.close_connection = True
        self.send_frame(0x1, json.dumps(entry).encode())
        while True:
            frame = self.read_message()
            if frame is None:
                return
            opcode, payload = frame
            if opcode == 0x8:
                self.send_frame(0x8, payload[:2])
                return
            if opcode == 0x9:
                self.send_frame(0xA, payload)
            elif opcode in (0x1, 0x2):
                self.send_frame(opcode, payload)

    def read_frame(self) -> tuple[bool, int, bytes] | None:
        head = self.rfile.read(2)
        if len(head) < 2:
            return None
        fin = bool(head[0] & 0x80)
        opcode = head[0] & 0x0F
        masked = bool(head[1] & 0x80)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", self.rfile.read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self.rfile.read(8))[0]
        if length > MAX_BODY:
            return None
        mask = self.rfile.read(4) if masked else b"\0\0\0\0"
        data = self.rfile.read(length)
        payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))
        return fin, opcode, payload

    def read_message(self) -> tuple[int, bytes] | None:
        first = self.read_frame()
        if first is None:
            return None
        fin, opcode, payload = first
        parts = [payload]
        while not fin:
            following = self.read_frame()
            if following is None:
                return None
            fin, _continuation, more = following
            parts.append(more)
        return opcode, b"".join(parts)

    def send_frame(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            head = struct.pack("!BB", 0x80 | opcode, length)
        elif length < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 126, length)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
        self.wfile.write(head + payload)
        self.wfile.flush()


class Upstream:
    """The echo server on 127.0.0.1:<port>, served from a daemon thread."""

    def __init__(self, port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), EchoHandler)
        self.server.daemon_threads = True
        self.server.seen = []
        self.server.log_lines = []
        self.server.lock = threading.Lock()
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="echo-upstream", daemon=True)

    def start(self) -> "Upstream":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def seen(self) -> list[dict]:
        with self.server.lock:
            return list(self.server.seen)

    def log(self) -> str:
        return "\n".join(self.server.log_lines[-200:])


if __name__ == "__main__":
    import sys

    upstream = Upstream(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(f"echo upstream on {upstream.url}", flush=True)
    upstream.server.serve_forever()
