"""Shared parts of the interpretation tests (interp_*.py): the relay with the
interpretation plugin, puente-booth consoles driven through their standard
input, a recording WebSocket probe, and the speech they all use.

Everything runs on 127.0.0.1 with real processes; every wait is bounded;
children are stopped by pid and die with the test (PR_SET_PDEATHSIG).
Run with /usr/bin/python3 (Debian's numpy).
"""

import argparse
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rt"))
import numpy as np  # noqa: E402

import audio  # noqa: E402
import harness  # noqa: E402
from harness import check  # noqa: E402
from rtlib import OpusDecoder, WsProbe  # noqa: E402

FRAME = 960  # samples per 20 ms packet
DISCONT, SILENCE = 0x01, 0x02
CHANNELS = ("floor", "es", "en")  # the embedded default room, in wire order

# Three different speeches, so each channel can be told from the others.
FLOOR_TEXT = ("Buenos días a todas y a todos. Abrimos el conversatorio sobre migración "
              "y protección en las Américas.")
ES_TEXT = ("La sesión comienza con seis presentaciones breves de cinco minutos, "
           "y después las preguntas del público.")
EN_TEXT = ("Good morning everyone. Welcome to the dialogue between governments and "
           "civil society.")
EN_TEXT_B = ("Thank you, Madam Chair. Our organisation works with migrants and their "
             "families in twelve countries.")


def parse_args(doc):
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--relay", required=True, help="the puente binary")
    p.add_argument("--listen", required=True, help="the puente-listen binary")
    p.add_argument("--booth", required=True, help="the puente-booth binary")
    p.add_argument("--plugin-dir", required=True, help="the folder of interpretation.so")
    args = p.parse_args()
    for k in ("relay", "listen", "booth", "plugin_dir"):
        setattr(args, k, os.path.abspath(getattr(args, k)))
    return args


def speech(tmp, name, text, voice):
    """espeak-ng speech as a 16-bit mono 48 kHz WAV in its own folder; returns
    (path, samples)."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder, exist_ok=True)
    path = audio.make_speech(folder, text, voice)
    return path, audio.read_wav(path)


def config(tmp, booths, floor_language="es", fallback="floor"):
    """An INI file loading the plugin over the default room (floor, es, en)."""
    path = os.path.join(tmp, "relay.ini")
    with open(path, "w") as f:
        f.write("[core]\nplugins = interpretation\nlog_level = info\n\n"
                f"[plugin.interpretation]\nbooths = {booths}\n"
                f"floor_language = {floor_language}\nfallback = {fallback}\n")
    return path


def relay(args, tmp, ini, floor_wav):
    return harness.Relay(args.relay, ["--config", ini, "--plugin-dir", args.plugin_dir,
                                      "--input-file", floor_wav], cwd=tmp)


class Booth:
    """A puente-booth process; its stderr lines are kept with their arrival time."""

    def __init__(self, args, url, tmp, name, *extra):
        self.name = name
        self.cmd = [args.booth, "--url", url, *extra]
        self.lines = []  # (t_mono, text)
        self.out = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(self.cmd, cwd=tmp, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=harness._die_with_parent)
        self._threads = [threading.Thread(target=self._drain, args=(self.proc.stderr, True),
                                          daemon=True),
                         threading.Thread(target=self._drain, args=(self.proc.stdout, False),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _drain(self, pipe, is_err):
        for raw in pipe:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._lock:
                (self.lines if is_err else self.out).append((time.monotonic(), line))

    def mark(self):
        with self._lock:
            return len(self.lines)

    def wait_line(self, needle, timeout=10, since=0):
        """Waits for a stderr line containing needle (from line index since on);
        returns its arrival time."""
        deadline = time.monotonic() + timeout
        exited = False
        while True:
            with self._lock:
                for t, line in self.lines[since:]:
                    if needle in line:
                        return t
            if exited or time.monotonic() >= deadline:
                break
            exited = self.proc.poll() is not None  # one more look: the last lines
            time.sleep(0.2 if exited else 0.02)
        self.dump()
        why = f"exited ({self.proc.returncode})" if exited else f"within {timeout} s"
        raise harness.TestFailure(f"{self.name} did not print {needle!r}: {why}")

    def client_id(self, timeout=10):
        """This console's client id, from its "connected as interpreter #N" line."""
        self.wait_line("connected as interpreter #", timeout)
        with self._lock:
            line = next(l for _, l in self.lines if "connected as interpreter #" in l)
        return int(line.rsplit("#", 1)[1])

    def command(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def quit(self, timeout=10):
        """'quit' on stdin; exit 0 and one summary line. Returns the summary."""
        if self.proc.poll() is None:
            try:
                self.command("quit")
            except BrokenPipeError:
                pass
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise harness.TestFailure(f"{self.name} still running {timeout} s after 'quit'")
        for t in self._threads:
            t.join(5)
        if status != 0:
            self.dump()
        check(status == 0, f"{self.name} exited with status {status}")
        summary = harness.parse_summary("\n".join(line for _, line in self.out))
        print(f"{self.name}: " + " ".join(f"{k}={v}" for k, v in summary.items()))
        return summary

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def dump(self, tail=40):
        with self._lock:
            lines = [line for _, line in self.lines if not line.startswith("ALSA lib")]
        print(f"--- {self.name} stderr ---", file=sys.stderr)
        for line in lines[-tail:]:
            print(line, file=sys.stderr)
        print(f"--- end {self.name} stderr ---", file=sys.stderr)


class Booths:
    """Every console of a test: killed and dumped if the test fails."""

    def __init__(self):
        self.all = []

    def start(self, *a, **kw):
        b = Booth(*a, **kw)
        self.all.append(b)
        return b

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        for b in self.all:
            if exc_type is not None:
                b.kill()
                b.dump()
            else:
                b.kill()
        return False


class Probe(WsProbe):
    """rtlib's WsProbe (connects, subscribes, records every message with a
    monotonic time), with the channel byte kept in each audio record:
    events of kind 'audio' carry (channel, flags, seq, media_time, payload)."""

    def _audio(self, h):
        return h

    def send_binary(self, payload):
        self._send(2, payload)

    def audio(self, since=0.0):
        """[(t, channel, flags, seq, media_time, payload)] from time since on."""
        return [(t, *d) for t, k, d in self.snapshot() if k == "audio" and t >= since]

    def messages(self, type_, since=0.0):
        return [(t, d) for t, k, d in self.snapshot()
                if k == "json" and d.get("type") == type_ and t >= since]

    def closes(self):
        return [d for _, k, d in self.snapshot() if k == "close"]

    def wait_json(self, pred, timeout=10, since=0.0, what="a message"):
        """The first JSON message (t, msg) since `since` for which pred(msg)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, k, d in self.snapshot():
                if k == "json" and t >= since and pred(d):
                    return t, d
            if self.closed.is_set():
                break
            time.sleep(0.02)
        raise harness.TestFailure(f"no {what} within {timeout} s; got "
                                  f"{[d for _, k, d in self.snapshot() if k != 'audio'][-6:]}")

    def wait_audio(self, channel, count, timeout=10, since=0.0):
        """Waits until count packets of channel arrived after since."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for a in self.audio(since) if a[1] == channel) >= count:
                return
            time.sleep(0.02)
        got = sum(1 for a in self.audio(since) if a[1] == channel)
        raise harness.TestFailure(f"{got} of {count} packets on channel {channel} "
                                  f"within {timeout} s")


def channel_id(name):
    return CHANNELS.index(name)


def decode(packets):
    """Decodes a run of packets (tuples whose last item is the payload) in
    order with one decoder; returns float samples."""
    dec = OpusDecoder()
    out = [np.array(dec.decode(p[-1]), dtype=np.float64) for p in packets]
    return np.concatenate(out) if out else np.zeros(0)


def continuity(packets):
    """Figures of a run of packets of one channel, in arrival order:
    seq steps that are not +1, media_time steps (samples), DISCONT count
    (the first packet excluded)."""
    seqs = [p[3] for p in packets]
    mts = [p[4] for p in packets]
    seq_bad = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != (a + 1) & 0xFFFFFFFF]
    steps = [b - a for a, b in zip(mts, mts[1:])]
    discont = sum(1 for p in packets[1:] if p[2] & DISCONT)
    return {"packets": len(packets), "seq_breaks": seq_bad, "mt_min_step": min(steps, default=0),
            "mt_max_step": max(steps, default=0), "discont": discont}


def window_nccs(recording, source, n=6, window=audio.RATE):
    """ncc against the looped source (audio.best_lag) of the n most energetic
    non-overlapping 1 s windows of the recording, loudest first."""
    starts = list(range(0, len(recording) - window + 1, window // 2))
    check(starts, f"recording of {len(recording)} samples is shorter than {window}")
    energy = sorted(((float(np.sum(recording[s:s + window] ** 2)), s) for s in starts),
                    reverse=True)
    chosen = []
    for _, s in energy:
        if all(abs(s - c) >= window for c in chosen):
            chosen.append(s)
        if len(chosen) == n:
            break
    return [(s / audio.RATE, audio.best_lag(recording[s:s + window], source)[0])
            for s in chosen]


def check_match_windows(recording, source, what, min_ncc=0.9):
    """A recording from puente-listen --wav matches the looped source in at
    least one of its loudest 1 s windows. The WAV keeps the room clock: where
    the relay re-anchors an interpreter channel after a stall, puente-listen
    conceals a media-time jump inside continuous speech, and a window across
    it correlates less; the others still show whose speech it is."""
    nccs = window_nccs(recording, source)
    best = max(n for _, n in nccs)
    print(f"{what}: recording {len(recording) / audio.RATE:.2f} s; ncc per 1 s window "
          + ", ".join(f"{n:.3f}@{t:.1f}s" for t, n in nccs)
          + f"; best {best:.4f}, {sum(n >= min_ncc for _, n in nccs)}/{len(nccs)} >= {min_ncc}")
    check(best >= min_ncc, f"{what} does not match the source: best ncc {best:.4f} < {min_ncc}")
    return best


def no_match(recording, source, what, max_ncc=0.5):
    """The recording is not that source: every loud 1 s window stays below max_ncc."""
    nccs = window_nccs(recording, source)
    worst = max(n for _, n in nccs)
    print(f"{what}: highest ncc over {len(nccs)} windows {worst:.4f} (must stay below "
          f"{max_ncc})")
    check(worst < max_ncc, f"{what}: ncc {worst:.4f} >= {max_ncc}: it matches")
    return worst


def listen(args, url, channel, seconds, wav, cwd):
    """puente-listen recording a channel, started now; returns the Popen."""
    return subprocess.Popen([args.listen, "--url", url, "--channel", channel, "--seconds",
                             str(seconds), "--wav", wav, "--quiet"], cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=harness._die_with_parent)


def listen_result(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        raise harness.TestFailure(f"puente-listen still running after {timeout} s")
    sys.stderr.write(err)
    check(proc.returncode == 0, f"puente-listen exited {proc.returncode}")
    return harness.parse_summary(out)
