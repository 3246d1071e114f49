#!/usr/bin/python3
"""puente-report's figures, worked out by hand from a store and a log.

The store has six invitees (one never comes); the log has two relay runs:

run 1, 14:00Z to 15:00Z, clean (start ... stop), seconds after 14:00Z:
  c1 p0001 Ana   interpreter  60 .. 3600 (open at the stop)   no channel
  c2 p0002 Ben   listener    120 .. 1260 (taken over)         es 120..630, en 630..1260
  c3 p0003 Chloe listener    180 .. 2400                      en 180..2400; captions en 240..840
  c4 anonymous   listener    300 .. 1800                      floor 300..1800
  c5 p0004 Dev   captioner   900 .. 3300                      no channel
  c6 p0002 Ben   listener   1200 .. 3600 (new device)         en 1200..2700, none after;
                                                              captions es 1500..3600
  c7 p0005 Eva   organiser  3000 .. 3600
run 2, 16:00Z, crashed: its last line is an "alive" at 8100, then a torn line:
  c1 p0001 Ana   interpreter 7260 .. 8100
  c2 p0099 (not in the store) listener 7320 .. 8100          es 7320..8100
  c3 p0003 Chloe listener   7380 .. 8100                      fr 7380..8100; captions fr 7860..8100
  c4 anonymous   listener   7400 .. 7520                      en 7400..7520
  and a "leave" of a connection that never joined (conn 42).

Checks: the CSV exactly; the same numbers in the Markdown; --session windows
(an ISO time with an offset, unix seconds) clip minutes and the peak; no
names or e-mails without --names, the attendees with it; the SVG is
well-formed, has one bar per country and escapes a sector "Arts & <Culture>";
bad usage exits 2, a missing log 1.

Usage: report_figures.py --report PATH
"""

import argparse
import calendar
import csv
import io
import json
import os
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import check  # noqa: E402

T0 = calendar.timegm((2026, 11, 28, 14, 0, 0, 0, 0, 0))  # 2026-11-28 14:00:00Z
RUN1 = "a1a1a1a1a1a1a1a1"
RUN2 = "b2b2b2b2b2b2b2b2"
EV = "Whole event"
S1 = "2026-11-28 14:00Z"
S2 = "2026-11-28 16:00Z"

INVITEES = [
    # id, e-mail, name, role, country, sector, gender
    ("p0001", "ana@example.org", "Ana Pérez", "interpreter", "CR", "government", "female"),
    ("p0002", "ben@example.org", "Ben Okafor", "listener", "NG", "Arts & <Culture>", "male"),
    ("p0003", "chloe@example.org", "Chloé Martin", "listener", "FR", "academia", "female"),
    ("p0004", "dev@example.org", "Dev Rao", "captioner", None, None, None),
    ("p0005", "eva@example.org", "Eva Lind", "organiser", "CR", "government", "non-binary"),
    ("p0006", "fay@example.org", "Fay Noshow", "listener", "CR", "academia", "female"),
]


def write_store(path):
    entries = []
    for i, (pid, email, name, role, country, sector, gender) in enumerate(INVITEES):
        entries.append({"id": pid, "hash": "%064x" % (i + 1), "email": email, "name": name,
                        "role": role, "lang": "es", "country": country, "sector": sector,
                        "gender": gender, "booths": None, "languages": None,
                        "not_before": 0, "not_after": 0, "revoked_at": 0})
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "event": "Conversatorio 2026", "invitees": entries}, f,
                  ensure_ascii=False)


def ev(sec, kind, run, **kw):
    line = {"t": round(T0 + sec, 3), "ev": kind, "run": run}
    line.update(kw)
    return json.dumps(line, ensure_ascii=False)


def join(sec, run, conn, who, role):
    return ev(sec, "join", run, conn=conn, who=who, role=role)


def chan(sec, run, conn, who, channel):
    return ev(sec, "channel", run, conn=conn, who=who, channel=channel)


def capt(sec, run, conn, who, lang):
    return ev(sec, "captions", run, conn=conn, who=who, lang=lang)


def leave(sec, run, conn, who, reason):
    return ev(sec, "leave", run, conn=conn, who=who, reason=reason)


LOG = [
    ev(0, "start", RUN1, room="Sala 1"),
    join(60, RUN1, 1, "p0001", "interpreter"),
    join(120, RUN1, 2, "p0002", "listener"),
    chan(120, RUN1, 2, "p0002", "es"),
    join(180, RUN1, 3, "p0003", "listener"),
    chan(180, RUN1, 3, "p0003", "en"),
    capt(240, RUN1, 3, "p0003", "en"),
    join(300, RUN1, 4, None, "listener"),
    chan(300, RUN1, 4, None, "floor"),
    chan(630, RUN1, 2, "p0002", "en"),
    capt(840, RUN1, 3, "p0003", None),
    join(900, RUN1, 5, "p0004", "captioner"),
    join(1200, RUN1, 6, "p0002", "listener"),
    chan(1200, RUN1, 6, "p0002", "en"),
    leave(1260, RUN1, 2, "p0002", "taken_over"),
    capt(1500, RUN1, 6, "p0002", "es"),
    leave(1800, RUN1, 4, None, "closed"),
    ev(1800, "alive", RUN1),
    leave(2400, RUN1, 3, "p0003", "closed"),
    chan(2700, RUN1, 6, "p0002", None),
    join(3000, RUN1, 7, "p0005", "organiser"),
    leave(3300, RUN1, 5, "p0004", "closed"),
    ev(3600, "stop", RUN1),
    ev(7200, "start", RUN2, room="Sala 1"),
    join(7260, RUN2, 1, "p0001", "interpreter"),
    join(7320, RUN2, 2, "p0099", "listener"),
    chan(7320, RUN2, 2, "p0099", "es"),
    join(7380, RUN2, 3, "p0003", "listener"),
    chan(7380, RUN2, 3, "p0003", "fr"),
    join(7400, RUN2, 4, None, "listener"),
    chan(7400, RUN2, 4, None, "en"),
    leave(7500, RUN2, 42, "p0003", "closed"),  # never joined: skipped, counted
    leave(7520, RUN2, 4, None, "closed"),
    ev(7800, "alive", RUN2),
    capt(7860, RUN2, 3, "p0003", "fr"),
    ev(8100, "alive", RUN2),
]
TORN = '{"t":%.3f,"ev":"leave","run":"%s","co' % (T0 + 8130, RUN2)


def write_log(path):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(LOG) + "\n" + TORN)


def rows(section, session, pairs):
    return [[section, session, k, v] for k, v in pairs]


def part(session, frm, to, room_ended, total, anon, peak, peak_at, roles, countries, sectors,
         genders, channels, captions):
    out = [["session", session, "from", frm], ["session", session, "to", to]]
    for k, v in room_ended:
        out.append(["session", session, k, v])
    out += [["participants", session, "total", total],
            ["anonymous_listeners", session, "connections", anon],
            ["peak", session, "people", peak]]
    if peak_at:
        out.append(["peak", session, "at", peak_at])
    out += rows("participants_by_role", session, roles)
    out += rows("country", session, countries)
    out += rows("sector", session, sectors)
    out += rows("gender", session, genders)
    out += rows("channel_minutes", session, channels)
    out += rows("caption_minutes", session, captions)
    return out


# The whole event (every run): 14:00:00Z (run 1's start) to 16:15:00Z (run 2's last line, 8100 s).
EVENT = part(
    EV, "2026-11-28 14:00:00Z", "2026-11-28 16:15:00Z", [],
    # p0001 p0002 p0003 p0004 p0005 p0099; p0002's two devices count once
    "6",
    # run 1's c4 and run 2's c4
    "2",
    # run 1 at 900 s: p0001 p0002 p0003 anonymous + p0004 = 5; at 1200..1260 p0002 is on
    # two devices but still one person (6 if counted twice); run 2 reaches only 4
    "5", "2026-11-28 14:15:00Z",
    # listeners p0002 p0003 p0099 (from its join line); the roles in the store's order
    [("listener", "3"), ("interpreter", "1"), ("captioner", "1"), ("organiser", "1")],
    # CR: p0001 p0005; FR p0003; NG p0002; not given: p0004 (null) and p0099 (not in store)
    [("CR", "2"), ("FR", "1"), ("NG", "1"), ("not given", "2")],
    # government: p0001 p0005; "Arts..." sorts before "academia" (capital A)
    [("government", "2"), ("Arts & <Culture>", "1"), ("academia", "1"), ("not given", "2")],
    [("female", "2"), ("male", "1"), ("non-binary", "1"), ("not given", "2")],
    # en: run 1 (1260-630) + (2400-180) + (2700-1200) = 630+2220+1500 = 4350 s = 72.5 min,
    #     run 2 (7520-7400) = 120 s = 2.0 min -> 74.5
    # es: run 1 (630-120) = 510 s = 8.5 min, run 2 (8100-7320) = 780 s = 13.0 -> 21.5
    # floor: 1800-300 = 1500 s = 25.0; fr: 8100-7380 = 720 s = 12.0
    [("en", "74.5"), ("es", "21.5"), ("floor", "25.0"), ("fr", "12.0")],
    # en: 840-240 = 600 s = 10.0; es: 3600-1500 = 2100 s = 35.0 (ends at the stop);
    # fr: 8100-7860 = 240 s = 4.0 (ends at the crashed run's last line)
    [("en", "10.0"), ("es", "35.0"), ("fr", "4.0")])

RUN1_PART = part(
    S1, "2026-11-28 14:00:00Z", "2026-11-28 15:00:00Z", [("room", "Sala 1"), ("ended", "stop")],
    "5", "1", "5", "2026-11-28 14:15:00Z",
    [("listener", "2"), ("interpreter", "1"), ("captioner", "1"), ("organiser", "1")],
    # CR p0001 p0005, FR p0003, NG p0002, not given p0004
    [("CR", "2"), ("FR", "1"), ("NG", "1"), ("not given", "1")],
    [("government", "2"), ("Arts & <Culture>", "1"), ("academia", "1"), ("not given", "1")],
    [("female", "2"), ("male", "1"), ("non-binary", "1"), ("not given", "1")],
    # en 630+2220+1500 = 4350 s = 72.5; es 510 s = 8.5; floor 1500 s = 25.0
    [("en", "72.5"), ("es", "8.5"), ("floor", "25.0")],
    [("en", "10.0"), ("es", "35.0")])

RUN2_PART = part(
    S2, "2026-11-28 16:00:00Z", "2026-11-28 16:15:00Z", [("room", "Sala 1"), ("ended", "crash")],
    # p0001 p0003 p0099
    "3", "1",
    # 7260 p0001, 7320 p0099, 7380 p0003, 7400 anonymous: 4 at 16:03:20Z
    "4", "2026-11-28 16:03:20Z",
    [("listener", "2"), ("interpreter", "1")],
    [("CR", "1"), ("FR", "1"), ("not given", "1")],
    [("academia", "1"), ("government", "1"), ("not given", "1")],
    [("female", "2"), ("not given", "1")],
    # en 7520-7400 = 120 s; es 8100-7320 = 780 s; fr 8100-7380 = 720 s
    [("en", "2.0"), ("es", "13.0"), ("fr", "12.0")],
    [("fr", "4.0")])

LOG_ROWS = [
    ["log", "", "lines", "37"],  # 36 events + the torn line
    ["log", "", "lines_not_json", "1"],  # the torn line
    ["log", "", "lines_invalid", "1"],  # the leave of conn 42
    ["log", "", "runs", "2"],
    ["log", "", "runs_crashed", "1"],
    ["log", "", "ids_not_in_store", "1"],  # p0099
]

# --names, by name; minutes present, a person's devices merged:
ATTENDEES = [
    # 3600-60 = 3540 s = 59.0, + 8100-7260 = 840 s = 14.0
    ("p0001", "Ana Pérez", "interpreter", "CR", "73.0"),
    # 120..1260 and 1200..3600 overlap: 120..3600 = 3480 s = 58.0 (59.0 if added up)
    ("p0002", "Ben Okafor", "listener", "NG", "58.0"),
    # 2400-180 = 2220 s = 37.0, + 8100-7380 = 720 s = 12.0
    ("p0003", "Chloé Martin", "listener", "FR", "49.0"),
    ("p0004", "Dev Rao", "captioner", "not given", "40.0"),  # 3300-900 = 2400 s
    ("p0005", "Eva Lind", "organiser", "CR", "10.0"),  # 3600-3000 = 600 s
    ("p0099", "p0099", "listener", "not given", "13.0"),  # 8100-7320 = 780 s; no name: its id
]

# --session Morning: 09:10-05:00 = 14:10Z (600 s) to 14:30Z (1800 s);
# Late: unix T0+3300 (14:55Z) to T0+7560 (16:06Z).
MORNING = part(
    "Morning", "2026-11-28 14:10:00Z", "2026-11-28 14:30:00Z", [],
    # c1..c6: p0001 p0002 p0003 p0004 (c7 starts at 3000)
    "4", "1",
    # at 600: p0001 p0002 p0003 anonymous = 4; at 900 p0004: 5
    "5", "2026-11-28 14:15:00Z",
    [("listener", "2"), ("interpreter", "1"), ("captioner", "1")],
    [("CR", "1"), ("FR", "1"), ("NG", "1"), ("not given", "1")],
    [("Arts & <Culture>", "1"), ("academia", "1"), ("government", "1"), ("not given", "1")],
    [("female", "2"), ("male", "1"), ("not given", "1")],
    # en: c2 1260-630 = 630, c3 1800-600 = 1200, c6 1800-1200 = 600: 2430 s = 40.5
    # es: c2 630-600 = 30 s = 0.5; floor: 1800-600 = 1200 s = 20.0
    [("en", "40.5"), ("es", "0.5"), ("floor", "20.0")],
    # en: 840-600 = 240 s = 4.0; es: 1800-1500 = 300 s = 5.0
    [("en", "4.0"), ("es", "5.0")])

LATE = part(
    "Late", "2026-11-28 14:55:00Z", "2026-11-28 16:06:00Z", [],
    # run 1: p0001 p0002 (c6) p0005 (c5 ends at 3300 exactly: out); run 2: p0099 p0003
    "5", "1",
    # run 1 from 3300: p0001 p0002 p0005 = 3; run 2: 7260, 7320, 7380, 7400 anonymous = 4
    "4", "2026-11-28 16:03:20Z",
    [("listener", "3"), ("interpreter", "1"), ("organiser", "1")],
    [("CR", "2"), ("FR", "1"), ("NG", "1"), ("not given", "1")],
    [("government", "2"), ("Arts & <Culture>", "1"), ("academia", "1"), ("not given", "1")],
    [("female", "2"), ("male", "1"), ("non-binary", "1"), ("not given", "1")],
    # en: 7520-7400 = 120 s = 2.0; es: 7560-7320 = 240 s = 4.0; fr: 7560-7380 = 180 s = 3.0
    [("en", "2.0"), ("es", "4.0"), ("fr", "3.0")],
    # es: c6 3600-3300 = 300 s = 5.0 (run 2's fr captions start at 7860: out)
    [("es", "5.0")])

SESSIONS_EVENT = part(
    EV, "2026-11-28 14:10:00Z", "2026-11-28 16:06:00Z", [],
    "6", "2", "5", "2026-11-28 14:15:00Z",
    [("listener", "3"), ("interpreter", "1"), ("captioner", "1"), ("organiser", "1")],
    [("CR", "2"), ("FR", "1"), ("NG", "1"), ("not given", "2")],
    [("government", "2"), ("Arts & <Culture>", "1"), ("academia", "1"), ("not given", "2")],
    [("female", "2"), ("male", "1"), ("non-binary", "1"), ("not given", "2")],
    # the sum of the two windows (disjoint): en 40.5+2.0, es 0.5+4.0, floor 20.0, fr 3.0
    [("en", "42.5"), ("es", "4.5"), ("floor", "20.0"), ("fr", "3.0")],
    [("en", "4.0"), ("es", "10.0")])


def run_report(args, *extra, expect=0):
    res = harness.run([args.report, *extra], timeout=30)
    check(res.returncode == expect,
          f"puente-report {' '.join(extra)}: exit {res.returncode}, expected {expect}\n"
          f"{res.stderr}")
    return res


def read_csv(text):
    table = list(csv.reader(io.StringIO(text)))
    check(table and table[0] == ["section", "session", "key", "value"],
          f"CSV header: {text[:60]!r}")
    return table[1:]


def compare(got, want, what):
    for i, (g, w) in enumerate(zip(got, want)):
        check(g == w, f"{what}: row {i + 2} is {g}, expected {w}")
    check(len(got) == len(want), f"{what}: {len(got)} rows, expected {len(want)}: "
          f"extra {got[len(want):] or want[len(got):]}")


def md_escape(s):
    return "".join("\\" + c if c in "\\`*_[]<>|&~" else c for c in s)


def md_sections(md):
    """Markdown lines by section: "Whole event", a session's name, "Attendees", "Notes"."""
    out, cur = {}, None
    for line in md.splitlines():
        if line.startswith("## "):
            cur = line[3:].removeprefix("Session: ")
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


LABELS = {("participants", "total"): "Participants",
          ("anonymous_listeners", "connections"): "Anonymous listener connections",
          ("peak", "people"): "Peak concurrent people",
          ("peak", "at"): "Peak reached at"}


def check_md(md, csv_rows):
    """Every figure of the CSV shows in the Markdown, in its session's section."""
    sections = md_sections(md)
    for section, session, key, value in csv_rows:
        if section == "log" or section.startswith("attendee_"):
            continue
        name = session
        check(name in sections, f"no Markdown section for {name!r}: {list(sections)}")
        lines = sections[name]
        if section == "session":
            if key in ("from", "to"):
                check(any(value in l for l in lines), f"{name}: no {key} {value} in Markdown")
            continue
        label = LABELS.get((section, key), md_escape(key))
        want = f"| {label} | {value} |"
        if section in ("participants", "anonymous_listeners", "peak"):
            check(want in lines, f"{name}: no {want!r} in Markdown:\n" + "\n".join(lines))
        else:
            # the row sits under its table's heading
            heading = {"participants_by_role": "### Participants by role",
                       "country": "### Participants by country",
                       "sector": "### Participants by sector",
                       "gender": "### Participants by gender",
                       "channel_minutes": "### Minutes listened per channel",
                       "caption_minutes": "### Minutes with captions per language"}[section]
            check(heading in lines, f"{name}: no {heading}")
            table = lines[lines.index(heading) + 1:]
            table = table[:next((i for i, l in enumerate(table) if l.startswith("###")),
                                len(table))]
            check(want in table, f"{name}, {heading}: no {want!r} in {table}")


def check_no_personal_data(text, what):
    for _pid, email, name, *_ in INVITEES:
        check(email not in text, f"{what} shows the e-mail {email}")
        for part_ in name.split():
            check(part_ not in text, f"{what} shows the name {name}")


def default_sessions(args, store, log, tmp):
    res = run_report(args, "--log", log, "--store", store, "--format", "csv")
    check("2 of 37 lines" in res.stderr, f"no warning about skipped lines: {res.stderr!r}")
    got = read_csv(res.stdout)
    compare(got, EVENT + RUN1_PART + RUN2_PART + LOG_ROWS, "CSV")
    check_no_personal_data(res.stdout, "CSV without --names")

    out = os.path.join(tmp, "report.md")
    res = run_report(args, "--log", log, "--store", store, "--output", out)
    check(res.stdout == "", f"--output still printed: {res.stdout[:80]!r}")
    with open(out, encoding="utf-8") as f:
        md = f.read()
    check(md.startswith("# Attendance: Conversatorio 2026\n"), f"title: {md[:60]!r}")
    check_md(md, got)
    check_no_personal_data(md, "Markdown without --names")
    notes = "\n".join(md_sections(md)["Notes"])
    for want in ("Lines in the log: 37; relay runs: 2.",
                 "Lines skipped, not JSON (a line torn by a crash, say): 1.",
                 "Lines skipped, not an event of a known run and connection: 1.",
                 "end at the run's last log line): 1.",
                 "count as \"not given\"): 1."):
        check(want in notes, f"notes lack {want!r}:\n{notes}")
    print("default sessions: CSV exact, Markdown the same numbers, no personal data")


def names(args, store, log):
    res = run_report(args, "--log", log, "--store", store, "--format", "csv", "--names")
    want = []
    for pid, name, role, country, minutes in ATTENDEES:
        want += [["attendee_name", EV, pid, name], ["attendee_role", EV, pid, role],
                 ["attendee_country", EV, pid, country], ["attendee_minutes", EV, pid, minutes]]
    compare(read_csv(res.stdout), EVENT + want + RUN1_PART + RUN2_PART + LOG_ROWS,
            "CSV with --names")
    check("@" not in res.stdout, "e-mail addresses in the CSV with --names")

    res = run_report(args, "--log", log, "--store", store, "--names")
    table = md_sections(res.stdout).get("Attendees", [])
    for _pid, name, role, country, minutes in ATTENDEES:
        row = f"| {md_escape(name)} | {role} | {md_escape(country)} | {minutes} |"
        check(row in table, f"no attendee row {row!r} in {table}")
    check("@" not in res.stdout, "e-mail addresses in the Markdown with --names")
    print("--names: attendees with minutes present, overlapping devices merged; no e-mails")


def sessions(args, store, log):
    res = run_report(args, "--log", log, "--store", store, "--format", "csv",
                     "--session", "Morning=2026-11-28T09:10:00-05:00/2026-11-28T14:30Z",
                     "--session", f"Late={T0 + 3300}/{T0 + 7560}")
    got = read_csv(res.stdout)
    compare(got, SESSIONS_EVENT + MORNING + LATE + LOG_ROWS, "CSV with --session")
    res = run_report(args, "--log", log, "--store", store,
                     "--session", "Morning=2026-11-28T09:10:00-05:00/2026-11-28T14:30Z",
                     "--session", f"Late={T0 + 3300}/{T0 + 7560}")
    check_md(res.stdout, got)
    print("--session: windows clip minutes and the peak; the event is their union")


def svg(args, store, log, tmp):
    path = os.path.join(tmp, "chart.svg")
    run_report(args, "--log", log, "--store", store, "--svg", path, "--format", "csv")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    check("<script" not in text and "href" not in text, "the SVG has a script or a link")
    check("Arts &amp; &lt;Culture&gt;" in text, "the sector label is not escaped")
    root = ET.fromstring(text.encode("utf-8"))  # raises on anything ill-formed
    ns = "{http://www.w3.org/2000/svg}"
    check(root.tag == ns + "svg", f"root element {root.tag}")
    groups = {g.get("id"): g for g in root.iter(ns + "g") if g.get("class") == "chart"}
    check(sorted(groups) == ["country", "gender", "sector"], f"chart groups {sorted(groups)}")

    def bars(gid):
        out = []
        for row in groups[gid].iter(ns + "g"):
            if row.get("class") != "row":
                continue
            label = row.find(ns + "text[@class='label']").text
            count = row.find(ns + "text[@class='count']").text
            check(len(row.findall(ns + "rect")) == 1, f"{gid} {label}: not one bar")
            out.append((label, count))
        return out

    # the whole event's figures, in the report's order
    check(bars("country") == [("CR", "2"), ("FR", "1"), ("NG", "1"), ("not given", "2")],
          f"country bars {bars('country')}")
    check(bars("sector") == [("government", "2"), ("Arts & <Culture>", "1"), ("academia", "1"),
                             ("not given", "2")], f"sector bars {bars('sector')}")
    check(bars("gender") == [("female", "2"), ("male", "1"), ("non-binary", "1"),
                             ("not given", "2")], f"gender bars {bars('gender')}")
    widths = {r.find(ns + "title").text: int(r.get("width")) for r in root.iter(ns + "rect")
              if r.get("class") == "bar"}
    check(widths["CR: 2"] == 2 * widths["FR: 1"], f"bar widths not to scale: {widths}")
    check_no_personal_data(text, "SVG")
    print("SVG: well-formed, one bar per country, sector and gender, labels escaped")


def usage(args, store, log, tmp):
    for bad in (["--log", log, "--format", "pdf"], ["--store", store],
                ["--log", log, "--names"], ["--log", log, "--svg", os.path.join(tmp, "x.svg")],
                ["--log", log, "--session", "Morning=2026-11-28T14:30Z/2026-11-28T14:00Z"],
                ["--log", log, "--session", "Morning=2026-11-28T14:00/2026-11-28T15:00"],
                ["--log", log, "--bogus"]):
        res = run_report(args, *bad, expect=2)
        check("--help" in res.stderr, f"{bad}: no pointer to --help: {res.stderr!r}")
    res = run_report(args, "--log", os.path.join(tmp, "missing.jsonl"), expect=1)
    check("missing.jsonl" in res.stderr, f"no file named: {res.stderr!r}")
    res = run_report(args, "--help")
    check(res.stdout.startswith("Usage: puente-report"), "--help")
    # Without a store: participants by id and role from the log, no attribute tables.
    res = run_report(args, "--log", log, "--format", "csv")
    got = read_csv(res.stdout)
    check(["participants", EV, "total", "6"] in got, "participants without a store")
    check(not any(r[0] in ("country", "sector", "gender") for r in got),
          "attribute tables without a store")
    print("usage errors exit 2, a missing log 1; without a store: no attribute tables")


def test():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--report", required=True)
    args = p.parse_args()
    check(len(LOG) == 36, f"the log has {len(LOG)} events, the figures assume 36")
    with harness.tempdir("puente-report-") as tmp:
        store = os.path.join(tmp, "invitees.json")
        log = os.path.join(tmp, "attendance.jsonl")
        write_store(store)
        write_log(log)
        default_sessions(args, store, log, tmp)
        names(args, store, log)
        sessions(args, store, log)
        svg(args, store, log, tmp)
        usage(args, store, log, tmp)


if __name__ == "__main__":
    harness.main(test)
