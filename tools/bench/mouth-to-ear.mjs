#!/usr/bin/env node
// Browser mouth-to-ear delay: clicks played into the relay's capture port
// (a private JACK server with the dummy driver, the relay capturing it
// through PortAudio as it would a sound card) against the instants the
// listener page in headless Chromium plays them. The README ("Browser
// mouth-to-ear delay") explains the clock and what the figure includes.
//
//   tools/bench/mouth-to-ear.mjs [--frame-ms 10|20] [--clicks N] ...
//
// Prints one key=value summary line (like puente-bench) and exits 0 when
// the measurement is valid (validity() below); 1 otherwise.
// The node test tests/node/browser_m2e.mjs runs measure() for a few clicks.

import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { launch, newPage } from '../../tests/node/browser.mjs';
import {
  REPO,
  check,
  need,
  onCleanup,
  percentile,
  run,
  sleep,
  startRelay,
  tempDir,
  waitFor,
  withTimeout,
} from '../../tests/node/relay.mjs';

const RATE = 48000;
const CLICK_LEVEL_DB = -6; // puente-m2e-click --level: the burst's peak
// Half the burst's peak: the clicker stamps the first input sample at this
// level, and the page's detector the first output sample.
const THRESHOLD = 0.5 * 10 ** (CLICK_LEVEL_DB / 20);
// Below threshold this long before a crossing counts as a new click: the
// 2 ms burst and the codec's ringing after it last far less, while a
// second detection of one click would come within it.
const QUIET_MS = 20;
const TAP_FILE = 'm2e-tap.js';

// The tap: an AudioWorklet sink on what the page sends to its destination,
// reporting the context frame of every click onset. The relay serves it
// from a copy of the web root, so the page loads it under its own CSP
// (same origin); a browser-side route does not reach worklet fetches.
const TAP_SOURCE = `
class M2eTap extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.threshold = options.processorOptions.threshold;
    this.quietNeed = options.processorOptions.quietFrames;
    this.quiet = 0;
    this.open = null; // the onset being followed for its peak
  }
  process(inputs) {
    const x = inputs[0] && inputs[0][0];
    const n = x ? x.length : 128;
    for (let i = 0; i < n; i++) {
      const a = x ? Math.abs(x[i]) : 0;
      if (this.open) {
        this.open.peak = Math.max(this.open.peak, a);
        if (currentFrame + i - this.open.frame >= this.quietNeed) {
          this.port.postMessage(this.open);
          this.open = null;
        }
      }
      if (a >= this.threshold) {
        if (this.quiet >= this.quietNeed && !this.open) this.open = { frame: currentFrame + i, peak: a };
        this.quiet = 0;
      } else {
        this.quiet++;
      }
    }
    return true;
  }
}
registerProcessor('m2e-tap', M2eTap);
`;

// Runs before the page's scripts: keeps the AudioContext the page makes,
// the nodes it connects to the destination (the output path, after the
// jitter buffer and the volume) and the jitter buffer's own reports.
function pageHooks() {
  const m2e = { ctx: null, feeds: [], jb: null, jbTargets: [], drops: [], stamps: [], hits: [] };
  window.__m2e = m2e;
  const Ctx = window.AudioContext;
  window.AudioContext = class extends Ctx {
    constructor(...args) {
      super(...args);
      m2e.ctx = this;
    }
  };
  const Node = window.AudioWorkletNode;
  window.AudioWorkletNode = class extends Node {
    constructor(ctx, name, options) {
      super(ctx, name, options);
      if (name !== 'puente-player') return;
      this.port.addEventListener('message', (e) => {
        if (e.data.type !== 'stats') return;
        m2e.jb = e.data;
        m2e.jbTargets.push(e.data.targetMs);
        // When the buffer threw audio away: a missed click may be in it.
        const last = m2e.drops[m2e.drops.length - 1];
        if (e.data.droppedMs > (last ? last.droppedMs : 0)) m2e.drops.push({ unixMs: Date.now(), droppedMs: e.data.droppedMs });
      });
    }
  };
  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (dest, ...rest) {
    if (dest instanceof AudioDestinationNode && !m2e.feeds.includes(this)) m2e.feeds.push(this);
    return connect.call(this, dest, ...rest);
  };
}

// In the page once it plays: the tap on every feed of the destination, and
// the context clock's mapping to the host clock sampled every 20 ms.
async function installTap({ path: tapPath, threshold, quietFrames }) {
  const m2e = window.__m2e;
  const ctx = m2e.ctx;
  await ctx.audioWorklet.addModule(tapPath);
  const tap = new AudioWorkletNode(ctx, 'm2e-tap', {
    numberOfInputs: 1,
    numberOfOutputs: 0,
    channelCount: 1,
    channelCountMode: 'explicit',
    processorOptions: { threshold, quietFrames },
  });
  for (const f of m2e.feeds) f.connect(tap);
  const stamp = () => {
    const ts = ctx.getOutputTimestamp();
    m2e.stamps.push({ at: performance.now(), ctxTime: ts.contextTime, perfTime: ts.performanceTime, currentTime: ctx.currentTime });
    if (m2e.stamps.length > 100) m2e.stamps.shift();
  };
  stamp();
  m2e.stampTimer = setInterval(stamp, 20);
  // Each onset: the context frame, mapped to the host clock through the
  // output timestamp nearest to it in context time (the frame's time at the
  // audio output; nearest, because a stalled audio thread shifts the
  // mapping and the message may arrive after such a stall), and through
  // currentTime (the frame's time when rendered, before the output's
  // latency) for comparison.
  tap.port.onmessage = (e) => {
    const t = e.data.frame / ctx.sampleRate;
    const s = m2e.stamps.reduce((a, b) => (Math.abs(b.ctxTime - t) < Math.abs(a.ctxTime - t) ? b : a));
    m2e.hits.push({
      frame: e.data.frame,
      peak: e.data.peak,
      outUnixMs: performance.timeOrigin + s.perfTime + (t - s.ctxTime) * 1000,
      renderUnixMs: performance.timeOrigin + s.at + (t - s.currentTime) * 1000,
    });
  };
  m2e.tap = tap;
  return { feeds: m2e.feeds.length, sampleRate: ctx.sampleRate, baseLatency: ctx.baseLatency, outputLatency: ctx.outputLatency };
}

// ---- JACK ------------------------------------------------------------------

function jackEnv(server) {
  return { ...process.env, JACK_DEFAULT_SERVER: server, JACK_NO_START_SERVER: '1' };
}

function jackAnswers(server) {
  const r = spawnSync('jack_lsp', [], { env: jackEnv(server), encoding: 'utf8', timeout: 2000 });
  return r.status === 0;
}

// A private jackd (dummy driver: a clock without a sound card), SCHED_FIFO
// when allowed, else --no-realtime. Stopped, and its /dev/shm files
// removed, at cleanup.
async function startJack(periodFrames) {
  const server = `puente-m2e-${process.pid}-${Math.floor(Math.random() * 1e9).toString(16)}`;
  let last = '';
  for (const mode of [['-R', '-P', '70'], ['--no-realtime']]) {
    const args = ['-n', server, ...mode, '-d', 'dummy', '-r', String(RATE), '-p', String(periodFrames)];
    const proc = spawn('jackd', args, { stdio: ['ignore', 'ignore', 'pipe'], env: jackEnv(server) });
    const jack = { proc, server, realtime: mode[0] === '-R', stderr: '', xruns: 0, exit: null };
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      jack.stderr = (jack.stderr + d).slice(-8192);
      // A client that missed its cycle: audio lost or late before the relay saw it.
      jack.xruns += (d.match(/xrun/gi) || []).length;
    });
    jack.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve((jack.exit = { code, signal }))));
    proc.on('error', (e) => (jack.stderr += `\n[spawn error] ${e.message}`));
    const stop = async () => {
      if (!jack.exit) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await jack.exited;
        clearTimeout(timer);
      }
      // A killed server leaves its socket and semaphores behind; the name is ours alone.
      for (const f of readdirSync('/dev/shm')) {
        if (f.startsWith(`jack_${server}_`) || f.includes(`_${server}_`)) rmSync(path.join('/dev/shm', f), { force: true });
      }
    };
    onCleanup(stop);
    try {
      await waitFor(() => jack.exit || jackAnswers(server), 8000, 'jackd answering', 100);
    } catch {
      // Not up in time: try the next mode.
    }
    if (!jack.exit && jackAnswers(server)) return jack;
    await stop();
    last = jack.stderr;
  }
  throw new Error(`jackd (the jackd2 package) did not start with the dummy driver in either mode:\n${last}`);
}

// PortAudio's JACK input device as `puente --list-devices` names it.
function jackInputDevice(relayBin, server) {
  const r = spawnSync(relayBin, ['--list-devices'], { env: jackEnv(server), encoding: 'utf8', timeout: 20000 });
  for (const line of (r.stdout || '').split('\n')) {
    const m = /^\s*\d+\s+(.+?)\s{2,}JACK Audio Connection Kit\s+in\s+(\d+)/.exec(line);
    if (m && Number(m[2]) > 0) return m[1];
  }
  throw new Error(`puente --list-devices shows no JACK input device:\n${r.stdout}${r.stderr}`);
}

// ---- matching and figures ----------------------------------------------------

// Each heard onset belongs to the latest click played before it. Clicks are
// further apart than the page's delay (its buffer is capped at 300 ms; a
// starved audio thread adds to that, so delays near the interval are
// counted apart and make the run invalid), so a click with no onset was
// missed and one with two was heard twice; an onset before the first click
// is a false detection.
export function matchClicks(clicks, hits, key = 'outUnixMs') {
  const per = clicks.map(() => []);
  let early = 0;
  for (const h of hits) {
    let k = -1;
    for (let i = 0; i < clicks.length; i++) if (clicks[i].unixMs < h[key]) k = i;
    if (k < 0) early++;
    else per[k].push(h[key] - clicks[k].unixMs);
  }
  return {
    delays: per.filter((d) => d.length === 1).map((d) => d[0]),
    missed: per.filter((d) => d.length === 0).length,
    missedAt: clicks.filter((c, i) => per[i].length === 0).map((c) => c.unixMs),
    extra: early + per.reduce((n, d) => n + Math.max(0, d.length - 1), 0),
  };
}

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'nan');

// ---- the measurement ---------------------------------------------------------

// opts: relay, webRoot, clicker (puente-m2e-click), frameMs, clicks,
// intervalMs, jackPeriod (frames), bufferMs (the page's ?buffer= floor,
// undefined for its default), log (function). Resolves with the figures.
export async function measure(opts) {
  const log = opts.log || (() => {});
  const { chromium } = await need('playwright-core');
  check(existsSync(opts.clicker), `puente-m2e-click not found at ${opts.clicker} (cmake builds it)`);

  const jack = await startJack(opts.jackPeriod);
  log(`jackd ${jack.server} up (${jack.realtime ? 'SCHED_FIFO' : 'no-realtime'}, period ${opts.jackPeriod} frames)`);
  const device = jackInputDevice(opts.relay, jack.server);
  const webRoot = tempDir('puente-m2e-web-');
  cpSync(opts.webRoot, webRoot, { recursive: true });
  writeFileSync(path.join(webRoot, TAP_FILE), TAP_SOURCE);
  const relay = await startRelay({
    relay: opts.relay,
    webRoot,
    env: jackEnv(jack.server),
    // No plugins: nothing between the capture and the floor channel.
    config: '[core]\nplugins =\n',
    args: ['--input', device, '--frame-ms', String(opts.frameMs)],
  });
  await waitFor(() => /capturing from '.*' \(JACK Audio Connection Kit\) at 48000 Hz/.test(relay.stderr), 8000, 'the relay capturing from JACK at 48 kHz');
  log(`relay pid ${relay.pid} on ${relay.http}, capturing '${device}', frame ${opts.frameMs} ms`);

  const { context } = await launch(chromium);
  const page = await newPage(context, 'listener');
  await page.addInitScript(pageHooks);
  await page.goto(opts.bufferMs === undefined ? relay.http : `${relay.http}?buffer=${opts.bufferMs}`);
  const stats = () => page.evaluate(() => ({ ...window.puenteStats }));
  await waitFor(async () => (await stats()).state === 'live', 10000, 'page state live');
  // Full volume: the gain is then 1 and the detector's threshold is half the click's peak.
  await page.evaluate(() => {
    const v = document.getElementById('volume');
    v.value = v.max;
    v.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.click('#play');
  await waitFor(async () => (await stats()).packets > 25, 10000, 'the page receiving the floor');
  const audio = await page.evaluate(installTap, { path: `/${TAP_FILE}`, threshold: THRESHOLD, quietFrames: (QUIET_MS * RATE) / 1000 });
  check(audio.feeds >= 1 && audio.sampleRate === RATE, `tap on the page's output: ${JSON.stringify(audio)}`);
  log(`tap on ${audio.feeds} feed(s) of the destination; baseLatency ${audio.baseLatency} s, outputLatency ${audio.outputLatency} s`);

  // The clicks. The clicker waits lead-ms after connecting, so the page's
  // buffer has settled on the capture's timing first.
  const clicker = spawn(
    opts.clicker,
    ['--clicks', String(opts.clicks), '--interval-ms', String(opts.intervalMs), '--level', String(CLICK_LEVEL_DB), '--lead-ms', '1500'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: jackEnv(jack.server) },
  );
  let out = '';
  let err = '';
  clicker.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  clicker.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const clickerExit = new Promise((resolve) => clicker.on('exit', (code, signal) => resolve({ code, signal })));
  onCleanup(() => {
    if (clicker.exitCode === null && clicker.signalCode === null) clicker.kill('SIGKILL');
  });
  const playMs = 1500 + opts.clicks * (opts.intervalMs + 3) + 15000;
  const exit = await withTimeout(clickerExit, playMs, 'puente-m2e-click playing its clicks');
  check(exit.code === 0, `puente-m2e-click exit ${JSON.stringify(exit)}: ${err}`);
  const clicks = [...out.matchAll(/^click n=(\d+) unix_us=([\d.]+) offset=(\d+) period=(\d+) late_us=(-?\d+)$/gm)].map(
    (m) => ({ n: Number(m[1]), unixMs: Number(m[2]) / 1000, lateUs: Number(m[5]) }),
  );
  check(clicks.length === opts.clicks, `puente-m2e-click reported ${clicks.length} of ${opts.clicks} clicks`);
  // Until every click is heard, or the last one had time to cross the
  // largest buffer the page can hold (300 ms, plus as much again of excess,
  // output and a starved audio thread).
  const lastMs = clicks[clicks.length - 1].unixMs;
  await waitFor(
    async () =>
      Date.now() > lastMs + 1500 ||
      (await page.evaluate((n) => window.__m2e.hits.length >= n, clicks.length)),
    3000,
    'the last click heard or given up on',
  );
  await sleep(100); // a second onset of the last click would come within 20 ms

  const pageState = await page.evaluate(() => {
    const m = window.__m2e;
    clearInterval(m.stampTimer);
    return {
      hits: m.hits,
      jb: m.jb,
      jbTargets: m.jbTargets,
      drops: m.drops,
      baseLatency: m.ctx.baseLatency,
      outputLatency: m.ctx.outputLatency,
      // The output instants are timeOrigin + performance time; the input
      // instants CLOCK_REALTIME, which Date.now() reads. Their difference
      // here is the error of that common clock.
      clockSkewMs: Date.now() - (performance.timeOrigin + performance.now()),
      stats: { ...window.puenteStats },
    };
  });
  check(page.problems.length === 0, `no page errors: ${page.problems.join('; ')}`);
  check(relay.exit === null && jack.exit === null, 'relay and jackd still running');
  check(!/input lost/.test(relay.stderr), 'the relay never lost its JACK input');

  const m = matchClicks(clicks, pageState.hits);
  // A missed click the page's buffer threw away: a drop was reported while
  // the click could have been in the buffer (its report comes up to 250 ms
  // after the drop; the buffer holds at most 300 ms plus the excess).
  const dropped = m.missedAt.filter((t) => pageState.drops.some((d) => d.unixMs > t && d.unixMs < t + 1000));
  const r = matchClicks(clicks, pageState.hits, 'renderUnixMs');
  const d = m.delays;
  const targets = pageState.jbTargets;
  return {
    frameMs: opts.frameMs,
    clicks: clicks.length,
    detected: d.length,
    missed: m.missed,
    missedInDrops: dropped.length,
    nearInterval: d.filter((x) => x > opts.intervalMs - 50).length,
    extra: m.extra,
    delays: d,
    p50: percentile(d, 50),
    p95: percentile(d, 95),
    p99: percentile(d, 99),
    max: d.length ? Math.max(...d) : NaN,
    min: d.length ? Math.min(...d) : NaN,
    renderP50: percentile(r.delays, 50),
    peakMin: pageState.hits.length ? Math.min(...pageState.hits.map((h) => h.peak)) : NaN,
    jbFloor: opts.bufferMs,
    jbTargetFirst: targets.length ? targets[0] : NaN,
    jbTarget: pageState.jb ? pageState.jb.targetMs : NaN,
    jbTargetMax: targets.length ? Math.max(...targets) : NaN,
    jbFill: pageState.jb ? pageState.jb.fillMs : NaN,
    underruns: pageState.jb ? pageState.jb.underruns : NaN,
    droppedMs: pageState.jb ? pageState.jb.droppedMs : NaN,
    baseLatencyMs: pageState.baseLatency * 1000,
    outputLatencyMs: pageState.outputLatency * 1000,
    pageEstimateMs: pageState.stats.delayMs,
    clockSkewMs: pageState.clockSkewMs,
    jackPeriodMs: (opts.jackPeriod * 1000) / RATE,
    jackRealtime: jack.realtime,
    jackXruns: jack.xruns,
    // How late the clicker's callback ran after its cycle began, which its
    // stamps correct for; stamps JACK had no cycle start for are not.
    clickerLateMaxMs: Math.max(0, ...clicks.map((c) => c.lateUs)) / 1000,
    stampsUncorrected: clicks.filter((c) => c.lateUs < 0).length,
  };
}

// Whether the figures can be trusted: nothing heard that was not played,
// no delay so long it could belong to the next click, and every click heard
// exactly once unless the page's buffer threw it away (the page then never
// played it: a fact about the page, not an error of the measurement).
export function validity(f) {
  const problems = [];
  if (f.extra) problems.push(`${f.extra} onsets matched no click or a click heard twice`);
  if (f.nearInterval) problems.push(`${f.nearInterval} delays within 50 ms of the interval: raise --interval-ms`);
  if (f.missed > f.missedInDrops) problems.push(`${f.missed - f.missedInDrops} clicks missed with no drop by the buffer to explain it`);
  if (!f.detected) problems.push('no click heard');
  return problems;
}

export function summaryLine(f) {
  return [
    `frame_ms=${f.frameMs}`,
    `clicks=${f.clicks}`,
    `detected=${f.detected}`,
    `missed=${f.missed}`,
    `missed_in_drops=${f.missedInDrops}`,
    `extra=${f.extra}`,
    `near_interval=${f.nearInterval}`,
    `p50_ms=${fmt(f.p50)}`,
    `p95_ms=${fmt(f.p95)}`,
    `p99_ms=${fmt(f.p99)}`,
    `max_ms=${fmt(f.max)}`,
    `min_ms=${fmt(f.min)}`,
    `render_p50_ms=${fmt(f.renderP50)}`,
    `jb_floor_ms=${f.jbFloor ?? 'default'}`,
    `jb_target_first_ms=${fmt(f.jbTargetFirst)}`,
    `jb_target_ms=${fmt(f.jbTarget)}`,
    `jb_target_max_ms=${fmt(f.jbTargetMax)}`,
    `jb_fill_ms=${fmt(f.jbFill)}`,
    `underruns=${f.underruns}`,
    `jb_dropped_ms=${fmt(f.droppedMs)}`,
    `base_latency_ms=${fmt(f.baseLatencyMs)}`,
    `output_latency_ms=${fmt(f.outputLatencyMs)}`,
    'output_latency_included=yes',
    `page_estimate_ms=${f.pageEstimateMs ?? 'none'}`,
    `page_clock_skew_ms=${fmt(f.clockSkewMs)}`,
    `jack_period_ms=${fmt(f.jackPeriodMs)}`,
    `jack_rt=${f.jackRealtime ? 'yes' : 'no'}`,
    `jack_xruns=${f.jackXruns}`,
    `clicker_late_max_ms=${f.clickerLateMaxMs.toFixed(2)}`,
    `stamps_uncorrected=${f.stampsUncorrected}`,
  ].join(' ');
}

// ---- command line ------------------------------------------------------------

function usage() {
  return `Usage: tools/bench/mouth-to-ear.mjs [OPTION]...
Mouth-to-ear delay from the relay's JACK input to the listener page in headless Chromium.

  --frame-ms 10|20       the relay's Opus frame (default 20)
  --clicks N             clicks to play, 1..1000 (default 20)
  --interval-ms MS       between clicks, 400..5000 (default 1000)
  --jack-period FRAMES   the JACK server's period at 48 kHz (default 256)
  --buffer-ms MS         open the page with ?buffer=MS: the jitter buffer's floor
                         (default: the page's own, 60 ms)
  --relay PATH           the relay binary (default build/core/puente)
  --clicker PATH         puente-m2e-click (default next to the relay: ../tools/)
  --web-root DIR         the listener page (default core/web)
  --per-click            also print every click's delay
The run is bounded: it gives up after 60 s plus the clicks' playing time.`;
}

function parseArgs(argv) {
  const o = {
    relay: path.join(REPO, 'build/core/puente'),
    clicker: null,
    webRoot: path.join(REPO, 'core/web'),
    frameMs: 20,
    clicks: 20,
    intervalMs: 1000,
    jackPeriod: 256,
    bufferMs: undefined,
    perClick: false,
  };
  const ints = { 'frame-ms': 'frameMs', clicks: 'clicks', 'interval-ms': 'intervalMs', 'jack-period': 'jackPeriod', 'buffer-ms': 'bufferMs' };
  const strs = { relay: 'relay', clicker: 'clicker', 'web-root': 'webRoot' };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    if (m && m[1] === 'help') {
      console.log(usage());
      process.exit(0);
    }
    if (m && m[1] === 'per-click') {
      o.perClick = true;
      continue;
    }
    if (!m || !(m[1] in ints || m[1] in strs)) throw new Error(`unknown argument ${argv[i]}\n${usage()}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    if (m[1] in ints) {
      if (!/^\d+$/.test(v)) throw new Error(`--${m[1]} needs a whole number, not ${v}`);
      o[ints[m[1]]] = Number(v);
    } else {
      o[strs[m[1]]] = v;
    }
  }
  if (![10, 20].includes(o.frameMs)) throw new Error('--frame-ms must be 10 or 20');
  if (o.clicks < 1 || o.clicks > 1000) throw new Error('--clicks must be 1..1000');
  if (o.intervalMs < 400 || o.intervalMs > 5000) throw new Error('--interval-ms must be 400..5000');
  if (o.jackPeriod < 16 || o.jackPeriod > 4096) throw new Error('--jack-period must be 16..4096');
  if (o.bufferMs !== undefined && (o.bufferMs < 10 || o.bufferMs > 300)) throw new Error('--buffer-ms must be 10..300');
  if (!o.clicker) o.clicker = path.join(path.dirname(path.dirname(path.resolve(o.relay))), 'tools/puente-m2e-click');
  check(existsSync(o.relay), `relay binary not found: ${o.relay}`);
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const deadline = 60000 + o.clicks * (o.intervalMs + 3);
  run('mouth-to-ear', deadline, async () => {
    const f = await measure({ ...o, log: (s) => console.error(s) });
    if (o.perClick) console.error(`delays_ms=${f.delays.map((x) => x.toFixed(1)).join(',')}`);
    console.log(summaryLine(f));
    const problems = validity(f);
    check(problems.length === 0, `a valid measurement: ${problems.join('; ')}`);
  });
}
