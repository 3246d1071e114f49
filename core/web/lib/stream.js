// One stream of Opus packets played out: a WebCodecs AudioDecoder feeding a
// 'puente-player' AudioWorklet node (../player-worklet.js, the adaptive
// jitter buffer). The listener page uses one for the channel it hears and
// one for the "original underneath"; the booth page one for its source.

import { FLAG_DISCONT, HEADER_LEN, SAMPLE_RATE } from './wire.js';

export const HAVE_WEBCODECS = typeof AudioDecoder !== 'undefined';
// Bare mono Opus packets need no description (no OpusHead) in WebCodecs.
export const DECODER_CONFIG = { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1 };
const MAX_DECODE_QUEUE = 25; // 0.5 s of 20 ms packets waiting: decoding stalled

const workletLoads = new WeakMap(); // AudioContext -> Promise

// Loads the player worklet into ctx, once per context.
export function loadPlayer(ctx) {
  let p = workletLoads.get(ctx);
  if (!p) {
    p = ctx.audioWorklet.addModule(new URL('../player-worklet.js', import.meta.url));
    workletLoads.set(ctx, p);
  }
  return p;
}

// Resolves {supported} for the decoder this page needs, false on any doubt.
export async function decoderSupported() {
  if (!HAVE_WEBCODECS) return false;
  try {
    return (await AudioDecoder.isConfigSupported(DECODER_CONFIG)).supported === true;
  } catch {
    return false;
  }
}

export class OpusStream {
  // ctx: an AudioContext that loadPlayer() has finished with; destination:
  // the AudioNode the decoded audio goes into; minTargetMs: the jitter
  // buffer's floor (player-worklet.js), its default when undefined.
  constructor(ctx, destination, minTargetMs = undefined) {
    this.stats = { packets: 0, gaps: 0, decodeErrors: 0, underruns: 0, fillMs: 0, targetMs: 0 };
    this.lastSeq = null;
    this.decoder = null;
    this.node = new AudioWorkletNode(ctx, 'puente-player', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { minTargetMs },
    });
    this.node.port.onmessage = (e) => {
      if (e.data.type !== 'stats') return;
      this.stats.fillMs = e.data.fillMs;
      this.stats.targetMs = e.data.targetMs;
      this.stats.underruns = e.data.underruns;
    };
    this.node.connect(destination);
  }

  // A binary message (header already parsed by wire.parseHeader): counts it,
  // checks its seq, and decodes its payload.
  push(header, buf) {
    this.stats.packets++;
    if (header.flags & FLAG_DISCONT) this.resync();
    else if (this.lastSeq !== null && header.seq !== ((this.lastSeq + 1) >>> 0)) this.stats.gaps++;
    this.lastSeq = header.seq;
    this.decode(new Uint8Array(buf, HEADER_LEN), header.mediaTime);
  }

  decode(payload, mediaTime) {
    if (!HAVE_WEBCODECS) return; // the page reports it once
    if (!this.decoder || this.decoder.state !== 'configured') this.makeDecoder();
    // The decoder fell behind (a throttled tab): start over rather than queue
    // without bound and play stale audio later.
    if (this.decoder.decodeQueueSize > MAX_DECODE_QUEUE) this.resync();
    try {
      this.decoder.decode(
        new EncodedAudioChunk({
          type: 'key',
          timestamp: Math.round((mediaTime * 1e6) / SAMPLE_RATE),
          data: payload,
        }),
      );
    } catch {
      this.stats.decodeErrors++;
      this.makeDecoder();
    }
  }

  makeDecoder() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = new AudioDecoder({
      output: (data) => this.decoded(data),
      // A failed decode closes the decoder; the next packet builds a new one.
      error: () => {
        this.stats.decodeErrors++;
      },
    });
    this.decoder.configure(DECODER_CONFIG);
  }

  decoded(data) {
    const pcm = new Float32Array(data.numberOfFrames);
    data.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
    data.close();
    if (this.node) this.node.port.postMessage({ type: 'pcm', samples: pcm }, [pcm.buffer]);
  }

  // After a discontinuity nothing queued belongs before the next packet:
  // drop pending decodes and the buffered audio, and restart the seq check.
  resync() {
    this.lastSeq = null;
    if (this.decoder && this.decoder.state === 'configured') {
      this.decoder.reset();
      this.decoder.configure(DECODER_CONFIG);
    }
    if (this.node) this.node.port.postMessage({ type: 'flush' });
  }

  close() {
    if (this.decoder && this.decoder.state !== 'closed') this.decoder.close();
    this.decoder = null;
    if (this.node) {
      this.node.port.onmessage = null;
      this.node.disconnect();
      this.node = null;
    }
  }
}
