#!/usr/bin/python3
"""A listener cannot act as an interpreter or a technician.

The relay loads the interpretation plugin (booths es, en) and relays a
floor speech; a puente-booth console is live into es. An observer probe
(rtlib's WsProbe) records es and every interpretation.state. Then:

1. a listener sends interpretation.claim {channel: es},
   interpretation.floor {language: en} and interpretation.mute {on: true}:
   each is answered core.error forbidden with ref naming it, and the
   connection stays (it still receives audio);
2. another listener sends a binary audio message (a valid header for es
   and a valid Opus packet): the relay closes it with 1008.
Afterwards: no interpretation.state changed (floor language, the booth
live, unmuted), the observer's es stream has no seq break, none of the
injected packet's bytes reached it, and it still decodes to the console's
speech (ncc >= 0.9) over the time of the attempts; the console was never
refused and stayed live.

Usage: interp_listener_refused.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
"""

import math
import os
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
import interp  # noqa: E402
from harness import check  # noqa: E402
from wsfake import OpusEncoder  # noqa: E402

MIN_NCC = 0.9
ATTEMPTS = (
    ({"type": "interpretation.claim", "channel": "es"}, "interpretation.claim"),
    ({"type": "interpretation.floor", "language": "en"}, "interpretation.floor"),
    ({"type": "interpretation.mute", "on": True}, "interpretation.mute"),
)


def tone_packet():
    enc = OpusEncoder()
    try:
        return enc.encode([int(12000 * math.sin(2 * math.pi * 440 * k / 48000))
                           for k in range(interp.FRAME)])
    finally:
        enc.close()


def booths_of(state):
    return {"floor_language": state.get("floor_language"),
            "booths": [{k: b.get(k) for k in ("id", "live", "direction", "muted", "pending")}
                       for b in state.get("booths", [])]}


def test(args):
    with harness.tempdir("puente-interp-refused-") as tmp:
        floor, _ = interp.speech(tmp, "floor", interp.FLOOR_TEXT, "es-419")
        es, es_pcm = interp.speech(tmp, "es", interp.ES_TEXT, "es")
        ini = interp.config(tmp, "es, en")
        ES = interp.channel_id("es")
        injected = tone_packet()

        with interp.relay(args, tmp, ini, floor) as relay, interp.Booths() as booths:
            booth = booths.start(args, relay.url(role="interpreter"), tmp, "booth-es", "--output", "es",
                                 "--input-file", es, "--live")
            booth.wait_line("LIVE into 'es'")
            observer = interp.Probe(relay.port, "es")
            rogue = interp.Probe(relay.port, "floor")
            sender = interp.Probe(relay.port, "floor")
            try:
                observer.wait_audio(ES, 50)
                _, before = observer.wait_json(
                    lambda m: m.get("type") == "interpretation.state", what="a state")
                rogue.wait_audio(interp.channel_id("floor"), 10)
                t0 = time.monotonic()

                for msg, ref in ATTEMPTS:
                    t = time.monotonic()
                    rogue.send_json(msg)
                    _, err = rogue.wait_json(lambda m, ref=ref: m.get("type") == "core.error"
                                             and m.get("ref") == ref, since=t,
                                             what=f"core.error for {ref}")
                    print(f"listener sent {msg}: {err}")
                    check(err.get("code") == "forbidden",
                          f"{ref} from a listener answered {err.get('code')}, expected "
                          "forbidden")

                header = struct.pack(">BBBBIQ", 1, 1, ES, 0, 0, 0)
                sender.send_binary(header + injected)
                check(sender.closed.wait(5), "the relay did not close a listener that sent "
                      "audio within 5 s")
                print(f"listener sent binary audio: closed {sender.closes()}")
                check(sender.closes() and sender.closes()[0][0] == 1008,
                      f"close {sender.closes()}, expected 1008")

                t1 = time.monotonic()
                rogue.wait_audio(interp.channel_id("floor"), 25, since=t1)
                check(not rogue.closed.is_set(), "the refused listener was disconnected")
                observer.wait_audio(ES, 100, since=t1)
                states = observer.messages("interpretation.state", since=t0)
            finally:
                for p in (observer, rogue, sender):
                    p.close()
            s = booth.quit()

        print(f"state before: {booths_of(before)}; {len(states)} state message(s) since")
        for _, st in states:
            check(booths_of(st) == booths_of(before),
                  f"the state changed: {booths_of(st)}, was {booths_of(before)}")
        check(before["booths"][0]["live"] is not None, "the es booth was not live")

        aud = [a for a in observer.audio() if a[1] == ES]
        check(len(aud) == len(observer.audio()), "audio of another channel on the observer")
        c = interp.continuity(aud)
        during = [a for a in aud if a[0] >= t0]
        print(f"es on the observer: {c['packets']} packets, {len(during)} since the "
              f"attempts; seq breaks {len(c['seq_breaks'])}, DISCONT after the first "
              f"{c['discont']}")
        check(not c["seq_breaks"], f"seq breaks on es: {c['seq_breaks'][:5]}")
        check(all(a[5] != injected for a in aud), "the injected packet reached es")
        audio.check_match(interp.decode(during), es_pcm, "es during and after the attempts",
                          MIN_NCC)
        check(s["refused"] == "0", f"the console was refused {s['refused']} time(s)")
        check(float(s["live_s"]) >= 2.5, f"the console was live {s['live_s']} s")


def main():
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
