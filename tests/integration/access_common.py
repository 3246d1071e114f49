"""A raw WebSocket client for the access tests: it sees the HTTP answer to
the upgrade (401, 403, 409, 429 or 101), can come from any 127.0.0.X
source address, can speak TLS, and reads close frames with their codes.
"""

import json
import os
import socket
import struct
import sys
import time

from harness import TestFailure

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "rt"))
import rtlib  # noqa: E402


class Door:
    """One upgrade attempt. status: the HTTP status, body: the reason text
    for refusals. For 101 the socket stays open for frames."""

    def __init__(self, port, path="/ws", source="127.0.0.1", tls=None, timeout=5.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                       source_address=(source, 0))
        self.sock = tls.wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw
        try:
            self.status, self.headers, self.buf = rtlib.ws_handshake(self.sock, port, path)
        except rtlib.TestFailure as e:
            raise TestFailure(str(e)) from e
        self.body = ""
        if self.status != 101:
            want = int(self.headers.get("content-length", "0"))
            while len(self.buf) < want:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.buf += chunk
            self.body = self.buf[:want].decode("utf-8", "replace").strip()
            self.sock.close()

    # ---- frames (client side: masked) ----

    def _send(self, opcode, payload):
        self.sock.sendall(rtlib.ws_frame(opcode, payload))

    def send_json(self, obj):
        self._send(1, json.dumps(obj).encode())

    def send_binary(self, data):
        self._send(2, data)

    def _recv(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(opcode, payload) of the next frame; EOFError when the socket ends."""
        b0, b1 = self._recv(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._recv(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._recv(8))[0]
        return b0 & 0x0F, self._recv(n)

    def wait_json(self, pred, timeout=5.0, what="a message"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                op, data = self.frame()
            except (socket.timeout, TimeoutError):
                break
            if op == 8:
                raise TestFailure(f"closed while waiting for {what}: {close_of(data)}")
            if op == 1:
                msg = json.loads(data)
                if pred(msg):
                    return msg
        raise TestFailure(f"timed out waiting for {what}")

    def wait_close(self, timeout=5.0):
        """(code, reason) of the close frame, or None if the socket just ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                op, data = self.frame()
            except (socket.timeout, TimeoutError):
                break
            except (EOFError, ConnectionResetError):
                return None
            if op == 8:
                return close_of(data)
        raise TestFailure("no close frame within %.1f s" % timeout)

    def close(self):
        try:
            self._send(8, struct.pack(">H", 1000))
            self.wait_close(2.0)
        except (OSError, EOFError, TestFailure):
            pass
        self.sock.close()


def close_of(data):
    if len(data) < 2:
        return (None, "")
    return (struct.unpack(">H", data[:2])[0], data[2:].decode("utf-8", "replace"))


def welcome(door):
    return door.wait_json(lambda m: m.get("type") == "core.welcome", what="core.welcome")
