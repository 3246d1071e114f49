#!/usr/bin/python3
"""Two one-way booths, each into its own channel, at the same time.

The relay loads the interpretation plugin with booths `es` and `en` and
relays a Spanish floor speech (--input-file). Two puente-booth consoles go
live (--live) into es and en, each from its own WAV file (Spanish and
English speech, and neither is the floor's). Two puente-listen record es
and en for 5 s at once. Checks: both consoles live, every recording
without a sequence gap; each matches its own booth's speech (normalised
cross-correlation >= 0.9 in its best loud 1 s window: see
interp.check_match_windows) and neither the other booth's nor the
floor's (ncc < 0.6 in every loud window); the consoles' summaries (sent
packets, no refusal, live time, channel) and the relay's exit 0.

Usage: interp_two_booths.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audio  # noqa: E402
import harness  # noqa: E402
import interp  # noqa: E402
from harness import check  # noqa: E402

LISTEN_SECONDS = 5
MIN_NCC, MAX_OTHER_NCC = 0.9, 0.6


def test(args):
    with harness.tempdir("puente-interp-two-") as tmp:
        floor, floor_pcm = interp.speech(tmp, "floor", interp.FLOOR_TEXT, "es-419")
        es, es_pcm = interp.speech(tmp, "es", interp.ES_TEXT, "es")
        en, en_pcm = interp.speech(tmp, "en", interp.EN_TEXT, "en-us")
        ini = interp.config(tmp, "es, en")

        with interp.relay(args, tmp, ini, floor) as relay, interp.Booths() as booths:
            b_es = booths.start(args, relay.url(role="interpreter", n=0), tmp, "booth-es", "--output", "es",
                                "--input-file", es, "--live")
            b_en = booths.start(args, relay.url(role="interpreter", n=1), tmp, "booth-en", "--output", "en",
                                "--input-file", en, "--live")
            b_es.wait_line("in booth 'es'")
            b_en.wait_line("in booth 'en'")
            b_es.wait_line("LIVE into 'es'")
            b_en.wait_line("LIVE into 'en'")

            wav = {ch: os.path.join(tmp, f"rec-{ch}.wav") for ch in ("es", "en")}
            procs = {ch: interp.listen(args, relay.url(), ch, LISTEN_SECONDS, wav[ch], tmp)
                     for ch in ("es", "en")}
            summaries = {ch: interp.listen_result(p, LISTEN_SECONDS + 20)
                         for ch, p in procs.items()}
            s_es, s_en = b_es.quit(), b_en.quit()

        for ch, s in summaries.items():
            print(f"listen {ch}: " + " ".join(f"{k}={v}" for k, v in s.items()))
            check(int(s["packets"]) >= 0.9 * LISTEN_SECONDS * 50,
                  f"{ch}: {s['packets']} packets in {LISTEN_SECONDS} s")
            check(s["gaps"] == "0", f"{ch}: {s['gaps']} sequence gap(s)")
        for s, ch in ((s_es, "es"), (s_en, "en")):
            check(s["channel"] == ch, f"booth {ch} summary names channel {s['channel']}")
            check(s["refused"] == "0", f"booth {ch}: {s['refused']} refusal(s)")
            check(float(s["live_s"]) >= LISTEN_SECONDS, f"booth {ch}: live_s {s['live_s']}")
            check(int(s["sent"]) >= 0.9 * float(s["live_s"]) * 50,
                  f"booth {ch}: sent {s['sent']} in {s['live_s']} s live")

        rec_es, rec_en = audio.read_wav(wav["es"]), audio.read_wav(wav["en"])
        interp.check_match_windows(rec_es, es_pcm, "es channel vs the es booth's speech",
                                   MIN_NCC)
        interp.check_match_windows(rec_en, en_pcm, "en channel vs the en booth's speech",
                                   MIN_NCC)
        interp.no_match(rec_es, en_pcm, "es channel vs the en booth's speech", MAX_OTHER_NCC)
        interp.no_match(rec_en, es_pcm, "en channel vs the es booth's speech", MAX_OTHER_NCC)
        interp.no_match(rec_es, floor_pcm, "es channel vs the floor", MAX_OTHER_NCC)
        interp.no_match(rec_en, floor_pcm, "en channel vs the floor", MAX_OTHER_NCC)


def main():
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
