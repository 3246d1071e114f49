#!/usr/bin/python3
"""A listener on `auto` follows the floor language.

The relay loads the interpretation plugin with one booth es-en, floor
language es and fallback floor, and relays a floor speech. A puente-booth
console is live into en from an English speech. A WebSocket probe (rtlib's
WsProbe) sends interpretation.listen {choice: auto, language: en}, and a
technician's probe (core.hello role technician) sets the floor language:

1. floor es: the listener is told interpretation.listening {channel: en,
   reason: interpretation} and hears en (DISCONT at the switch; decodes to
   the booth's speech, ncc >= 0.9);
2. interpretation.floor {language: en}: every client gets the new
   interpretation.state; the listener is told {channel: floor, reason:
   floor_is_your_language} and hears the floor (DISCONT; the floor speech);
3. floor es again: back to en, reason interpretation;
4. the console types `release`: nobody is live, fallback floor: the
   listener is told {channel: floor, reason: no_interpreter} and hears
   the floor.
Each phase: at least 2 s of audio, all of the announced channel after the
first packet of it, seq +1 per packet.

Usage: interp_auto.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
import interp  # noqa: E402
from harness import check  # noqa: E402

PHASE = 100  # packets heard in each phase (2 s)
MIN_NCC = 0.9


def phase(probe, name, since, channel, reason, source, choice="auto", language="en"):
    """Waits for the listening message and PHASE packets of channel; checks them."""
    t, msg = probe.wait_json(lambda m: m.get("type") == "interpretation.listening"
                             and m.get("channel") == channel, since=since,
                             what=f"interpretation.listening for {channel} ({name})")
    print(f"{name}: {msg}")
    want = {"type": "interpretation.listening", "choice": choice, "language": language,
            "channel": channel, "reason": reason}
    check(msg == want, f"{name}: listening {msg}, expected {want}")
    ch = interp.channel_id(channel)
    probe.wait_audio(ch, PHASE, since=t)
    aud = probe.audio(since=t)
    first = next(i for i, a in enumerate(aud) if a[1] == ch)
    run = aud[first:]
    run = run[:next((i for i, a in enumerate(run) if a[1] != ch), len(run))]
    c = interp.continuity(run)
    print(f"{name}: first {channel} packet {(aud[first][0] - t) * 1000:.1f} ms after the "
          f"message, flags {aud[first][2]:#x}; {c['packets']} packets, seq breaks "
          f"{len(c['seq_breaks'])}, later DISCONT {c['discont']}")
    check(aud[first][2] & interp.DISCONT, f"{name}: no DISCONT on the first {channel} packet")
    check(len(run) >= PHASE, f"{name}: only {len(run)} packets before another channel came")
    check(not c["seq_breaks"], f"{name}: seq breaks {c['seq_breaks'][:5]}")
    audio.check_match(interp.decode(run), source, f"{name}: {channel} (decoded)", MIN_NCC)
    return time.monotonic()


def test(args):
    with harness.tempdir("puente-interp-auto-") as tmp:
        floor, floor_pcm = interp.speech(tmp, "floor", interp.FLOOR_TEXT, "es-419")
        en, en_pcm = interp.speech(tmp, "en", interp.EN_TEXT, "en-us")
        ini = interp.config(tmp, "es-en", floor_language="es", fallback="floor")

        with interp.relay(args, tmp, ini, floor) as relay, interp.Booths() as booths:
            booth = booths.start(args, relay.url(role="interpreter"), tmp, "booth-en", "--output", "en",
                                 "--input-file", en, "--live")
            booth.wait_line("LIVE into 'en'")
            listener = interp.Probe(relay.port, "floor")
            tech = interp.Probe(relay.port, "floor", relay.ws_path("technician"))
            try:
                tech.send_json({"type": "core.hello", "role": "technician", "agent": "test"})
                _, hello = tech.wait_json(lambda m: m.get("type") in ("core.hello",
                                                                      "core.error"),
                                          what="an answer to core.hello technician")
                check(hello.get("role") == "technician", f"technician hello answered {hello}")

                t = time.monotonic()
                listener.send_json({"type": "interpretation.listen", "choice": "auto",
                                    "language": "en"})
                t = phase(listener, "floor es", t, "en", "interpretation", en_pcm)

                tech.send_json({"type": "interpretation.floor", "language": "en"})
                _, st = listener.wait_json(lambda m: m.get("type") == "interpretation.state"
                                           and m.get("floor_language") == "en", since=t,
                                           what="a state with floor_language en")
                t = phase(listener, "floor en", t, "floor", "floor_is_your_language",
                          floor_pcm)

                tech.send_json({"type": "interpretation.floor", "language": "es"})
                t = phase(listener, "floor es again", t, "en", "interpretation", en_pcm)

                booth.command("release")
                booth.wait_line("off air")
                t = phase(listener, "no interpreter", t, "floor", "no_interpreter",
                          floor_pcm)
                errors = listener.messages("core.error") + tech.messages("core.error")
                check(not errors, f"errors: {errors}")
                check(tech.messages("interpretation.state", since=0),
                      "the technician got no interpretation.state")
            finally:
                listener.close()
                tech.close()
            s = booth.quit()
        check(s["refused"] == "0", f"the console was refused {s['refused']} time(s)")


def main():
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
