#!/usr/bin/python3
"""Handover in one bidirectional booth, without a gap and without overlap.

The relay loads the interpretation plugin with one booth es-en and relays
a Spanish floor speech. Console A goes live into en (--live) from speech
A; console B joins the same booth (not live) with speech B. A WebSocket
probe (rtlib's WsProbe, every header recorded) listens to en. After 2 s
B types `handover`; A is told (interpretation.handover requested) and
types `accept`; B goes live. Checks on channel en, across the swap (the
first packet after the interpretation.state naming B live, +-10 packets):
seq +1 per packet, media_time +960 per packet exactly (no gap over one
frame, no overlap, no duplicate), no DISCONT; over the whole recording the
same figures are reported (a loaded machine can stall the relay). Audio
before the swap decodes to A's speech and after it to B's (ncc >= 0.9),
and not the other way round. Both consoles' summaries: A live until the
swap, B after it; the booth's state names B live and A a partner.

Usage: interp_handover.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
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

WINDOW = 10  # packets each side of the swap checked strictly
BEFORE, AFTER = 100, 150  # packets recorded before the request and after the swap
MIN_NCC, MAX_OTHER_NCC = 0.9, 0.6


def booth_of(state, booth_id):
    return next(b for b in state["booths"] if b["id"] == booth_id)


def test(args):
    with harness.tempdir("puente-interp-handover-") as tmp:
        floor, _ = interp.speech(tmp, "floor", interp.FLOOR_TEXT, "es-419")
        a_wav, a_pcm = interp.speech(tmp, "a", interp.EN_TEXT, "en-us")
        b_wav, b_pcm = interp.speech(tmp, "b", interp.EN_TEXT_B, "en-gb")
        ini = interp.config(tmp, "es-en", floor_language="es")
        EN = interp.channel_id("en")

        with interp.relay(args, tmp, ini, floor) as relay, interp.Booths() as booths:
            a = booths.start(args, relay.url(role="interpreter", n=0), tmp, "booth-A", "--output", "en",
                             "--input-file", a_wav, "--live")
            a.wait_line("LIVE into 'en'")
            b = booths.start(args, relay.url(role="interpreter", n=1), tmp, "booth-B", "--output", "en",
                             "--input-file", b_wav)
            b.wait_line("in booth 'es-en'")
            id_a, id_b = a.client_id(), b.client_id()
            probe = interp.Probe(relay.port, "en")
            try:
                probe.wait_audio(EN, BEFORE)
                t_req = time.monotonic()
                b.command("handover")
                probe.wait_json(lambda m: m.get("type") == "interpretation.state"
                                and booth_of(m, "es-en")["pending"] == id_b, since=t_req,
                                what="a state with B's request pending")
                a.wait_line("handover requested", since=0)
                a.command("accept")
                t_swap, _ = probe.wait_json(
                    lambda m: m.get("type") == "interpretation.state"
                    and booth_of(m, "es-en")["live"] == id_b, since=t_req,
                    what="a state with B live")
                b.wait_line("LIVE into 'en'")
                a.wait_line("off air")
                probe.wait_audio(EN, AFTER, since=t_swap)
                final = probe.messages("interpretation.state")[-1][1]
            finally:
                probe.close()
            s_a, s_b = a.quit(), b.quit()

        booth = booth_of(final, "es-en")
        print(f"state after the swap: {booth}")
        check(booth["live"] == id_b and booth["direction"] == "en",
              f"booth live={booth['live']} direction={booth['direction']}, expected B ({id_b}) "
              "into en")
        check(id_a in booth["partners"], f"A ({id_a}) not a partner any more: {booth}")
        check(booth["pending"] is None, f"a handover still pending: {booth}")

        aud = [x for x in probe.audio() if x[1] == EN]
        check(len(aud) == len(probe.audio()), "audio of another channel on the probe")
        swap = next(i for i, x in enumerate(aud) if x[0] >= t_swap)
        lo, hi = max(1, swap - WINDOW), min(len(aud), swap + WINDOW)
        near = interp.continuity(aud[lo - 1:hi])
        whole = interp.continuity(aud)
        print(f"swap at packet {swap} of {len(aud)} (seq {aud[swap][3]}); +-{WINDOW} packets: "
              f"seq breaks {len(near['seq_breaks'])}, media_time steps "
              f"{near['mt_min_step']}..{near['mt_max_step']}, DISCONT {near['discont']}")
        print(f"whole recording: seq breaks {len(whole['seq_breaks'])}, media_time steps "
              f"{whole['mt_min_step']}..{whole['mt_max_step']}, DISCONT after the first "
              f"{whole['discont']} (a relay stalled by load restamps with DISCONT)")
        check(not near["seq_breaks"], f"seq breaks across the swap: {near['seq_breaks']}")
        check(near["mt_min_step"] == near["mt_max_step"] == interp.FRAME,
              f"media_time across the swap steps {near['mt_min_step']}..{near['mt_max_step']} "
              f"samples, expected exactly {interp.FRAME} (gap or overlap)")
        check(near["discont"] == 0, "DISCONT across the swap")
        check(not whole["seq_breaks"], f"seq breaks: {whole['seq_breaks'][:5]}")
        mts = [x[4] for x in aud]
        check(len(set(mts)) == len(mts), "a media_time repeated on en (duplicate packet)")

        # Content: the swap happened within a few packets of the state message.
        pre = interp.decode(aud[1:max(2, swap - 5)])
        post = interp.decode(aud[swap + 5:])
        audio.check_match(pre, a_pcm, "en before the swap vs A's speech", MIN_NCC)
        audio.check_match(post, b_pcm, "en after the swap vs B's speech", MIN_NCC)
        interp.no_match(post, a_pcm, "en after the swap vs A's speech", MAX_OTHER_NCC)

        check(s_a["refused"] == "0" and s_b["refused"] == "0",
              f"refusals: A {s_a['refused']}, B {s_b['refused']}")
        check(float(s_a["live_s"]) >= 2.0 and float(s_b["live_s"]) >= AFTER / 50 - 0.5,
              f"live_s A {s_a['live_s']}, B {s_b['live_s']}")
        check(s_b["channel"] == "en", f"B's summary names channel {s_b['channel']}")


def main():
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
