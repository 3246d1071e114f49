// Shared helpers for the node tests: start and stop the relay binary, run a
// test with a hard deadline, speak the wire protocol as a listener (npm ws)
// and as a hand-rolled client over a raw socket.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { KIND_BUNDLE, packetsOf } from '../../core/web/lib/wire.js';
import { writeStore } from './invitations.mjs';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../..');

// protocol.h
export const HEADER_LEN = 16;
export const FLAG_DISCONT = 0x01;
export const FLAG_SILENCE = 0x02;
export const MAX_MESSAGE = 16384;
export const MAX_FRAGMENTS = 64;

// RFC 6455 opcodes
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;

const LISTEN_RE = /listening on http:\/\/127\.0\.0\.1:(\d+)\//;
const STDERR_KEEP = 64 * 1024;

// ---- options and dependencies ----------------------------------------------

// --relay PATH, --web-root DIR and --plugin-dir DIR (ctest passes them),
// else PUENTE_RELAY / PUENTE_WEB_ROOT / PUENTE_PLUGIN_DIR, else the usual
// build folder (plugins next to the relay's folder: build/plugins).
export function options(argv = process.argv.slice(2)) {
  const opt = {
    relay: process.env.PUENTE_RELAY || path.join(REPO, 'build/core/puente'),
    webRoot: process.env.PUENTE_WEB_ROOT || path.join(REPO, 'core/web'),
    pluginDir: process.env.PUENTE_PLUGIN_DIR || null,
  };
  const keys = { relay: 'relay', 'web-root': 'webRoot', 'plugin-dir': 'pluginDir' };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(relay|web-root|plugin-dir)(?:=(.*))?$/.exec(argv[i]);
    if (!m) throw new Error(`unknown argument ${argv[i]}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    opt[keys[m[1]]] = value;
  }
  if (!existsSync(opt.relay)) throw new Error(`relay binary not found: ${opt.relay}`);
  if (!opt.pluginDir) opt.pluginDir = path.join(path.dirname(path.dirname(path.resolve(opt.relay))), 'plugins');
  return opt;
}

// The npm packages are imported here rather than at the top of each test so
// a missing `npm ci` fails with one clear line instead of a resolver trace.
export async function need(name) {
  if (!existsSync(path.join(HERE, 'node_modules', name))) {
    throw new Error(`npm package '${name}' is missing: run \`npm ci\` in ${HERE} (the set-up script does)`);
  }
  return import(name);
}

// ---- test runner -------------------------------------------------------------

const cleanups = [];

// Runs fn with a hard deadline. The exit code is 1 unless fn resolves: a
// promise that never settles must not pass.
export function run(name, deadlineMs, fn) {
  process.exitCode = 1;
  const started = Date.now();
  const timer = setTimeout(() => finish(new Error(`timed out after ${deadlineMs} ms`)), deadlineMs);
  let done = false;
  async function finish(err) {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (err) console.error(`FAIL ${name}: ${err.stack || err}`);
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c(Boolean(err));
      } catch (e) {
        console.error(`cleanup: ${e.message}`);
      }
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    if (err) {
      console.log(`0 passed, 1 failed: ${name} (${secs} s)`);
      process.exit(1);
    }
    console.log(`1 passed, 0 failed: ${name} (${secs} s)`);
    process.exitCode = 0;
    process.exit(0);
  }
  Promise.resolve()
    .then(fn)
    .then(() => finish(null), finish);
}

// cleanup(failed) runs at the end in reverse order of registration.
export function onCleanup(fn) {
  cleanups.push(fn);
}

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// Polls pred() every stepMs until it returns truthy, at most ms in total.
export async function waitFor(pred, ms, what, stepMs = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() >= end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- the relay process -------------------------------------------------------

export const ROLES = ['listener', 'interpreter', 'captioner', 'technician', 'organiser'];

// Invitations as puente-token writes them (tests/node/invitations.mjs):
// perRole invitees "<role>-<n>" whose tokens the test keeps; the relay only
// sees their SHA-256. Returns {id: token}.
export function writeInvitations(dir, perRole = 4) {
  const ids = ROLES.flatMap((role) => Array.from({ length: perRole }, (_, n) => ({ id: `${role}-${n}`, role })));
  const store = writeStore(dir, ids);
  return { path: store.path, tokens: Object.fromEntries(ids.map((e) => [e.id, store.token(e.id)])) };
}

// Starts the relay. opts: relay, webRoot, port (default 0: a free one), args
// (extra flags), config (INI text written to a temp file, passed as --config).
export async function startRelay(opts) {
  const args = ['--port', String(opts.port ?? 0), '--bind', '127.0.0.1', '--web-root', opts.webRoot];
  if (opts.config !== undefined) {
    const file = path.join(tempDir('puente-conf-'), 'relay.ini');
    writeFileSync(file, opts.config);
    args.push('--config', file);
  }
  args.push(...(opts.args || []));
  // Unless the test sets up access itself: known invitations, and anonymous
  // listening allowed (most tests just listen).
  // invitesFrom: a relay restarted on the same invitations (pages keep their links).
  let tokens = {};
  if (opts.invitesFrom) {
    tokens = opts.invitesFrom.tokens;
    args.push('--invitees', opts.invitesFrom.invitees);
    args.push('--anonymous-listeners', 'yes');
  } else if (!args.some((a) => a.startsWith('--invitees'))) {
    const store = writeInvitations(tempDir('puente-invites-'));
    tokens = store.tokens;
    args.push('--invitees', store.path);
    if (!args.some((a) => a.startsWith('--anonymous-listeners'))) args.push('--anonymous-listeners', 'yes');
  }
  const proc = spawn(opts.relay, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  const relay = {
    proc,
    pid: proc.pid,
    args,
    stderr: '',
    exit: null, // {code, signal} once exited
    port: 0,
    tokens,
    invitees: args[args.indexOf('--invitees') + 1],
    token: (role, n = 0) => tokens[`${role}-${n}`],
    // The WebSocket URL, and a page's personal link, for role's n-th invitee.
    wsFor: (role, n = 0) => `${relay.ws}?t=${tokens[`${role}-${n}`]}`,
    pageFor: (page, role, n = 0) => `${relay.http}${page.replace(/^\//, '')}#t=${tokens[`${role}-${n}`]}`,
  };
  relay.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      relay.exit = { code, signal };
      resolve(relay.exit);
    });
  });
  proc.on('error', (err) => {
    relay.stderr += `\n[spawn error] ${err.message}`;
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    relay.stderr = (relay.stderr + d).slice(-STDERR_KEEP);
  });
  onCleanup(async (failed) => {
    await stopRelay(relay);
    if (failed) console.error(`---- relay stderr (pid ${relay.pid}, ${args.join(' ')}) ----\n${relay.stderr}`);
  });
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      const look = () => {
        const m = LISTEN_RE.exec(relay.stderr);
        if (m) resolve(Number(m[1]));
      };
      proc.stderr.on('data', look);
      relay.exited.then((e) => reject(new Error(`relay exited during start-up: ${JSON.stringify(e)}`)));
      look();
    }),
    10000,
    'the relay\'s "listening on" line',
  );
  relay.port = port;
  relay.http = `http://127.0.0.1:${port}/`;
  relay.ws = `ws://127.0.0.1:${port}/ws`;
  // Another process may hold a port we parsed from a stale line: make sure
  // it is ours answering.
  const res = await withTimeout(fetch(relay.http), 5000, 'GET / from the relay');
  check(res.ok, `GET / answered ${res.status}`);
  await res.arrayBuffer();
  return relay;
}

// SIGTERM, then SIGKILL if it has not gone within graceMs. Returns the exit.
export async function stopRelay(relay, graceMs = 5000) {
  if (relay.exit) return relay.exit;
  relay.proc.kill('SIGTERM');
  const timer = setTimeout(() => relay.proc.kill('SIGKILL'), graceMs);
  const e = await relay.exited;
  clearTimeout(timer);
  return e;
}

// The p-th percentile (0..100) of an array of numbers.
export function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ASan/UBSan/LSan reports go to stderr (and LSan's also into the exit code).
export function checkNoSanitizerReport(relay) {
  check(!/ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:/.test(relay.stderr), 'no sanitizer report on stderr');
}

// Stops the relay with SIGTERM and checks that it went cleanly.
export async function stopCleanly(relay) {
  const exit = await stopRelay(relay);
  checkNoSanitizerReport(relay);
  check(exit.code === 0 && exit.signal === null, `relay exit ${JSON.stringify(exit)}, expected code 0`);
  return exit;
}

export function rssKiB(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// ---- wire protocol -----------------------------------------------------------

// The packets of a binary message (Buffers): a bundle's one by one, anything
// else as it is, split by the pages' own wire.js. Only what claims to be a
// bundle is copied out for it: the timing tests take packets at full rate.
export function packets(buf) {
  if (buf.length < 2 || buf[1] !== KIND_BUNDLE) return [buf];
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  return packetsOf(ab).map((p) => (p === ab ? buf : Buffer.from(p)));
}

export function parseHeader(buf) {
  if (buf.length < HEADER_LEN) return null;
  return {
    version: buf[0],
    kind: buf[1],
    channel: buf[2],
    flags: buf[3],
    seq: buf.readUInt32BE(4),
    mediaTime: buf.readBigUInt64BE(8),
    payloadLen: buf.length - HEADER_LEN,
  };
}

// Counts what a listener must see: packets, seq gaps (a seq that is not the
// previous + 1 in a packet without DISCONT), DISCONT after the first packet.
// A bundle's packets count one by one; a malformed bundle is one bad message.
export class AudioTally {
  constructor() {
    this.packets = 0;
    this.gaps = 0;
    this.discontAfterFirst = 0;
    this.bad = 0; // malformed headers
    this.lastSeq = null;
    this.firstAt = 0;
    this.lastAt = 0;
    this.firstFlags = null;
  }

  // One binary message: the headers of its good packets.
  add(msg) {
    return packets(msg)
      .map((buf) => this.addPacket(buf))
      .filter((h) => h);
  }

  addPacket(buf) {
    const h = parseHeader(buf);
    if (!h || h.version !== 1 || h.kind !== 1 || h.payloadLen < 1) {
      this.bad++;
      return null;
    }
    const now = Date.now();
    if (this.packets === 0) {
      this.firstAt = now;
      this.firstFlags = h.flags;
    } else if (h.flags & FLAG_DISCONT) {
      this.discontAfterFirst++;
    } else if (h.seq !== ((this.lastSeq + 1) >>> 0)) {
      this.gaps++;
    }
    this.lastSeq = h.seq;
    this.lastAt = now;
    this.packets++;
    return h;
  }

  snapshot() {
    return { packets: this.packets, gaps: this.gaps, discontAfterFirst: this.discontAfterFirst, at: Date.now() };
  }
}

// A listener over npm ws: waits for core.welcome, says hello, subscribes,
// and tallies the audio. Control messages are queued for next(). Each
// packet's delay (README "Wire protocol", from the latest clock anchor) goes
// into delaysMs.
export async function listener(WebSocket, url, channel = 'floor', timeoutMs = 5000) {
  const ws = new WebSocket(url, 'puente.v1');
  const l = {
    ws,
    tally: new AudioTally(),
    welcome: null,
    subscribed: null,
    messages: [],
    waiters: [],
    close: null, // {code, reason}
    anchor: null, // {media_time, unix_us} from core.subscribed / core.clock
    delaysMs: [],
  };
  l.closed = new Promise((resolve) => {
    ws.on('close', (code, reason) => {
      l.close = { code, reason: reason.toString() };
      for (const w of l.waiters.splice(0)) w();
      resolve(l.close);
    });
  });
  ws.on('error', () => {}); // reported through 'close'
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      for (const h of l.tally.add(data)) {
        if (!l.anchor || l.delaysMs.length >= 1e6) break;
        const end = Number(h.mediaTime) + l.welcome.audio.frame_ms * 48 - l.anchor.media_time;
        l.delaysMs.push((Date.now() * 1000 - (l.anchor.unix_us + (end * 1e6) / 48000)) / 1000);
      }
      return;
    }
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      msg = { type: '(not json)', text: data.toString() };
    }
    if (msg.type === 'core.subscribed') l.anchor = msg.clock;
    if (msg.type === 'core.clock') l.anchor = msg;
    l.messages.push(msg);
    for (const w of l.waiters.splice(0)) w();
  });
  // Resolves with the next control message of the given type (or any type
  // when omitted), consuming the ones before it.
  l.next = (type, ms = timeoutMs) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const look = () => {
          while (l.messages.length) {
            const m = l.messages.shift();
            if (!type || m.type === type) return resolve(m);
          }
          if (l.close) return reject(new Error(`closed ${l.close.code} while waiting for ${type}`));
          l.waiters.push(look);
        };
        look();
      }),
      ms,
      `${type || 'any message'} on ${url}`,
    );
  l.send = (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  l.welcome = await l.next('core.welcome');
  l.send({ type: 'core.hello', role: 'listener', agent: 'puente-node-tests' });
  l.hello = await l.next('core.hello');
  if (channel) {
    l.send({ type: 'core.subscribe', channel });
    l.subscribed = await l.next('core.subscribed');
  }
  return l;
}

// ---- raw WebSocket client (for what npm ws refuses to send) -------------------

// Opens a TCP connection and performs the WebSocket upgrade by hand. The
// socket's data handler then parses server frames into frames[] and tallies
// the audio ones; trickle() limits how fast it reads.
export async function rawConnect(port, timeoutMs = 5000) {
  const sock = net.connect({ host: '127.0.0.1', port });
  const key = randomBytes(16).toString('base64');
  const c = { sock, frames: [], tally: new AudioTally(), bytes: 0, ended: false, close: null };
  c.ended_ = new Promise((resolve) => {
    sock.on('close', () => {
      c.ended = true;
      resolve();
    });
  });
  sock.on('error', () => {}); // reported through 'close'
  await withTimeout(new Promise((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  }), timeoutMs, 'TCP connect');
  sock.write(
    'GET /ws HTTP/1.1\r\n' +
      `Host: 127.0.0.1:${port}\r\n` +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: puente.v1\r\n' +
      '\r\n',
  );
  let buf = Buffer.alloc(0);
  await withTimeout(
    new Promise((resolve, reject) => {
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.off('data', onData);
        const head = buf.subarray(0, end).toString('latin1');
        if (!/^HTTP\/1\.1 101 /.test(head)) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        buf = buf.subarray(end + 4);
        resolve();
      };
      sock.on('data', onData);
      sock.once('close', () => reject(new Error('closed during upgrade')));
    }),
    timeoutMs,
    'WebSocket upgrade',
  );
  const onFrames = (d) => {
    c.bytes += d.length;
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      const f = parseFrame(buf);
      if (!f) break;
      buf = buf.subarray(f.size);
      c.frames.push(f);
      if (f.opcode === OP_BINARY) c.tally.add(f.payload);
      if (f.opcode === OP_CLOSE && !c.close) {
        c.close = { code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005 };
      }
    }
  };
  sock.on('data', onFrames);
  if (buf.length) {
    const rest = buf;
    buf = Buffer.alloc(0);
    onFrames(rest);
  }
  c.send = (opcode, payload, opts) => sock.write(frame(opcode, payload, opts));
  // From now on read at most bytesPerSec: node stops reading from the kernel
  // once its own small buffer is full, so TCP pushes back on the relay.
  c.trickle = (bytesPerSec) => {
    sock.off('data', onFrames);
    sock.pause();
    const tick = 50;
    const timer = setInterval(() => {
      const n = Math.min(sock.readableLength, Math.ceil((bytesPerSec * tick) / 1000));
      const d = n > 0 ? sock.read(n) : null;
      if (d) onFrames(d);
    }, tick);
    sock.once('close', () => clearInterval(timer));
    // The returned function goes back to reading at full speed.
    return () => {
      clearInterval(timer);
      sock.on('data', onFrames); // resume() passes what node holds through here first
      sock.resume();
    };
  };
  return c;
}

// One client frame. opts.fin (default true), opts.mask (default true),
// opts.length (announced payload length, to lie about it).
export function frame(opcode, payload = Buffer.alloc(0), opts = {}) {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const len = opts.length ?? BigInt(payload.length);
  const b0 = (fin ? 0x80 : 0) | opcode;
  let head;
  if (len < 126n) {
    head = Buffer.from([b0, (mask ? 0x80 : 0) | Number(len)]);
  } else if (len < 65536n) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = (mask ? 0x80 : 0) | 126;
    head.writeUInt16BE(Number(len), 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

// One server frame from the front of buf, or null if incomplete.
export function parseFrame(buf) {
  if (buf.length < 2) return null;
  const fin = (buf[0] & 0x80) !== 0;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  if (masked) off += 4; // servers must not mask; tolerate it for parsing
  if (buf.length < off + len) return null;
  let payload = buf.subarray(off, off + len);
  if (masked) {
    const key = buf.subarray(off - 4, off);
    payload = Buffer.from(payload);
    for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  }
  return { fin, opcode, payload, size: off + len };
}
