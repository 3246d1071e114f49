"""Audio helpers for the integration tests: test speech, WAV reading, and
matching a recording against a looped source (numpy, FFT)."""

import os

import numpy as np

import harness
from harness import check

RATE = 48000
SPEECH_EN = ("Good morning everyone. Welcome to the dialogue between governments "
             "and civil society.")


def make_speech(tmp, text=SPEECH_EN, voice="en-us"):
    """espeak-ng + sox -> 16-bit mono 48 kHz WAV with 0.2 s of silence each side."""
    harness.need_programs("espeak-ng", "sox")
    s22 = os.path.join(tmp, "s22.wav")
    speech = os.path.join(tmp, "speech.wav")
    r = harness.run(["espeak-ng", "-v", voice, "-s", "150", "-w", s22, text], 30)
    check(r.returncode == 0, f"espeak-ng failed: {r.stderr.strip()}")
    r = harness.run(["sox", s22, "-r", str(RATE), "-c", "1", "-b", "16", speech,
                     "pad", "0.2", "0.2"], 30)
    check(r.returncode == 0, f"sox failed: {r.stderr.strip()}")
    return speech


def read_wav(path):
    """16-bit mono 48 kHz WAV -> float64 samples in [-1, 1)."""
    import wave

    with wave.open(path, "rb") as w:
        check(w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == RATE,
              f"{os.path.basename(path)}: expected 16-bit mono {RATE} Hz, got "
              f"{w.getsampwidth() * 8}-bit, {w.getnchannels()} ch, {w.getframerate()} Hz")
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float64) / 32768.0


def loudest_window(x, n):
    """Start of the n-sample window of x with the most energy (10 ms steps)."""
    check(len(x) >= n, f"recording of {len(x)} samples is shorter than the {n}-sample window")
    cs = np.concatenate(([0.0], np.cumsum(x * x)))
    starts = np.arange(0, len(x) - n + 1, RATE // 100)
    return int(starts[np.argmax(cs[starts + n] - cs[starts])])


def best_lag(window, source):
    """Normalised cross-correlation of window against the looped source at
    every lag in one loop period. Returns (ncc, lag in samples)."""
    n, period = len(window), len(source)
    reps = -(-(period + n - 1) // period)
    looped = np.tile(source, reps)[:period + n - 1]
    nfft = 1 << int(np.ceil(np.log2(len(looped) + n)))
    corr = np.fft.irfft(np.fft.rfft(looped, nfft) * np.conj(np.fft.rfft(window, nfft)),
                        nfft)[:period]
    cs = np.concatenate(([0.0], np.cumsum(looped * looped)))
    energy = cs[n:n + period] - cs[:period]
    ncc = corr / (np.linalg.norm(window) * np.sqrt(np.maximum(energy, 1e-12)))
    lag = int(np.argmax(ncc))
    return float(ncc[lag]), lag


def match(recording, source, window=RATE):
    """Matches the loudest window of recording against the looped source.
    Returns a dict of figures: ncc, lag_s, start_s, gain_db."""
    start = loudest_window(recording, window)
    w = recording[start:start + window]
    ncc, lag = best_lag(w, source)
    src = np.tile(source, 1 + -(-window // len(source)))[lag:lag + window]
    gain_db = 20 * np.log10(np.sqrt(np.mean(w ** 2)) / max(np.sqrt(np.mean(src ** 2)), 1e-12))
    return {"ncc": ncc, "lag_s": lag / RATE, "start_s": start / RATE, "gain_db": gain_db}


def check_match(recording, source, what, min_ncc=0.9):
    """Prints the match figures of recording against the looped source and
    fails the test below min_ncc."""
    m = match(recording, source)
    print(f"{what}: source {len(source) / RATE:.2f} s, recording {len(recording) / RATE:.2f} s; "
          f"1 s window at {m['start_s']:.2f} s: ncc={m['ncc']:.4f} at "
          f"{m['lag_s']:.3f} s into the loop, gain {m['gain_db']:+.2f} dB")
    check(m["ncc"] >= min_ncc, f"{what} does not match the source: ncc {m['ncc']:.4f} < {min_ncc}")
    return m
