// Audio rendering thread: cuts the microphone into 20 ms frames (960 mono
// samples at 48 kHz) and posts each to the main thread, which encodes it.
// Web Audio hands us 128-sample quanta; a frame spans 7.5 of them.
//
// Posts {type:'frame', samples: Float32Array(FRAME)}. The output stays
// silent: it only exists so the graph keeps pulling this node.

const FRAME = (sampleRate / 1000) * 20;

class PuenteCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.frame = new Float32Array(FRAME);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    // No channel: the source is not delivering (yet). Nothing to cut.
    if (!input) return true;
    let off = 0;
    while (off < input.length) {
      const n = Math.min(input.length - off, FRAME - this.fill);
      this.frame.set(input.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      if (this.fill === FRAME) {
        this.port.postMessage({ type: 'frame', samples: this.frame }, [this.frame.buffer]);
        this.frame = new Float32Array(FRAME);
        this.fill = 0;
      }
    }
    return true;
  }
}

registerProcessor('puente-capture', PuenteCapture);
