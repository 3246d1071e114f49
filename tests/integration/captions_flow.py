#!/usr/bin/python3
"""Captions end to end: each listener gets exactly its language, in order.

The relay runs the captions plugin over the default room (floor, es, en) with
the test tone. Three puente-listen processes follow the floor: one with
--captions es, one with --captions en, one without captions; a WebSocket
probe (a listener) also chooses es. Captioners then send, in this order:

  HTTP (curl, cart-es)  es seq 1, seq 2, seq 2 again (a retry: a duplicate),
                        seq 3 with <script> and <img onerror> in the text
  HTTP (curl, cart-en)  en seq 1
  WebSocket             puente-caption --lang en: two lines (one with HTML)
  WebSocket             puente-caption --lang es --partial: partial, partial, final
  WebSocket             puente-caption --lang en --partial: partial, partial, final (EOF)
  HTTP (curl, cart-en)  en seq 2

and the test checks: every answer is 200 and starts with the server time;
each captions listener receives exactly its language's cues, in the order
sent, with seq 1, 2, 3, ... (partial updates included; the duplicate never
shown); the final cue of a partial line keeps the line's start; start and
end are media times near the room clock (from core.subscribed) at the time
the caption was sent (HTTP) or arrived; the listener without captions gets
none; a listener that chooses es afterwards gets the final es cues as
history (oldest first, same seq) and then the next live cue; the HTML
arrives byte for byte as text, in the probe's JSON and in puente-listen's
lines; every tool exits 0 and the relay counts 1 duplicate.

Usage: captions_flow.py --relay PATH --listen PATH --caption PATH --plugin-dir DIR
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import captions_common as cc  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

XSS_ES = "Atención: <script>alert(1)</script> y <img src=x onerror=alert(1)> & “comillas”"
XSS_EN = "<img src=x onerror=alert(1)> then <script>alert(1)</script>"
START_TOLERANCE_MS = 300  # HTTP cue start outside the room clock while curl ran
ARRIVAL_WINDOW_MS = (-300, 3000)  # room clock at arrival minus the cue's start


def expect_cues(name, cues, lang, expected):
    """cues: [(arrival, cue)]; expected: [(text, final)] in order."""
    got = [(c["text"], c["final"]) for _, c in cues]
    shown = [(cc.unescape(t), f) for t, f in got]
    check(shown == expected, f"{name}: cues {shown}, expected {expected}")
    check(all(c["lang"] == lang for _, c in cues), f"{name}: a cue not in {lang}: {cues}")
    seqs = [c["seq"] for _, c in cues]
    check(seqs == list(range(1, len(seqs) + 1)), f"{name}: seq {seqs}, expected 1..{len(seqs)}")


def check_times(name, cues, clock, sent_at):
    """Media times against the room clock. sent_at: {text: wall time curl sent it}."""
    worst_http = 0.0
    for arrival, c in cues:
        check(c["end"] > c["start"], f"{name}: cue {c['seq']} ends at {c['end']} ms, before "
                                     f"its start {c['start']} ms")
        lag = clock.ms_at(arrival) - c["start"]
        check(ARRIVAL_WINDOW_MS[0] <= lag <= ARRIVAL_WINDOW_MS[1],
              f"{name}: cue {c['seq']} starts at {c['start']} ms but arrived at room time "
              f"{clock.ms_at(arrival):.0f} ms (lag {lag:.0f} ms)")
        text = cc.unescape(c["text"])
        if text in sent_at:  # between curl's start and its end, give or take
            lo, hi = (clock.ms_at(t) for t in sent_at[text])
            off = c["start"] - lo if c["start"] < lo else max(0.0, c["start"] - hi)
            worst_http = max(worst_http, abs(off))
            check(abs(off) <= START_TOLERANCE_MS,
                  f"{name}: HTTP cue {c['seq']} starts at {c['start']} ms, {off:.0f} ms "
                  f"outside the room clock while curl posted it ({lo:.0f}..{hi:.0f} ms; "
                  f"tolerance {START_TOLERANCE_MS} ms)")
    return worst_http


def test(args):
    with harness.tempdir("puente-captions-flow-") as tmp, \
            cc.CaptionRelay(args, tmp) as relay, cc.Group() as group:
        url = relay.url()
        cap_url = relay.url(role="captioner")
        clock = cc.RoomClock(relay.port)
        l_es = group.add(cc.Listener(args, url, tmp, "listen-es", "es"))
        l_en = group.add(cc.Listener(args, url, tmp, "listen-en", "en"))
        l_none = group.add(cc.Listener(args, url, tmp, "listen-none"))
        l_es.wait_err("captions in 'es'")
        l_en.wait_err("captions in 'en'")
        l_none.wait_err("subscribed to 'floor'")
        probe = cc.Ws(relay.port)
        probe.wait(lambda m: m.get("type") == "core.welcome", what="core.welcome")
        probe.send({"type": "captions.choose", "lang": "es"})
        hist = probe.wait(lambda m: m.get("type") == "captions.history", what="history")
        check(hist.get("lang") == "es" and hist.get("cues") == [],
              f"probe: captions.history {hist}, expected es with no cues yet")

        sent_at = {}
        seg2 = "Segunda línea: ñandú, acción — ¿qué tal?"
        for seq, text in ((1, "Hola a todas y a todos."), (2, seg2), (2, seg2), (3, XSS_ES)):
            status, body, t = cc.post(relay, "cart-es", seq, "es", text)
            check(status == 200, f"POST es seq={seq}: {status} {body!r}")
            sent_at.setdefault(text, t)
        status, body, t = cc.post(relay, "cart-en", 1, "en", "Good morning, everyone.")
        check(status == 200, f"POST en seq=1: {status} {body!r}")
        sent_at["Good morning, everyone."] = t

        for lang, extra, lines, sent in (
                ("en", [], f"Welcome to the dialogue.\n{XSS_EN}\n", 2),
                ("es", ["--partial"], "Buenos\nBuenos días\n\n", 3),
                ("en", ["--partial"], "Thank\nThank you", 3)):
            rc, summary, err = cc.run_caption(
                args, ["--url", cap_url, "--lang", lang, *extra], lines.encode())
            check(rc == 0, f"puente-caption --lang {lang} {extra} exited {rc}: {err}")
            check(summary == {"sent": str(sent), "refused": "0", "duplicates": "0",
                              "failed": "0"},
                  f"puente-caption --lang {lang} {extra}: summary {summary}")

        status, body, t = cc.post(relay, "cart-en", 2, "en", "Last English line.")
        check(status == 200, f"POST en seq=2: {status} {body!r}")
        sent_at["Last English line."] = t

        expected_es = [("Hola a todas y a todos.", True), (seg2, True), (XSS_ES, True),
                       ("Buenos", False), ("Buenos días", False), ("Buenos días", True)]
        expected_en = [("Good morning, everyone.", True), ("Welcome to the dialogue.", True),
                       (XSS_EN, True), ("Thank", False), ("Thank you", False),
                       ("Thank you", True), ("Last English line.", True)]
        l_es.wait_captions(len(expected_es))
        l_en.wait_captions(len(expected_en))
        probe_cues = probe.wait_count(lambda m: m.get("type") == "captions.cue",
                                      len(expected_es), what="es cues at the probe")
        time.sleep(1.0)  # anything extra (the duplicate) would come now
        timed_es, timed_en = l_es.captions(), l_en.captions()

        # A late listener gets the final cues as history, oldest first, then live ones.
        l_late = group.add(cc.Listener(args, url, tmp, "listen-late-es", "es"))
        l_late.wait_err("captions in 'es'")
        history = [c for _, c in l_late.wait_captions(4)]
        status, body, _ = cc.post(relay, "cart-es", 4, "es", "Después del historial.")
        check(status == 200, f"POST es seq=4: {status} {body!r}")
        l_es.wait_captions(len(expected_es) + 1)
        late = [c for _, c in l_late.wait_captions(5)]
        time.sleep(0.3)

        results = {}
        for name, l in (("listen-es", l_es), ("listen-en", l_en), ("listen-none", l_none),
                        ("listen-late-es", l_late)):
            results[name] = l.stop()
        probe_cues = [m for m in probe.messages() if m.get("type") == "captions.cue"]
        probe.close()
        clock.close()

    # The relay has stopped (exit 0 checked); its last lines count the duplicate.
    tail = "\n".join(relay.lines[-20:])
    check("1 duplicates" in tail, "the relay's summary does not count 1 duplicate:\n" + tail)

    for name, (status, summary, _) in results.items():
        check(status == 0, f"{name} exited {status}")
        check(int(summary["packets"]) > 0, f"{name}: no audio")
    expect_cues("listen-es", timed_es, "es", expected_es)
    expect_cues("listen-en", timed_en, "en", expected_en)
    check(results["listen-es"][1].get("captions") == str(len(expected_es) + 1),
          f"listen-es summary: {results['listen-es'][1]}")
    check(results["listen-en"][1].get("captions") == str(len(expected_en)),
          f"listen-en summary: {results['listen-en'][1]}")
    finals = [c for _, c in timed_es if c["final"]]
    check(history == finals,
          f"listen-late-es: history {history}, expected the final es cues {finals}")
    live = results["listen-es"][2][-1]
    check(late[4] == live and live["text"] == "Después del historial." and live["seq"] == 7,
          f"listen-late-es: after the history {late[4]}, listen-es {live}")
    check(len(results["listen-late-es"][2]) == 5, "listen-late-es: extra cues")
    check(results["listen-none"][2] == [] and "captions" not in results["listen-none"][1],
          f"listen-none got captions: {results['listen-none'][2]}")

    # The HTML is text: byte for byte in the JSON and in the printed line.
    all_es = expected_es + [("Después del historial.", True)]
    check([(m["text"], m["final"]) for m in probe_cues] == all_es,
          f"probe: es cues {[(m['text'], m['final']) for m in probe_cues]}")
    check([(m["seq"], m["start"] // 48, m["end"] // 48) for m in probe_cues]
          == [(c["seq"], c["start"], c["end"]) for c in results["listen-es"][2]],
          "probe and listen-es disagree on seq or times")
    xss = [c["text"] for _, c in timed_es + timed_en if "<" in c["text"]]
    check(xss == [XSS_ES, XSS_EN], f"HTML captions as printed: {xss}")

    # A partial line's updates and its final form keep the line's start.
    for name, timed in (("listen-es", timed_es), ("listen-en", timed_en)):
        line = [c for _, c in timed if cc.unescape(c["text"]).startswith(("Buenos", "Thank"))]
        check(len({c["start"] for c in line}) == 1,
              f"{name}: the partial line's cues start at {[c['start'] for c in line]}")
    w_es = check_times("listen-es", timed_es, clock, sent_at)
    w_en = check_times("listen-en", timed_en, clock, sent_at)
    lags = [clock.ms_at(a) - c["start"] for a, c in timed_es + timed_en if c["final"]]
    print(f"captions: es {len(timed_es)}, en {len(timed_en)}, none 0; HTTP cue start outside "
          f"the room clock while curl ran: worst {max(w_es, w_en):.0f} ms; arrival minus "
          f"start (final cues): {min(lags):.0f}..{max(lags):.0f} ms")


def main():
    args = cc.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
