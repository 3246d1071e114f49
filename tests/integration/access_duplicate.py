#!/usr/bin/env python3
"""One connection per invitee: two clients race with the same link, 100
times under each policy, and never leave two live connections.

- duplicate = takeover (the default): both upgrades succeed; the older one
  is closed with 4409 "opened on another device", the newer one answers.
- duplicate = refuse: exactly one gets 101, the other 409 "already
  connected on another device".

Each race uses its own invitation, so one race's closing cannot disturb the
next. The survivor proves it is live with a ping answered by a pong.
"""

import argparse
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import invitations  # noqa: E402
from access_common import Door, welcome  # noqa: E402
from harness import check  # noqa: E402

RACES = 100


def race(port, token):
    """Two upgrades released at once by a barrier; returns both Doors."""
    barrier = threading.Barrier(2)
    out = [None, None]
    errors = []

    def go(i):
        try:
            barrier.wait(5)
            out[i] = Door(port, "/ws?t=" + token)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    check(not errors and all(out), f"a racing client failed: {errors}")
    return out


def alive(d):
    d.send_json({"type": "core.ping", "id": "alive"})
    d.wait_json(lambda m: m.get("type") == "core.pong", what="core.pong")


def takeover(args, tmp):
    inv = invitations.Invitations(os.path.join(tmp, "takeover.json"), per_role=RACES)
    with harness.Relay(args.relay, ["--tone", "--plugins", "", "--invitees", inv.path,
                                    "--duplicate", "takeover"]) as relay:
        for i in range(RACES):
            a, b = race(relay.port, inv.token("listener", i))
            check(a.status == 101 and b.status == 101,
                  f"race {i}: takeover answered {a.status} and {b.status}, expected 101 twice")
            closes = []
            for d in (a, b):
                d.sock.settimeout(0.05)
            # The older one is told why, the newer one stays.
            gone = None
            for _ in range(100):
                for d in (a, b):
                    try:
                        op, data = d.frame()
                    except (TimeoutError, OSError):
                        continue
                    if op == 8:
                        gone = d
                        closes.append(data)
                if gone:
                    break
            check(gone is not None, f"race {i}: neither connection was closed: two live")
            code = int.from_bytes(closes[0][:2], "big")
            check(code == 4409 and closes[0][2:] == b"opened on another device",
                  f"race {i}: the replaced connection got {closes[0]!r}")
            survivor = b if gone is a else a
            alive(survivor)
            survivor.close()
            gone.sock.close()
        print(f"ok takeover: {RACES} races, each left one live connection, the other got 4409")


def refuse(args, tmp):
    inv = invitations.Invitations(os.path.join(tmp, "refuse.json"), per_role=RACES)
    with harness.Relay(args.relay, ["--tone", "--plugins", "", "--invitees", inv.path,
                                    "--duplicate", "refuse"]) as relay:
        for i in range(RACES):
            a, b = race(relay.port, inv.token("listener", i))
            statuses = sorted((a.status, b.status))
            check(statuses == [101, 409],
                  f"race {i}: refuse answered {statuses}, expected one 101 and one 409")
            winner, loser = (a, b) if a.status == 101 else (b, a)
            check(loser.body == "already connected on another device",
                  f"race {i}: the refusal says '{loser.body}'")
            welcome(winner)
            alive(winner)
            winner.close()
        check(relay.wait_log("refused a second connection", RACES) == RACES,
              "every refusal is logged once")
        print(f"ok refuse: {RACES} races, each one 101 and one 409")


def test(args):
    with harness.tempdir("puente-access-dup-") as tmp:
        takeover(args, tmp)
        refuse(args, tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--listen")
    args = ap.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
