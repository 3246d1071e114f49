#!/usr/bin/python3
"""The relay listens only on the address it is told.

libwebsockets 4.1 built with IPv6 binds every interface when given an IPv4
address; the relay must not. With --bind 127.0.0.1 the kernel's socket
tables (/proc/net/tcp and tcp6) must hold exactly one listening socket on
the relay's port, bound to 127.0.0.1, and none on the IPv6 wildcard.

Usage: bind_address.py --relay PATH
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

LISTEN = "0A"


def listeners(table, port):
    """Local addresses (hex, as the kernel writes them) listening on port."""
    found = []
    try:
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, hexport = fields[1].split(":")
                if fields[3] == LISTEN and int(hexport, 16) == port:
                    found.append(addr)
    except FileNotFoundError:  # a kernel without IPv6
        pass
    return found


def test(args):
    with harness.tempdir("puente-bind-") as tmp:
        with harness.Relay(args.relay, ["--tone"], cwd=tmp) as relay:
            v4 = listeners("/proc/net/tcp", relay.port)
            v6 = listeners("/proc/net/tcp6", relay.port)
            print(f"port {relay.port}: IPv4 listeners {v4}, IPv6 listeners {v6}")
            check(v4 == ["0100007F"], f"one IPv4 listener on 127.0.0.1, not {v4}")
            check(v6 == [], f"no IPv6 listener (the wildcard answers every interface): {v6}")
    print("ok: the relay listens on 127.0.0.1 only")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
