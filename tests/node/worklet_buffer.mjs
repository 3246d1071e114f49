// The listener page's jitter buffer (core/web/player-worklet.js), run in a
// plain VM context with a stand-in AudioWorklet scope and a simulated
// network: steady packets play in order at the minimum delay, jitter grows
// the buffer (never past its cap), calm shrinks it again, a faster sender
// cannot grow the delay without bound, and a flush rebuffers. The page's
// ?buffer= floor (processorOptions.minTargetMs) sets where it starts and
// shrinks back to, within 10..300 ms.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';

import { REPO, check, run } from './relay.mjs';

const RATE = 48000;
const QUANTUM = 128; // samples per process() call, as in Web Audio
const FRAME = 960; // 20 ms packets
const ms = (n) => (n * RATE) / 1000;

function loadPlayer(options = undefined) {
  const src = readFileSync(path.join(REPO, 'core/web/player-worklet.js'), 'utf8');
  let Player = null;
  const scope = {
    sampleRate: RATE,
    AudioWorkletProcessor: class {
      constructor() {
        this.port = { onmessage: null, postMessage: (m) => (this.lastReport = m) };
      }
    },
    registerProcessor: (name, cls) => {
      if (name === 'puente-player') Player = cls;
    },
  };
  vm.runInNewContext(src, scope, { filename: 'player-worklet.js' });
  check(Player, 'player-worklet.js registers puente-player');
  return new Player(options);
}

// Drives one player for durationMs. arrivalMs(i) says when packet i arrives
// (packets carry a running sample counter from startSample, exact in float32
// below 2^24, so order is checkable). Returns
// what the listener would have heard and the player's own view.
function simulate(p, durationMs, arrivalMs, startSample = 0) {
  const out = [new Float32Array(QUANTUM)];
  const heard = [];
  let next = 0;
  const quanta = Math.floor(ms(durationMs) / QUANTUM);
  let maxTargetMs = 0;
  let maxFillMs = 0;
  for (let q = 0; q < quanta; q++) {
    const now = (q * QUANTUM * 1000) / RATE;
    while (arrivalMs(next) <= now) {
      const samples = new Float32Array(FRAME);
      for (let k = 0; k < FRAME; k++) samples[k] = startSample + next * FRAME + k + 1; // 0 means silence
      p.port.onmessage({ data: { type: 'pcm', samples } });
      next++;
    }
    p.process([], [out]);
    for (const x of out[0]) heard.push(x);
    maxTargetMs = Math.max(maxTargetMs, p.target / ms(1));
    maxFillMs = Math.max(maxFillMs, p.fill / ms(1));
  }
  return { heard, sent: next, maxTargetMs, maxFillMs, targetMs: p.target / ms(1), underruns: p.underruns };
}

// Arrival times with a stall at the start of every second: stall j holds
// back every packet due in its first lengthMs(j) ms, then releases them.
function stalls(lengthMs) {
  return (i) => {
    const j = Math.floor(i / 50);
    const len = lengthMs(j);
    return (i % 50) * 20 < len ? Math.max(i * 20, j * 1000 + len) : i * 20;
  };
}

run('worklet_buffer', 30000, () => {
  // 1. A steady network: in order, no underrun, at the 60 ms minimum.
  {
    const p = loadPlayer();
    const r = simulate(p, 5000, (i) => i * 20);
    const audible = r.heard.filter((x) => x !== 0);
    let ordered = true;
    for (let k = 1; k < audible.length; k++) if (audible[k] !== audible[k - 1] + 1) ordered = false;
    // Delay of a sample: from its packet's arrival until it is played.
    let maxDelayMs = 0;
    r.heard.forEach((x, k) => {
      if (x !== 0) maxDelayMs = Math.max(maxDelayMs, (k * 1000) / RATE - Math.floor((x - 1) / FRAME) * 20);
    });
    console.log(`steady: delay ${maxDelayMs.toFixed(1)} ms, ${r.underruns} underruns, target ${r.targetMs} ms`);
    check(ordered && audible[0] === 1, 'steady: every sample once, in order');
    check(r.underruns === 0, `steady: ${r.underruns} underruns`);
    check(maxDelayMs >= 55 && maxDelayMs <= 65, `steady: delay ~60 ms (${maxDelayMs.toFixed(1)})`);
    check(r.targetMs === 60, `steady: target stays 60 ms (${r.targetMs})`);
  }

  // 2. Stalls of growing length: each one longer than the buffer can ride
  // out is an underrun, and each underrun grows the buffer.
  const p = loadPlayer();
  {
    simulate(p, 2000, (i) => i * 20);
    const r = simulate(p, 10000, stalls((j) => 100 + 50 * j), 1e6);
    console.log(`stalls 100..550 ms: ${r.underruns} underruns, target grew to ${r.maxTargetMs} ms`);
    check(r.underruns >= 3 && r.targetMs > 60, 'stalls: underruns make the buffer grow');
    const again = simulate(p, 10000, stalls(() => 550), 2e6);
    console.log(`550 ms stalls again: ${again.underruns - r.underruns} more underruns in 10 s`);
    check(again.underruns - r.underruns <= 1, 'stalls: the grown buffer rides them out');
  }

  // 3. Calm again: the target shrinks back, slowly, and the fill follows.
  {
    const before = p.target / ms(1);
    const r = simulate(p, 60000, (i) => i * 20, 3e6);
    console.log(`calm: target ${before} -> ${r.targetMs} ms in 60 s, fill now ${(p.fill / ms(1)).toFixed(0)} ms`);
    check(r.targetMs < before && r.targetMs >= 60, 'calm: the target shrinks, not below 60 ms');
    check(before - r.targetMs <= 60, 'calm: ... slowly');
    check(p.fill / ms(1) <= r.targetMs + 60, 'calm: excess buffered audio was dropped');
  }

  // 3b. A starved stream (half the packets) underruns over and over: the
  // target stops at its 300 ms cap.
  {
    const q = loadPlayer();
    const r = simulate(q, 30000, (i) => i * 40);
    console.log(`starved: ${r.underruns} underruns, target ${r.maxTargetMs} ms at most`);
    check(r.underruns > 10 && r.maxTargetMs === 300, `starved: target capped at 300 ms (${r.maxTargetMs})`);
  }

  // 4. A sender 1% fast (clock drift): the delay stays bounded.
  {
    const q = loadPlayer();
    const r = simulate(q, 60000, (i) => i * 19.8);
    console.log(`drift +1%: max fill ${r.maxFillMs.toFixed(0)} ms, target ${r.targetMs} ms`);
    check(r.maxFillMs < 200, `drift: fill bounded (${r.maxFillMs.toFixed(0)} ms)`);
  }

  // 5. Flush: nothing old plays after it, and it rebuffers to the target.
  {
    const q = loadPlayer();
    simulate(q, 1000, (i) => i * 20);
    q.port.onmessage({ data: { type: 'flush' } });
    check(q.fill === 0, 'flush empties the buffer');
    const r = simulate(q, 1000, (i) => i * 20, 1e7);
    const audible = r.heard.filter((x) => x !== 0);
    check(audible[0] === 1e7 + 1, `after flush the first sample is new (${audible[0]})`);
    check(r.underruns === 0, 'flush is not an underrun');
  }

  // 6. A floor of 40 ms asked by the page: a steady network plays at ~40 ms
  // without underruns; stalls still grow it, and calm brings it back to 40,
  // not to the default 60. Out-of-range floors are clamped.
  {
    const q = loadPlayer({ processorOptions: { minTargetMs: 40 } });
    const r = simulate(q, 5000, (i) => i * 20);
    let maxDelayMs = 0;
    r.heard.forEach((x, k) => {
      if (x !== 0) maxDelayMs = Math.max(maxDelayMs, (k * 1000) / RATE - Math.floor((x - 1) / FRAME) * 20);
    });
    console.log(`floor 40: delay ${maxDelayMs.toFixed(1)} ms, ${r.underruns} underruns, target ${r.targetMs} ms`);
    check(r.underruns === 0 && r.targetMs === 40, `floor 40: no underrun, target 40 (${r.underruns}, ${r.targetMs})`);
    check(maxDelayMs >= 35 && maxDelayMs <= 45, `floor 40: delay ~40 ms (${maxDelayMs.toFixed(1)})`);
    const s2 = simulate(q, 5000, stalls(() => 150), 1e6);
    check(s2.maxTargetMs > 40, `floor 40: stalls grow the target (${s2.maxTargetMs})`);
    const c = simulate(q, 120000, (i) => i * 20, 2e6);
    check(c.targetMs === 40, `floor 40: calm shrinks the target back to 40 (${c.targetMs})`);
    check(loadPlayer({ processorOptions: { minTargetMs: 1 } }).target === ms(10), 'a floor below 10 ms is 10 ms');
    check(loadPlayer({ processorOptions: { minTargetMs: 5000 } }).target === ms(300), 'a floor above 300 ms is 300 ms');
    check(loadPlayer({ processorOptions: {} }).target === ms(60), 'no floor asked: 60 ms');
  }
});
