#!/usr/bin/python3
"""The levels plugin on loopback: a technician client receives level updates
at the configured rate for the floor and for an interpreter channel fed by a
booth console; a listener asking for levels is refused.

The relay loads interpretation and levels (rate_hz = 10) and relays a
-20 dBFS 1 kHz tone on the floor (--tone). A puente-booth console goes live
into en from English speech. A technician WebSocket client collects
levels.update for 3 s. Checks: 25-35 updates in 3 s; the floor reads
-20 +- 0.5 dB peak and -23 +- 0.5 LUFS momentary; the en channel and the
booth's microphone show signal (peak above -40 dBFS) and the mic sits on en;
listener counts are reported; a listener's levels.subscribe and
levels.reset get core.error forbidden and no update; a listener that
leaves and comes back from the same address is counted as a reconnect.

Usage: levels_interp.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import interp  # noqa: E402
from harness import check  # noqa: E402

WINDOW_S = 3.0


def test(args):
    with harness.tempdir("puente-levels-") as tmp:
        en, _ = interp.speech(tmp, "en", interp.EN_TEXT, "en-us")
        ini = os.path.join(tmp, "relay.ini")
        with open(ini, "w") as f:
            f.write("[core]\nplugins = interpretation, levels\n"
                    "[plugin.interpretation]\nbooths = es-en\n"
                    "[plugin.levels]\nrate_hz = 10\n")
        with harness.Relay(args.relay, ["--config", ini, "--plugin-dir", args.plugin_dir,
                                        "--tone"], cwd=tmp) as relay, \
                interp.Booths() as booths:
            booth = booths.start(args, relay.url(role="interpreter"), tmp, "booth-en", "--output", "en",
                                 "--input-file", en, "--live")
            booth.wait_line("LIVE into 'en'")

            listener = interp.Probe(relay.port, "en")
            tech = interp.Probe(relay.port, "floor", relay.ws_path("technician"))
            tech.send_json({"type": "core.hello", "role": "technician"})
            tech.wait_json(lambda m: m.get("type") == "core.hello", what="core.hello")
            time.sleep(1.0)  # meters settle: momentary loudness needs 400 ms of audio
            t0 = time.monotonic()
            time.sleep(WINDOW_S)
            updates = [m for t, m in tech.messages("levels.update") if t0 <= t < t0 + WINDOW_S]
            print(f"{len(updates)} updates in {WINDOW_S:.0f} s")
            check(25 <= len(updates) <= 35, f"about 10 updates per second (got {len(updates)})")

            last = updates[-1]
            ch = {c["name"]: c for c in last["channels"]}
            floor, en_ch = ch["floor"], ch["en"]
            print("floor:", {k: floor[k] for k in ("peak", "rms", "momentary", "listeners")})
            print("en:", {k: en_ch[k] for k in ("peak", "rms", "momentary", "listeners")})
            check(floor["peak"] is not None and abs(floor["peak"] + 20) <= 0.5,
                  f"floor peak -20 +- 0.5 dBFS (got {floor['peak']})")
            check(floor["momentary"] is not None and abs(floor["momentary"] + 23) <= 0.5,
                  f"floor momentary -23 +- 0.5 LUFS (got {floor['momentary']})")
            peaks = [c["peak"] for u in updates for c in u["channels"]
                     if c["name"] == "en" and c["peak"] is not None]
            check(peaks and max(peaks) > -40,
                  f"en carries the booth's speech (max peak {max(peaks, default=None)})")
            check(en_ch["listeners"] >= 1, f"en's listener is counted ({en_ch['listeners']})")
            mics = [m for u in updates for m in u["mics"]]
            check(mics and all(m["channel"] == "en" for m in mics),
                  f"the booth's microphone is metered on en ({mics[-1] if mics else None})")
            check(max((m["peak"] or -200) for m in mics) > -40, "the microphone shows signal")
            check(last["health"]["clients"] >= 3, f"health counts the clients: {last['health']}")

            since = time.monotonic()
            for verb in ("subscribe", "reset"):
                listener.send_json({"type": "levels." + verb, "channel": "floor"})
                listener.wait_json(lambda m, v=verb: m.get("type") == "core.error"
                                   and m.get("ref") == "levels." + v
                                   and m.get("code") == "forbidden",
                                   since=since, what=f"forbidden for levels.{verb}")
            time.sleep(0.5)
            check(not listener.messages("levels.update"), "the listener never gets levels")
            before = last["health"]["reconnects"]
            listener.close()
            time.sleep(0.3)
            again = interp.Probe(relay.port, "en")
            since = time.monotonic()
            _, u = tech.wait_json(lambda m: m.get("type") == "levels.update"
                                  and m["health"]["reconnects"] > before, since=since,
                                  what="a reconnect counted in health")
            print("reconnects:", before, "->", u["health"]["reconnects"])
            again.close()
            tech.close()


def main():
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
