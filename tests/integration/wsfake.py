"""A scripted stand-in for the relay, to send what a real one never would.

FakeRelay accepts one WebSocket connection at a time on 127.0.0.1 (RFC 6455
server side, written here so the test can send malformed and oversized
messages on purpose) and lets a test script the conversation. OpusEncoder
makes real Opus packets through libopus with ctypes; audio_frame and bundle
(tests/lib/wire.py) build binary messages. Every wait is bounded.
"""

import base64
import ctypes
import ctypes.util
import hashlib
import json
import socket
import struct
import time

from harness import check  # harness also puts tests/lib on the path, for wire
from wire import bundle, packet as audio_frame  # noqa: F401  (for the scripts)

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
MAX_REQUEST = 8192
MAX_PAYLOAD = 1 << 20


class FakeRelay:
    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.conn = None
        self.request = {}

    def url(self, path="/ws"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        self.listener.close()

    def _recv_exact(self, n, deadline):
        buf = b""
        while len(buf) < n:
            self.conn.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.conn.recv(n - len(buf))
            check(chunk, "the client closed the TCP connection")
            buf += chunk
        return buf

    def accept(self, timeout=10):
        """Accepts a connection and completes the opening handshake."""
        self.listener.settimeout(timeout)
        self.conn, _ = self.listener.accept()
        deadline = time.monotonic() + timeout
        raw = b""
        while b"\r\n\r\n" not in raw:
            check(len(raw) < MAX_REQUEST, "handshake request too long")
            self.conn.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.conn.recv(1024)
            check(chunk, "client closed during the handshake")
            raw += chunk
        lines = raw.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        self.request = {"method": method, "path": path, "headers": headers}
        accept = base64.b64encode(
            hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()).decode()
        reply = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n")
        if "sec-websocket-protocol" in headers:
            reply += f"Sec-WebSocket-Protocol: {headers['sec-websocket-protocol']}\r\n"
        self.conn.sendall((reply + "\r\n").encode())
        return self.request

    def send_frame(self, opcode, payload, fin=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + struct.pack("!H", n)
        else:
            head += bytes([127]) + struct.pack("!Q", n)
        self.conn.sendall(head + payload)

    def send_json(self, obj):
        self.send_frame(OP_TEXT, json.dumps(obj).encode())

    def recv_frame(self, timeout=10):
        """One client frame: (opcode, fin, payload), unmasked."""
        deadline = time.monotonic() + timeout
        b0, b1 = self._recv_exact(2, deadline)
        check(b1 & 0x80, "client frame not masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._recv_exact(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._recv_exact(8, deadline))[0]
        check(n <= MAX_PAYLOAD, f"client frame of {n} bytes")
        mask = self._recv_exact(4, deadline)
        data = self._recv_exact(n, deadline)
        data = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
        return b0 & 0x0F, bool(b0 & 0x80), data

    def recv_json(self, timeout=10):
        op, fin, data = self.recv_frame(timeout)
        check(op == OP_TEXT and fin, f"expected a whole text frame, got opcode {op}")
        return json.loads(data)

    def recv_close(self, timeout=10):
        """Waits for the client's close frame; returns (code, reason)."""
        deadline = time.monotonic() + timeout
        while True:
            op, _, data = self.recv_frame(max(0.01, deadline - time.monotonic()))
            if op == OP_CLOSE:
                check(len(data) >= 2, "close frame without a code")
                return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8", "replace")


class OpusEncoder:
    """libopus through ctypes: mono, 48 kHz, 20 ms frames, default bitrate."""

    def __init__(self):
        self.lib = ctypes.CDLL(ctypes.util.find_library("opus") or "libopus.so.0")
        self.lib.opus_encoder_create.restype = ctypes.c_void_p
        self.lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int,
                                                 ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        self.lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int16),
                                         ctypes.c_int, ctypes.c_char_p, ctypes.c_int32]
        self.lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
        err = ctypes.c_int()
        self.enc = self.lib.opus_encoder_create(48000, 1, 2049, ctypes.byref(err))  # AUDIO
        check(self.enc and err.value == 0, f"opus_encoder_create failed: {err.value}")

    def encode(self, pcm16):
        """960 int16 samples -> one Opus packet (bytes)."""
        check(len(pcm16) == 960, "one 20 ms frame at a time")
        buf = (ctypes.c_int16 * 960)(*pcm16)
        out = ctypes.create_string_buffer(1500)
        n = self.lib.opus_encode(self.enc, buf, 960, out, 1500)
        check(n > 0, f"opus_encode failed: {n}")
        return out.raw[:n]

    def close(self):
        self.lib.opus_encoder_destroy(self.enc)
