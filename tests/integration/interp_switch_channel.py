#!/usr/bin/python3
"""A listener switches channel mid-stream: floor -> es -> floor.

The relay loads the interpretation plugin (booths es, en) and relays a
floor speech; a puente-booth console is live into es from another speech.
A WebSocket probe (tests/rt/rtlib.py's WsProbe, every header recorded)
subscribes to floor, then to es, then to floor again, each after 100
packets; two reference probes follow floor and es throughout. At each
switch: core.subscribed names the new channel before its first packet;
that first packet directly follows the old channel's last one and is
flagged DISCONT; and at most one frame of the new channel is skipped: its
seq is at most one past the newest packet of that channel the reference
had received when the switch was confirmed (core.subscribed). The media
time between the two channels' packets is reported, with the offset
between the two channels' timelines (the plugin stamps interpreter audio on
arrival and re-anchors it after a stall, so es may run ahead of the floor's
clock) and the gap after taking that offset out, which must not exceed one
frame either. Between switches seq is +1 per packet. Each stretch decodes
to its own speech (ncc >= 0.9).

Usage: interp_switch_channel.py --relay PATH --listen PATH --booth PATH --plugin-dir DIR
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

STRETCH = 100  # packets on each channel before the next switch (2 s)
MIN_NCC = 0.9


def latest(ref, t):
    """The newest packet a reference probe had received at time t."""
    return max((a for a in ref if a[0] <= t), key=lambda a: a[0])


def check_switch(aud, subscribed, old, new, since, refs):
    """The switch from channel old to new, the first new packet after time since.
    refs: channel -> that channel's packets as a reference probe received them."""
    first = next(i for i, a in enumerate(aud) if a[0] >= since and a[1] == new)
    prev = max(i for i, a in enumerate(aud[:first]) if a[1] == old)
    t_new, _, flags, seq, mt_new, _ = aud[first]
    t_old, _, _, _, mt_old, _ = aud[prev]
    name = f"{interp.CHANNELS[old]} -> {interp.CHANNELS[new]}"
    sub = [t for t, m in subscribed if m.get("channel") == interp.CHANNELS[new]
           and m.get("id") == new and t >= since]
    check(sub and sub[0] <= t_new, f"{name}: no core.subscribed before the first packet")
    ref_new, ref_old = latest(refs[new], sub[0]), latest(refs[old], sub[0])
    skipped = (seq - ref_new[3] - 1) & 0xFFFFFFFF
    skipped = skipped - (1 << 32) if skipped >= 1 << 31 else skipped
    offset = ref_new[4] - ref_old[4]  # the new channel's timeline minus the old one's
    media_gap = mt_new - (mt_old + interp.FRAME)
    burst = [round((a[0] - t_new) * 1000, 1) for a in aud[first:first + 5]]
    print(f"switch {name}: first packet seq={seq} flags={flags:#x}, "
          f"{(t_new - t_old) * 1000:.1f} ms after the last {interp.CHANNELS[old]} packet; "
          f"the first 5 arrived at +{burst} ms; the reference had seq {ref_new[3]}: "
          f"{skipped} packet(s) skipped (<0: replayed from the ring as a cushion)")
    print(f"switch {name}: media gap {media_gap} samples ({media_gap / 48:.1f} ms; <0 is an "
          f"overlap); {interp.CHANNELS[new]}'s timeline is {offset} samples "
          f"({offset / 48:.1f} ms) ahead of {interp.CHANNELS[old]}'s; gap without the offset "
          f"{media_gap - offset} samples ({(media_gap - offset) / 48:.1f} ms)")
    check(prev == first - 1, f"{name}: {first - prev - 1} packets of other channels "
          "between the old channel's last packet and the new one's first")
    check(flags & interp.DISCONT, f"{name}: first packet not flagged DISCONT ({flags:#x})")
    check(skipped <= 1, f"{name}: {skipped} packets of {interp.CHANNELS[new]} skipped at the "
          "switch, more than one frame")
    check(media_gap - offset <= interp.FRAME, f"{name}: {media_gap - offset} samples of media "
          f"time missing at the switch (offset taken out), more than one frame")
    return first


def stretch_checks(aud, lo, hi, channel, source, what):
    run = [a for a in aud[lo:hi] if a[1] == channel]
    c = interp.continuity(run)
    print(f"{what}: {c['packets']} packets, seq breaks {len(c['seq_breaks'])}, media_time "
          f"steps {c['mt_min_step']}..{c['mt_max_step']}, later DISCONT {c['discont']}")
    check(len(run) == hi - lo, f"{what}: packets of other channels in the stretch")
    check(not c["seq_breaks"], f"{what}: seq breaks {c['seq_breaks'][:5]}")
    audio.check_match(interp.decode(run), source, f"{what} (decoded)", MIN_NCC)


def test(args):
    with harness.tempdir("puente-interp-switch-") as tmp:
        floor, floor_pcm = interp.speech(tmp, "floor", interp.FLOOR_TEXT, "es-419")
        es, es_pcm = interp.speech(tmp, "es", interp.ES_TEXT, "es")
        ini = interp.config(tmp, "es, en")
        FLOOR, ES = interp.channel_id("floor"), interp.channel_id("es")

        with interp.relay(args, tmp, ini, floor) as relay, interp.Booths() as booths:
            booth = booths.start(args, relay.url(role="interpreter"), tmp, "booth-es", "--output", "es",
                                 "--input-file", es, "--live")
            booth.wait_line("LIVE into 'es'")
            ref_floor = interp.Probe(relay.port, "floor")
            ref_es = interp.Probe(relay.port, "es")
            ref_es.wait_audio(ES, 10)
            probe = interp.Probe(relay.port, "floor")
            try:
                probe.wait_audio(FLOOR, STRETCH)
                t1 = time.monotonic()
                probe.send_json({"type": "core.subscribe", "channel": "es"})
                probe.wait_audio(ES, STRETCH, since=t1)
                t2 = time.monotonic()
                probe.send_json({"type": "core.subscribe", "channel": "floor"})
                probe.wait_audio(FLOOR, STRETCH // 2, since=t2)
            finally:
                for p in (probe, ref_floor, ref_es):
                    p.close()
            booth.quit()

        aud = probe.audio()
        subscribed = probe.messages("core.subscribed")
        check(probe.closes() == [] or all(c[0] == 1000 for c in probe.closes()),
              f"the relay closed the probe: {probe.closes()}")
        check(aud and aud[0][2] & interp.DISCONT, "first packet after subscribing not DISCONT")
        refs = {FLOOR: ref_floor.audio(), ES: ref_es.audio()}
        s1 = check_switch(aud, subscribed, FLOOR, ES, t1, refs)
        s2 = check_switch(aud, subscribed, ES, FLOOR, t2, refs)
        stretch_checks(aud, 0, s1, FLOOR, floor_pcm, "floor before the switch")
        stretch_checks(aud, s1, s2, ES, es_pcm, "es after the switch")
        stretch_checks(aud, s2, len(aud), FLOOR, floor_pcm, "floor after switching back")


def main():
    args = interp.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
