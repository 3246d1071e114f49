#!/usr/bin/env python3
"""The door: personal links judged before the WebSocket upgrade.

1. No link, a malformed one, an unknown one, an expired one, one not valid
   yet and a revoked one are answered 401/403 with a reason, never 101.
2. The relay judges validity on the wall clock: the same store run under
   faketime two days ahead refuses the link as expired.
3. A listener's attempts to act as someone else are refused and logged:
   core.hello as interpreter, captions.cue, interpretation.claim,
   levels.reset, and binary audio (closed 1008); nothing reaches another
   listener.
4. Revoking an invitation in the store closes its session with 4403 and
   refuses the link from then on.
5. No token ever appears in the relay's log or the attendance log; the
   attendance log has the joins, channel choices and leaves with reasons.
6. Without a store the relay prints one demo link per role, and each one
   enters as its role.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import invitations  # noqa: E402
from access_common import Door, welcome  # noqa: E402
from harness import check  # noqa: E402


def make_store(tmp):
    now = int(time.time())
    extra = [
        {"id": "late", "role": "listener", "not_after": now - 3600},
        {"id": "early", "role": "listener", "not_before": now + 3600},
        {"id": "gone", "role": "listener", "revoked_at": now - 60},
        {"id": "tomorrow", "role": "listener", "not_after": now + 86400},
    ]
    return invitations.Invitations(os.path.join(tmp, "invitees.json"), per_role=2, extra=extra)


def refusals(port, inv):
    cases = [
        ("no link", "/ws", 401, "personal link needed"),
        ("a malformed link", "/ws?t=abc", 401, "invalid link"),
        ("an unknown link", "/ws?t=" + invitations.new_token(), 401, "invalid link"),
        ("an expired link", "/ws?t=" + inv.token("late"), 401, "link expired"),
        ("a link not valid yet", "/ws?t=" + inv.token("early"), 401, "link not valid yet"),
        ("a revoked link", "/ws?t=" + inv.token("gone"), 403, "link revoked"),
    ]
    for what, path, status, reason in cases:
        d = Door(port, path)
        check(d.status == status and d.body == reason,
              f"{what}: HTTP {d.status} '{d.body}', expected {status} '{reason}'")
        print(f"ok {what}: {d.status} {d.body}")


def escalation(relay, port, inv):
    """A listener tries everything a listener may not do."""
    other = Door(port, "/ws?t=" + inv.token("listener", 1))
    check(other.status == 101, f"second listener: {other.status}")
    welcome(other)
    other.send_json({"type": "captions.choose", "lang": "en"})
    other.wait_json(lambda m: m.get("type") == "captions.history", what="captions.history")

    d = Door(port, "/ws?t=" + inv.token("listener", 0))
    check(d.status == 101, f"listener link: HTTP {d.status} {d.body}")
    you = welcome(d).get("you", {})
    check(you == {"role": "listener", "name": "listener-0", "invitee": "listener-0"},
          f"core.welcome says who came in: {you}")
    tries = [
        ({"type": "core.hello", "role": "interpreter"}, "core.hello"),
        ({"type": "captions.cue", "lang": "en", "text": "not mine", "final": True},
         "captions.cue"),
        ({"type": "interpretation.claim", "channel": "es"}, "interpretation.claim"),
        ({"type": "levels.reset", "channel": "floor"}, "levels.reset"),
    ]
    for msg, ref in tries:
        d.send_json(msg)
        err = d.wait_json(lambda m: m.get("type") == "core.error", what=f"the refusal of {ref}")
        check(err.get("code") == "forbidden" and err.get("ref") == ref,
              f"a listener's {ref}: {err}, expected forbidden")
        print(f"ok listener's {ref}: forbidden")
    # Binary audio: a valid-looking puente packet (header + an Opus TOC byte).
    d.send_binary(bytes([1, 1, 1, 0]) + b"\0" * 12 + bytes([0xF8, 0xFF, 0xFE]))
    code = d.wait_close()
    check(code and code[0] == 1008, f"a listener's binary frame: closed with {code}, expected 1008")
    print(f"ok listener's audio: closed {code}")
    time.sleep(0.3)
    other.send_json({"type": "core.ping", "id": "after"})
    pong_or_cue = other.wait_json(lambda m: m.get("type") in ("core.pong", "captions.cue"),
                                  what="the other listener's pong")
    check(pong_or_cue.get("type") == "core.pong",
          f"the refused cue reached another listener: {pong_or_cue}")
    other.close()
    for needle in ("refused core.hello as interpreter", "refused captions.cue",
                   "refused interpretation.claim", "refused levels.reset", "refused audio"):
        relay.wait_log(needle)
    print("ok every refusal is in the relay's log")


def revocation(port, inv):
    d = Door(port, "/ws?t=" + inv.token("interpreter", 0))
    check(d.status == 101, f"interpreter link: {d.status} {d.body}")
    welcome(d)
    # The store changes under the running relay, as puente-token revoke does it.
    inv.revoke("interpreter-0", int(time.time()))
    code = d.wait_close(timeout=5)
    check(code == (4403, "invitation revoked"), f"revoked while connected: closed with {code}")
    again = Door(port, "/ws?t=" + inv.token("interpreter", 0))
    check(again.status == 403, f"the revoked link afterwards: {again.status} {again.body}")
    print("ok revoked while connected: 4403, then 403")


LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def wall_clock(args, tmp, inv):
    """The same link under a clock two days ahead is expired."""
    # libfaketime preloaded straight into the relay (the faketime wrapper
    # forks, and a signal to it would orphan the relay). The sanitizer
    # runtimes refuse a preload ahead of them: this part runs the plain relay.
    harness.check(os.path.exists(LIBFAKETIME), f"{LIBFAKETIME} missing (package faketime)")
    env = dict(os.environ, LD_PRELOAD=LIBFAKETIME, FAKETIME="+2d", DONT_FAKE_MONOTONIC="1")
    relay = harness.Relay(args.plain_relay or args.relay,
                          ["--tone", "--plugins", "", "--invitees", inv.path], env=env)
    with relay:
        d = Door(relay.port, "/ws?t=" + inv.token("tomorrow"))
        check(d.status == 401 and d.body == "link expired",
              f"two days ahead, a link valid for one: {d.status} {d.body}")
        d = Door(relay.port, "/ws?t=" + inv.token("listener", 1))
        check(d.status == 101, f"two days ahead, a link without end: {d.status} {d.body}")
        d.close()
    print("ok under faketime +2d: link expired; the relay stopped cleanly")


def demo_links(args):
    """No store: one demo link per role, printed on stdout at start."""
    p = subprocess.Popen([os.path.abspath(args.relay), "--bind", "127.0.0.1", "--port", "0",
                          "--tone"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True,
                         preexec_fn=harness._die_with_parent)
    try:
        links = {}
        deadline = time.monotonic() + 10
        while len(links) < 5 and time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            m = re.match(r"\s+(\w+)\s+http://127\.0\.0\.1:(\d+)(/\S*)#t=([A-Za-z0-9_-]{22})$",
                         line.rstrip("\n"))
            if m:
                links[m.group(1)] = (int(m.group(2)), m.group(3), m.group(4))
        check(sorted(links) == sorted(invitations.ROLES), f"demo links printed: {sorted(links)}")
        pages = {"listener": "/", "interpreter": "/interpretation/", "captioner": "/captions/",
                 "technician": "/levels/", "organiser": "/levels/"}
        for role, (port, page, token) in links.items():
            check(page == pages[role], f"{role}'s link opens {page}")
            d = Door(port, "/ws?t=" + token)
            check(d.status == 101, f"demo {role} link: {d.status} {d.body}")
            you = welcome(d).get("you", {})
            check(you.get("role") == role, f"demo {role} link enters as {you}")
            d.close()
        print("ok demo links: one per role, each enters as its role")
    finally:
        p.terminate()
        p.wait(10)


def test(args):
    with harness.tempdir("puente-access-door-") as tmp:
        inv = make_store(tmp)
        attendance = os.path.join(tmp, "attendance.jsonl")
        relay = harness.Relay(args.relay, ["--tone", "--invitees", inv.path,
                                           "--anonymous-listeners", "no",
                                           "--attendance", attendance])
        with relay:
            refusals(relay.port, inv)
            escalation(relay, relay.port, inv)
            revocation(relay.port, inv)
        secrets = list(inv.tokens.values())
        log = "\n".join(relay.lines)
        with open(attendance, encoding="utf-8") as f:
            text = f.read()
        for tok in secrets:
            check(tok not in log and tok not in text, "a token appears in a log")
        lines = [json.loads(x) for x in text.splitlines()]
        evs = [(x["ev"], x.get("who"), x.get("reason") or x.get("role") or x.get("channel"))
               for x in lines if x["ev"] != "alive"]
        check(evs[0][0] == "start" and evs[-1][0] == "stop", f"attendance runs start..stop: {evs}")
        for want in (("join", "listener-0", "listener"), ("leave", "listener-0", "closed"),
                     ("join", "interpreter-0", "interpreter"),
                     ("leave", "interpreter-0", "revoked"), ("join", "listener-1", "listener")):
            check(want in evs, f"attendance has {want}: {evs}")
        check(len({x["run"] for x in lines}) == 1, "one run id")
        print(f"ok attendance: {len(lines)} lines, no token in either log")
        wall_clock(args, tmp, inv)
    demo_links(args)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", required=True)
    ap.add_argument("--plain-relay", help="the relay without sanitizers, for faketime")
    ap.add_argument("--listen")
    args = ap.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
