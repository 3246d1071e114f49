#!/usr/bin/python3
"""The plugin loader and the host services, against the real relay.

1. The probe plugin loads and each host service works from outside:
   config_get, channel/channel_find, client_role/subscription, subscribe,
   publish (and refusal on the floor), media_time_now, a reader on its own
   thread with send_json_role from that thread, timer ticks, client
   join/leave, clients() and relay_stats(), an HTTP route (GET and POST,
   413 past the body cap), and the four refusal codes of message().
2. Each broken plugin is refused in one log line and the relay serves
   without it: other ABI, short descriptor, failing init, no entry symbol,
   a file that is not a shared object, a missing file.
3. A required plugin that cannot load stops the relay from starting.
4. --list-plugins says which would load.

Usage: loader_test.py --relay PATH --plugin-dir DIR
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "integration"))
sys.path.insert(0, os.path.join(here, "..", "rt"))
import harness  # noqa: E402
from harness import check, TestFailure  # noqa: E402
from rtlib import WsProbe  # noqa: E402


def wait_for(probe, pred, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in probe.snapshot():
            if pred(ev):
                return ev
        time.sleep(0.02)
    raise TestFailure(f"timed out waiting for {what}; got {[e[1:] for e in probe.snapshot()][-8:]}")


def json_of(type_):
    return lambda ev: ev[1] == "json" and ev[2].get("type") == type_


def error_for(ref, code):
    return lambda ev: (ev[1] == "json" and ev[2].get("type") == "core.error"
                       and ev[2].get("ref") == ref and ev[2].get("code") == code)


def http(port, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                 headers={"Content-Type": "text/plain"} if body else {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_probe(args, tmp):
    cfg = os.path.join(tmp, "probe.ini")
    with open(cfg, "w") as f:
        f.write("[core]\nplugins = probe\n[plugin.probe]\ngreeting = hola\n")
    with harness.Relay(args.relay, ["--tone", "--config", cfg, "--plugin-dir", args.plugin_dir],
                       cwd=tmp) as relay:
        log = "\n".join(relay.lines)
        check("plugin probe test: loaded" in log, "the relay logs 'plugin probe test: loaded'")
        check("plugin probe: ready, greeting 'hola'" in log,
              "host log and config_get: the probe logs its configured greeting")
        ws = WsProbe(relay.port, path=relay.ws_path("technician"))
        ws.send_json({"type": "core.hello", "role": "technician"})
        wait_for(ws, json_of("core.hello"), "core.hello")
        ws.send_json({"type": "probe.hello"})
        h = wait_for(ws, json_of("probe.hello"), "probe.hello")[2]
        print("probe.hello:", json.dumps(h))
        check(h["greeting"] == "hola", "config_get returns the section's value")
        check(h["channel0"] == "floor" and h["es"] == 1 and h["past_end"],
              "channel() and channel_find() describe the room")
        check(h["role"] == 3, "client_role() is technician (3) after core.hello")
        check(h["subscription"] == 0, "subscription() is the floor the client subscribed")

        ws.send_json({"type": "probe.subscribe", "channel": "es"})
        wait_for(ws, lambda e: e[1] == "json" and e[2].get("type") == "core.subscribed"
                 and e[2].get("channel") == "es", "core.subscribed es after host subscribe()")
        mark = len(ws.snapshot())
        ws.send_json({"type": "probe.publish"})
        pub = wait_for(ws, json_of("probe.published"), "probe.published")[2]
        check(pub["floor_refused"], "publish() into the floor is refused with -EPERM")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            audio = [e[2] for e in ws.snapshot()[mark:] if e[1] == "audio"]
            if len(audio) >= 5:
                break
            time.sleep(0.02)
        check(len(audio) >= 5, f"the 5 published packets arrive on es (got {len(audio)})")
        seqs = [a[1] for a in audio[:5]]
        times = [a[2] for a in audio[:5]]
        check(seqs == list(range(seqs[0], seqs[0] + 5)), f"their seq is contiguous: {seqs}")
        check(all(b - a == 960 for a, b in zip(times, times[1:])),
              f"their media time is the plugin's, 960 apart: {times}")
        check(audio[0][0] & 0x01, "the first packet after the move is flagged DISCONT")

        rd = wait_for(ws, json_of("probe.reader"), "probe.reader from the plugin's thread")[2]
        check(rd["packets"] >= 50 and rd["samples"] == 960,
              f"a reader on the plugin's own thread follows the floor: {rd}")
        # Stepping down to listener is a role change: plugins see a leave and a join.
        ws.send_json({"type": "core.hello", "role": "listener"})
        wait_for(ws, lambda e: e[1] == "json" and e[2].get("type") == "core.hello"
                 and e[2].get("role") == "listener", "core.hello as listener")
        ws.send_json({"type": "core.hello", "role": "technician"})
        wait_for(ws, lambda e: e[1] == "json" and e[2].get("type") == "core.hello"
                 and e[2].get("role") == "technician", "core.hello back as technician")
        time.sleep(0.3)
        ws.send_json({"type": "probe.stats"})
        st = wait_for(ws, json_of("probe.stats"), "probe.stats")[2]
        print("probe.stats:", json.dumps(st))
        check(st["ticks"] >= 5, "timer_every(20) drives tick()")
        check(st["joins"] >= 2, "client_join on connect (as the invitation's technician) and on the role change")
        check(st["leaves"] >= 1, "client_leave before the role change")
        check(st["media_time"] > 0, "media_time_now() follows the room clock")

        ws2 = WsProbe(relay.port)
        ws.send_json({"type": "probe.clients"})
        cl = wait_for(ws, json_of("probe.clients"), "probe.clients")[2]
        print("probe.clients:", json.dumps(cl))
        check(cl["count"] == 2 and cl["clients_now"] == 2, "clients() and relay_stats() see both")
        check(cl["address"] == "127.0.0.1" and cl["role"] == 3, "clients() describes the caller")
        check(cl["published"] > 0 and not cl["source_lost"], "relay_stats() counts the floor")
        ws2.close()

        for verb, code in (("busy", "busy"), ("bad", "bad_field"), ("deny", "forbidden"),
                           ("nothing", "unknown_type")):
            ws.send_json({"type": "probe." + verb})
            wait_for(ws, error_for("probe." + verb, code), f"probe.{verb} -> {code}")
        check(True, "message() refusals map to busy, bad_field, forbidden, unknown_type")
        ws.send_json({"type": "nosuchplugin.verb"})
        wait_for(ws, error_for("nosuchplugin.verb", "unknown_type"), "unknown namespace")

        status, body = http(relay.port, "/probe/echo?x=1&y=two")
        echo = json.loads(body)
        check(status == 200 and echo["method"] == "GET" and echo["query"] == "x=1&y=two"
              and echo["path"] == "/probe/echo", f"GET on the route: {status} {echo}")
        status, body = http(relay.port, "/probe/echo", b"caption text")
        echo = json.loads(body)
        check(status == 200 and echo["method"] == "POST" and echo["body"] == "caption text",
              f"POST on the route: {status} {echo}")
        status, _ = http(relay.port, "/probe/echo", b"x" * 20000)
        check(status == 413, f"a POST body over 16 KiB gets 413 (got {status})")
        status, _ = http(relay.port, "/")
        check(status == 200, "the listener page is still served")
        ws.close()


REFUSALS = [
    ("bad_abi", "ABI 99, core speaks 1"),
    ("short_size", "descriptor of 8 bytes"),
    ("init_fails", "init failed"),
    ("no_symbol", "no symbol puente_plugin_entry"),
    ("corrupt", "cannot load"),
    ("missing", "cannot load"),
]


def test_refusals(args, tmp):
    pdir = os.path.join(tmp, "plugins")
    os.makedirs(pdir, exist_ok=True)
    for name, _ in REFUSALS[:4]:
        shutil.copy(os.path.join(args.plugin_dir, name + ".so"), pdir)
    with open(os.path.join(pdir, "corrupt.so"), "wb") as f:
        f.write(open(os.path.join(args.plugin_dir, "probe.so"), "rb").read()[:300])
    for name, reason in REFUSALS:
        with harness.Relay(args.relay, ["--tone", "--plugins", name, "--plugin-dir", pdir],
                           cwd=tmp) as relay:
            lines = [l for l in relay.lines if f"plugin {name}: refused" in l]
            check(len(lines) == 1 and reason in lines[0] and "running without it" in lines[0],
                  f"{name}: one line '{lines[0] if lines else ''}'")
            ws = WsProbe(relay.port)
            wait_for(ws, lambda e: e[1] == "audio", f"{name}: the relay still relays")
            ws.close()


def test_required(args, tmp):
    cfg = os.path.join(tmp, "required.ini")
    with open(cfg, "w") as f:
        f.write("[core]\nplugins = init_fails\n[plugin.init_fails]\nrequired = yes\n")
    r = subprocess.run([args.relay, "--tone", "--port", "0", "--config", cfg, "--plugin-dir",
                        args.plugin_dir], capture_output=True, text=True, timeout=20)
    print(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "")
    check(r.returncode != 0, f"a required plugin that fails stops the start (exit {r.returncode})")
    check("it is required" in r.stderr and "listening on" not in r.stderr,
          "it says why, and never listens")


def test_list(args, tmp):
    r = subprocess.run([args.relay, "--list-plugins", "--plugin-dir", args.plugin_dir,
                        "--plugins", "probe"], capture_output=True, text=True, timeout=20)
    print(r.stdout)
    check(r.returncode == 0, "--list-plugins exits 0")
    out = r.stdout
    check("probe" in out and "would load" in out, "the probe would load")
    check("ABI 99, core speaks 1" in out and "no symbol" in out, "the broken ones say why")
    check(any(l.split()[:3] == ["probe", "test", "enabled"] for l in out.splitlines()),
          "the enabled one is marked")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--relay", required=True)
    p.add_argument("--plugin-dir", required=True)
    args = p.parse_args()
    args.relay, args.plugin_dir = os.path.abspath(args.relay), os.path.abspath(args.plugin_dir)

    def run():
        with harness.tempdir("puente-plugins-") as tmp:
            test_probe(args, tmp)
            test_refusals(args, tmp)
            test_required(args, tmp)
            test_list(args, tmp)
    harness.main(run)


if __name__ == "__main__":
    main()
