#!/usr/bin/env python3
"""Abuse limits per client address, each from its own 127.0.0.X:

1. Brute force: 10 unknown links from 127.0.0.2 within the window ban it:
   the 11th attempt, even with a valid link, gets 429 with Retry-After,
   while 127.0.0.3 still gets in with a valid link.
2. Stale links are no attack: 15 expired-link attempts from 127.0.0.4 do
   not ban it.
3. Handshakes: 127.0.0.5 holds 8 connections that send nothing; the 9th is
   closed at once, 127.0.0.6 still gets in, and once the 8 are closed
   127.0.0.5 gets in again.
4. WebSockets: with max_conns_per_address = 3, the 4th from 127.0.0.7 gets
   429; after one closes, another gets in.
5. The technician sees it all in levels.update's health.access and is told
   the banned addresses (core.bans); a listener's core.unban is refused, the
   technician's lifts the ban and 127.0.0.2 gets in again.
"""

import argparse
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import invitations  # noqa: E402
from access_common import Door, welcome  # noqa: E402
from harness import check  # noqa: E402

CONFIG = """[access]
anonymous_listeners = no
ban_failures = 10
ban_window = 120
ban_time = 300
max_pending_per_address = 8
max_conns_per_address = 3
"""


def brute_force(port, inv):
    for i in range(10):
        d = Door(port, "/ws?t=" + invitations.new_token(), source="127.0.0.2")
        check(d.status == 401, f"guess {i + 1} from 127.0.0.2: {d.status} {d.body}")
    d = Door(port, "/ws?t=" + inv.token("listener", 0), source="127.0.0.2")
    check(d.status == 429 and d.body.startswith("too many attempts; try again in"),
          f"after 10 guesses, a valid link from 127.0.0.2: {d.status} {d.body}")
    retry = int(d.headers.get("retry-after", "0"))
    check(290 <= retry <= 300, f"Retry-After {retry} s for a 300 s ban")
    ok = Door(port, "/ws?t=" + inv.token("listener", 1), source="127.0.0.3")
    check(ok.status == 101, f"127.0.0.3 during 127.0.0.2's ban: {ok.status} {ok.body}")
    welcome(ok)
    ok.close()
    print(f"ok brute force: 127.0.0.2 banned ({d.body}), 127.0.0.3 still gets in")


def stale_links(port, inv):
    for i in range(15):
        d = Door(port, "/ws?t=" + inv.token("late"), source="127.0.0.4")
        check(d.status == 401 and d.body == "link expired", f"stale {i}: {d.status} {d.body}")
    d = Door(port, "/ws?t=" + inv.token("listener", 2), source="127.0.0.4")
    check(d.status == 101, f"after 15 expired-link attempts: {d.status} {d.body}")
    d.close()
    print("ok 15 expired-link attempts are not a brute force: no ban")


def handshakes(port, inv):
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=("127.0.0.5", 0)) for _ in range(8)]
    time.sleep(0.3)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5,
                                     source_address=("127.0.0.5", 0))
    extra.settimeout(3)
    try:
        got = extra.recv(16)
    except ConnectionResetError:
        got = b""
    check(got == b"", f"the 9th pending connection from 127.0.0.5 was not closed: {got!r}")
    extra.close()
    other = Door(port, "/ws?t=" + inv.token("listener", 3), source="127.0.0.6")
    check(other.status == 101, f"127.0.0.6 while 127.0.0.5 holds 8: {other.status}")
    other.close()
    for s in idle:
        s.close()
    # The relay notices closed handshakes within a second.
    deadline = time.monotonic() + 5
    while True:
        try:
            d = Door(port, "/ws?t=" + inv.token("listener", 3), source="127.0.0.5")
            if d.status == 101:
                d.close()
                break
        except (harness.TestFailure, OSError):
            pass  # still refused: the relay has not swept yet
        check(time.monotonic() < deadline, "127.0.0.5 still refused 5 s after closing its 8")
        time.sleep(0.2)
    print("ok handshakes: the 9th from one address closed, another address unaffected, "
          "freed once the 8 closed")


def sockets(port, inv):
    held = []
    for i in range(3):
        d = Door(port, "/ws?t=" + inv.token("captioner", i), source="127.0.0.7")
        check(d.status == 101, f"WebSocket {i + 1} from 127.0.0.7: {d.status}")
        welcome(d)
        held.append(d)
    d = Door(port, "/ws?t=" + inv.token("captioner", 3), source="127.0.0.7")
    check(d.status == 429 and d.body == "too many connections from this address",
          f"the 4th WebSocket from 127.0.0.7: {d.status} {d.body}")
    held.pop().close()
    time.sleep(0.3)
    d = Door(port, "/ws?t=" + inv.token("captioner", 3), source="127.0.0.7")
    check(d.status == 101, f"after one closed: {d.status} {d.body}")
    d.close()
    for h in held:
        h.close()
    print("ok WebSockets: the 4th from one address refused, room again after one closed")


def technician_view(port, inv):
    d = Door(port, "/ws?t=" + inv.token("technician", 0))
    check(d.status == 101, f"technician: {d.status}")
    welcome(d)
    bans = d.wait_json(lambda m: m.get("type") == "core.bans", what="core.bans")
    check(bans["total"] == 1 and bans["bans"][0]["address"] == "127.0.0.2"
          and 250 < bans["bans"][0]["seconds"] <= 300, f"the technician is told the bans: {bans}")
    upd = d.wait_json(lambda m: m.get("type") == "levels.update", timeout=5, what="levels.update")
    a = upd["health"].get("access", {})
    print(f"technician sees: {a}")
    check(a.get("refused_token", 0) >= 25, f"links refused counted: {a}")
    check(a.get("bans") == 1 and a.get("banned_now") == 1, f"one ban, still on: {a}")
    check(a.get("refused_banned", 0) >= 1, f"attempts while banned counted: {a}")
    check(a.get("refused_pending", 0) >= 1, f"handshake cap counted: {a}")
    check(a.get("refused_conns", 0) >= 1, f"WebSocket cap counted: {a}")
    print("ok the technician sees the door's counters and the banned address")
    return d


def unban(port, inv, tech, relay):
    """A listener may not lift a ban; the technician does, and 127.0.0.2 gets in."""
    lst = Door(port, "/ws?t=" + inv.token("listener", 1))
    welcome(lst)
    lst.send_json({"type": "core.unban", "address": "127.0.0.2"})
    err = lst.wait_json(lambda m: m.get("type") == "core.error", what="the refusal")
    check(err.get("code") == "forbidden", f"a listener's core.unban: {err}")
    lst.close()
    d = Door(port, "/ws?t=" + inv.token("listener", 0), source="127.0.0.2")
    check(d.status == 429, f"still banned after the listener's try: {d.status}")
    tech.send_json({"type": "core.unban", "address": "127.0.0.2"})
    ans = tech.wait_json(lambda m: m.get("type") == "core.unbanned", what="core.unbanned")
    check(ans == {"type": "core.unbanned", "address": "127.0.0.2", "was_banned": True},
          f"core.unbanned: {ans}")
    bans = tech.wait_json(lambda m: m.get("type") == "core.bans", what="core.bans after")
    check(bans["total"] == 0 and bans["bans"] == [], f"no ban left: {bans}")
    d = Door(port, "/ws?t=" + inv.token("listener", 0), source="127.0.0.2")
    check(d.status == 101, f"127.0.0.2 after the unban: {d.status} {d.body}")
    d.close()
    tech.close()
    relay.wait_log("address 127.0.0.2 unbanned by client")
    print("ok unban: refused to a listener; the technician lifts it and 127.0.0.2 gets in")


def test(args):
    with harness.tempdir("puente-access-limits-") as tmp:
        now = int(time.time())
        inv = invitations.Invitations(os.path.join(tmp, "invitees.json"), per_role=4,
                                      extra=[{"id": "late", "role": "listener",
                                              "not_after": now - 3600}])
        ini = os.path.join(tmp, "relay.ini")
        with open(ini, "w") as f:
            f.write(CONFIG)
        with harness.Relay(args.relay, ["--tone", "--config", ini,
                                        "--invitees", inv.path]) as relay:
            brute_force(relay.port, inv)
            stale_links(relay.port, inv)
            handshakes(relay.port, inv)
            sockets(relay.port, inv)
            tech = technician_view(relay.port, inv)
            unban(relay.port, inv, tech, relay)
            relay.wait_log("address 127.0.0.2 banned for 300 s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--listen")
    args = ap.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
