#!/usr/bin/env python3
"""TLS with a self-signed certificate made here by the openssl CLI.

1. --cert/--key (TLS required by default): a wss client with a personal
   link gets 101; a plain ws client gets no WebSocket; the page comes over
   https with its security headers (CSP without unsafe-inline,
   Referrer-Policy no-referrer).
2. --tls-required no: plain and TLS on the same port both get in.
"""

import argparse
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from access_common import Door, welcome  # noqa: E402
from harness import check  # noqa: E402


def make_cert(tmp):
    cert, key = harness.self_signed_cert(tmp)
    return cert, key, ssl.create_default_context(cafile=cert)


def https_get(port, ctx, path="/"):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                      .encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    return int(head[0].split()[1]), {k.strip().lower(): v.strip()
                                     for k, _, v in (l.partition(":") for l in head[1:])}


def plain_refused(port, token):
    try:
        d = Door(port, "/ws?t=" + token, timeout=3)
        return d.status != 101
    except (harness.TestFailure, OSError, ValueError, IndexError):
        return True


def test(args):
    with harness.tempdir("puente-access-tls-") as tmp:
        cert, key, ctx = make_cert(tmp)
        with harness.Relay(args.relay, ["--tone", "--cert", cert, "--key", key]) as relay:
            check(any(f"listening on https://127.0.0.1:{relay.port}/" in l and "TLS only" in l
                      for l in relay.lines), "the relay says it serves https only")
            d = Door(relay.port, "/ws?t=" + relay.invitations.token("listener"), tls=ctx)
            check(d.status == 101, f"wss with a personal link: {d.status} {d.body}")
            check(welcome(d)["you"]["role"] == "listener", "wss: welcomed as the listener")
            d.close()
            check(plain_refused(relay.port, relay.invitations.token("listener", 1)),
                  "a plain ws client got a WebSocket from a TLS-only relay")
            status, headers = https_get(relay.port, ctx)
            csp = headers.get("content-security-policy", "")
            check(status == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp,
                  f"https page: {status}, CSP {csp!r}")
            check(headers.get("referrer-policy") == "no-referrer",
                  f"Referrer-Policy: {headers.get('referrer-policy')}")
            print("ok TLS only: wss 101, plain ws refused, https page with CSP and no-referrer")
        with harness.Relay(args.relay, ["--tone", "--cert", cert, "--key", key,
                                        "--tls-required", "no"]) as relay:
            d = Door(relay.port, "/ws?t=" + relay.invitations.token("listener"), tls=ctx)
            check(d.status == 101, f"wss with plain allowed: {d.status}")
            d.close()
            d = Door(relay.port, "/ws?t=" + relay.invitations.token("listener", 1))
            check(d.status == 101, f"plain ws with --tls-required no: {d.status}")
            d.close()
            print("ok --tls-required no: plain and TLS on one port")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--listen")
    args = ap.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
