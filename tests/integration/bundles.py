#!/usr/bin/python3
"""Bundles end to end: the relay sends what each client asked for.

A relay with the test tone and bundle_above = 0 (so "auto" listeners get
bundles of bundle_auto = 3 from the first client on). Probes, each on the
floor channel for 3 s:
  auto        (no core.hello)            -> bundles of 3: packets/messages >= 2.5
  one         (core.hello bundle 1)      -> single packets: ratio exactly 1
  two         (core.hello bundle 2)      -> ratio in 1.6..2
  technician  (its personal link, no hello: automatic bundling is for listeners) -> ratio 1
Every probe: seq contiguous after the first packet (no packet lost inside or
between bundles), media time +960 per packet, nothing malformed. core.hello
answers with the setting; "bundle": 4 and "bundle": "big" are core.error
bad_field. Then puente-bench --bundle auto, 20 listeners for 2 s: 0 gaps,
nothing malformed, every listener got packets.

Usage: bundles.py --relay PATH --bench PATH
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rt"))
import harness  # noqa: E402
from harness import check  # noqa: E402
from rtlib import WsProbe  # noqa: E402

SECONDS = 3
FRAME = 960


def hello(probe, bundle):
    msg = {"type": "core.hello", "role": "listener"}
    if bundle is not None:
        msg["bundle"] = bundle
    probe.send_json(msg)


def replies(probe, kind):
    return [d for _, k, d in probe.snapshot() if k == "json" and d.get("type") == kind]


def audio_checks(name, probe):
    ev = probe.snapshot()
    audio = [d for _, k, d in ev if k == "audio"]
    bad = [d for _, k, d in ev if k == "bad_audio"]
    check(not bad, f"{name}: {len(bad)} malformed binary messages")
    check(len(audio) >= SECONDS * 50 // 2, f"{name}: only {len(audio)} packets in {SECONDS} s")
    for (_, seq0, mt0, _), (flags, seq, mt, _) in zip(audio, audio[1:]):
        check(seq == (seq0 + 1) % 2**32 and not flags & 0x01,
              f"{name}: seq {seq0} then {seq} (flags {flags}): a packet was lost")
        check(mt == mt0 + FRAME, f"{name}: media time {mt0} then {mt}")
    ratio = len(audio) / probe.binary_messages
    print(f"{name}: {len(audio)} packets in {probe.binary_messages} messages "
          f"({ratio:.2f} per message)")
    return ratio


def test(args):
    with harness.tempdir("puente-bundles-") as tmp:
        with harness.Relay(args.relay, ["--tone", "--bundle-above", "0"], cwd=tmp) as relay:
            probes = {
                "auto": WsProbe(relay.port, channel=None),
                "one": WsProbe(relay.port, channel=None),
                "two": WsProbe(relay.port, channel=None),
                "technician": WsProbe(relay.port, channel=None,
                                      path=relay.ws_path("technician")),
                "bad": WsProbe(relay.port, channel=None),
            }
            hello(probes["one"], 1)
            hello(probes["two"], 2)
            hello(probes["bad"], 4)
            hello(probes["bad"], "big")
            time.sleep(0.3)
            for name in ("auto", "one", "two", "technician"):
                probes[name].send_json({"type": "core.subscribe", "channel": "floor"})
            time.sleep(SECONDS)
            for p in probes.values():
                p.close()

            check([h.get("bundle") for h in replies(probes["one"], "core.hello")] == [1],
                  "core.hello answers bundle 1")
            check([h.get("bundle") for h in replies(probes["two"], "core.hello")] == [2],
                  "core.hello answers bundle 2")
            errors = replies(probes["bad"], "core.error")
            check(len(errors) == 2 and all(e.get("code") == "bad_field" for e in errors),
                  f"bundle 4 and \"big\" are bad_field: {errors}")
            check(not replies(probes["bad"], "core.hello"), "a bad bundle changes nothing")

            ratio = {n: audio_checks(n, probes[n]) for n in ("auto", "one", "two", "technician")}
            check(ratio["auto"] >= 2.5, f"auto listener under bundle_above 0: {ratio['auto']:.2f}")
            check(ratio["one"] == 1.0, f"bundle 1 means single packets: {ratio['one']:.2f}")
            check(1.6 <= ratio["two"] <= 2.0, f"bundle 2: {ratio['two']:.2f} per message")
            check(ratio["technician"] == 1.0,
                  f"a technician is not bundled automatically: {ratio['technician']:.2f}")

            r = harness.run([args.bench, "--url", relay.url(), "--listeners", "20", "--seconds",
                             "2", "--warmup", "1", "--bundle", "auto"], 60)
            print(r.stdout, end="")
            check(r.returncode == 0, f"puente-bench exited {r.returncode}: {r.stderr}")
            s = harness.parse_summary(r.stdout)
            check(s["gaps"] == "0" and s["bad_audio"] == "0" and int(s["packets_min"]) > 0,
                  f"bench with bundles: {s}")
    print("ok: bundles as asked, nothing lost")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--relay", required=True)
    p.add_argument("--bench", required=True)
    args = p.parse_args()
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
