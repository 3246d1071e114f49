#!/usr/bin/python3
"""puente-caption --replay: subtitle files delivered in real time.

The test writes a 3-cue SRT file the way files come in the wild (a UTF-8
byte-order mark, CRLF line ends, <i> and {\\an8} markup, a two-line cue, no
blank line before the last cue's index) and replays it over the WebSocket
form into en; then a 3-cue WebVTT file (header, NOTE block, cue settings,
<v> and <b> tags, &amp; references, cues out of order in the file) over the
HTTP caption API into es. A puente-listen --captions per language times each
caption line as it arrives. Checks: the cues arrive as plain text, in start
order, and the spacing between them, both at arrival and in their start
media times, matches the files' within +-300 ms.

Usage: captions_replay.py --relay PATH --listen PATH --caption PATH --plugin-dir DIR
"""

import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import captions_common as cc  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402

TOLERANCE_S = 0.3

SRT = ("\ufeff1\r\n"
       "00:00:00,500 --> 00:00:01,600\r\n"
       "<i>Good morning</i>, everyone.\r\n"
       "\r\n"
       "2\r\n"
       "00:00:01,700 --> 00:00:03,000\r\n"
       "{\\an8}Welcome to the dialogue\r\n"
       "between governments and civil society.\r\n"
       "3\r\n"
       "00:00:03,200 --> 00:00:04,500\r\n"
       "Thank you.\r\n")
SRT_CUES = [(0.5, "Good morning, everyone."),
            (1.7, "Welcome to the dialogue\nbetween governments and civil society."),
            (3.2, "Thank you.")]

VTT = ("WEBVTT - sesión de prueba\n"
       "\n"
       "NOTE this block is not a cue\n"
       "\n"
       "tercera\n"
       "00:02.900 --> 00:04.000 align:start line:0\n"
       "Gracias &amp; hasta luego.\n"
       "\n"
       "primera\n"
       "00:01.000 --> 00:01.800\n"
       "<v Presidenta>Buenos días a <b>todas</b>.\n"
       "\n"
       "00:00:01.900 --> 00:00:02.800\n"
       "Bienvenidos &lt;al&gt; diálogo.\n")
VTT_CUES = [(1.0, "Buenos días a todas."), (1.9, "Bienvenidos <al> diálogo."),
            (2.9, "Gracias & hasta luego.")]


def replay(args, relay, tmp, listener, name, content, cues, form):
    path = os.path.join(tmp, name)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(content)
    lang = listener.name.rsplit("-", 1)[1]
    before = len(listener.captions())
    rc, summary, err = cc.run_caption(args, [*form, "--lang", lang, "--replay", path], timeout=30)
    check(rc == 0, f"puente-caption --replay {name} exited {rc}: {err}")
    check(summary == {"sent": "3", "refused": "0", "duplicates": "0", "failed": "0"},
          f"puente-caption --replay {name}: {summary}")
    got = listener.wait_captions(before + len(cues))[before:]
    texts = [cc.unescape(c["text"]) for _, c in got]
    check(texts == [t for _, t in cues], f"{name}: cues {texts}, expected {[t for _, t in cues]}")
    check(all(c["final"] for _, c in got), f"{name}: a cue was not final")
    worst = 0.0
    spacing = []
    for i in range(1, len(cues)):
        want = cues[i][0] - cues[i - 1][0]
        arrived = got[i][0] - got[i - 1][0]
        media = (got[i][1]["start"] - got[i - 1][1]["start"]) / 1000
        spacing.append(f"{want:.1f}->{arrived:.3f}/{media:.3f}")
        for what, v in (("arrival", arrived), ("start media time", media)):
            worst = max(worst, abs(v - want))
            check(abs(v - want) <= TOLERANCE_S,
                  f"{name}: cue {i + 1} {what} {v:.3f} s after cue {i}, expected {want:.1f} s "
                  f"+- {TOLERANCE_S} s")
    print(f"{name}: spacing wanted->arrival/media (s): {', '.join(spacing)}; worst error "
          f"{worst * 1000:.0f} ms")


def test(args):
    with harness.tempdir("puente-captions-replay-") as tmp, \
            cc.CaptionRelay(args, tmp) as relay, cc.Group() as group:
        l_en = group.add(cc.Listener(args, relay.url(), tmp, "listen-en", "en"))
        l_es = group.add(cc.Listener(args, relay.url(), tmp, "listen-es", "es"))
        l_en.wait_err("captions in 'en'")
        l_es.wait_err("captions in 'es'")
        replay(args, relay, tmp, l_en, "session.srt", SRT, SRT_CUES, ["--url", relay.url(role="captioner")])
        replay(args, relay, tmp, l_es, "sesion.vtt", VTT, VTT_CUES,
               ["--http", relay.caption_url("cart-es")])
        for l in (l_en, l_es):
            status, _, cues = l.stop()
            check(status == 0 and len(cues) == 3, f"{l.name}: exit {status}, {len(cues)} cues")


def main():
    args = cc.parse_args(__doc__)
    harness.main(lambda: test(args))


if __name__ == "__main__":
    main()
