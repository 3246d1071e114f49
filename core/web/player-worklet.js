// Audio rendering thread: plays decoded PCM from an adaptive jitter buffer.
//
// The main thread posts {type:'pcm', samples: Float32Array} (mono, 48 kHz) and
// {type:'flush'} (after a discontinuity or a stop). The buffer starts playing
// once it holds `target` samples. An underrun means the network delivered
// later than we assumed, so the target grows; a long calm stretch lets it
// shrink again, slowly, because each underrun is an audible click while a
// few extra milliseconds of delay are not. Excess fill beyond the target
// (a burst after a stall, or clock drift between the relay and this sound
// card) is dropped so the delay stays where the target says.
//
// The page may pass processorOptions.minTargetMs (its ?buffer= parameter):
// the floor the target starts at and shrinks back to. A listener on a
// quiet network trades the default's safety margin for less delay; the
// underrun rule still grows the target if the network disagrees.

const MS = sampleRate / 1000;
const MIN_TARGET = 60 * MS; // the floor unless the page asks for another
const FLOOR_LOWEST = 10 * MS; // below one 10 ms packet, play would start on nothing
const MAX_TARGET = 300 * MS;
const GROW_STEP = 20 * MS;
const SHRINK_STEP = 10 * MS;
const SHRINK_AFTER = 10 * sampleRate; // calm samples before each shrink step
const EXCESS_WINDOW = 2 * sampleRate; // judge the fill's minimum over this span
const EXCESS_SLACK = 40 * MS; // tolerated fill above target before dropping, at most the floor
const CAPACITY = 2 * sampleRate; // never hold more than 2 s
const REPORT_EVERY = sampleRate / 4;

class PuentePlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const asked = options && options.processorOptions ? options.processorOptions.minTargetMs : undefined;
    this.floor = Number.isFinite(asked) ? Math.min(MAX_TARGET, Math.max(FLOOR_LOWEST, asked * MS)) : MIN_TARGET;
    // The standing excess allowed is no larger than the floor: with a small
    // floor, 40 ms of excess would cost more delay than the floor saves.
    this.slack = Math.min(EXCESS_SLACK, this.floor);
    this.ring = new Float32Array(CAPACITY);
    this.read = 0;
    this.fill = 0;
    this.target = this.floor;
    this.playing = false;
    this.underruns = 0;
    this.dropped = 0; // samples discarded to keep the delay bounded
    this.calm = 0; // samples played since the last underrun or shrink
    this.windowLeft = EXCESS_WINDOW;
    this.windowMin = Infinity;
    this.sinceReport = 0;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(msg) {
    if (msg.type === 'pcm') {
      this.push(msg.samples);
    } else if (msg.type === 'flush') {
      this.read = 0;
      this.fill = 0;
      this.playing = false;
      this.resetWindow();
    }
  }

  push(samples) {
    let src = samples;
    if (src.length > CAPACITY) src = src.subarray(src.length - CAPACITY);
    const overflow = this.fill + src.length - CAPACITY;
    if (overflow > 0) this.discard(overflow);
    let write = (this.read + this.fill) % CAPACITY;
    let off = 0;
    while (off < src.length) {
      const n = Math.min(src.length - off, CAPACITY - write);
      this.ring.set(src.subarray(off, off + n), write);
      off += n;
      write = (write + n) % CAPACITY;
    }
    this.fill += src.length;
  }

  discard(n) {
    this.read = (this.read + n) % CAPACITY;
    this.fill -= n;
    this.dropped += n;
  }

  resetWindow() {
    this.windowLeft = EXCESS_WINDOW;
    this.windowMin = Infinity;
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    const want = out.length;
    if (!this.playing && this.fill >= this.target) this.playing = true;
    if (!this.playing) {
      out.fill(0);
    } else if (this.fill < want) {
      this.copyOut(out, this.fill);
      out.fill(0, this.fill);
      this.fill = 0;
      this.underrun();
    } else {
      this.copyOut(out, want);
      this.fill -= want;
      this.adapt(want);
    }
    this.sinceReport += want;
    if (this.sinceReport >= REPORT_EVERY) this.report();
    return true;
  }

  copyOut(out, n) {
    const first = Math.min(n, CAPACITY - this.read);
    out.set(this.ring.subarray(this.read, this.read + first));
    if (first < n) out.set(this.ring.subarray(0, n - first), first);
    this.read = (this.read + n) % CAPACITY;
  }

  underrun() {
    this.underruns++;
    this.playing = false;
    this.target = Math.min(MAX_TARGET, this.target + GROW_STEP);
    this.calm = 0;
    this.resetWindow();
  }

  adapt(played) {
    this.calm += played;
    if (this.calm >= SHRINK_AFTER && this.target > this.floor) {
      this.target = Math.max(this.floor, this.target - SHRINK_STEP);
      this.calm = 0;
    }
    this.windowMin = Math.min(this.windowMin, this.fill);
    this.windowLeft -= played;
    if (this.windowLeft <= 0) {
      // The fill never went below windowMin for a whole window, so that much
      // above the target is delay we can drop without risking an underrun.
      const excess = this.windowMin - this.target;
      if (excess > this.slack) this.discard(Math.floor(excess));
      this.resetWindow();
    }
  }

  report() {
    this.sinceReport = 0;
    this.port.postMessage({
      type: 'stats',
      fillMs: this.fill / MS,
      targetMs: this.target / MS,
      underruns: this.underruns,
      droppedMs: this.dropped / MS,
    });
  }
}

registerProcessor('puente-player', PuentePlayer);
