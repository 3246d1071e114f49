// The listener page: connects to the relay, lets the user pick a channel,
// decodes its Opus packets with WebCodecs and plays them through an
// AudioWorklet jitter buffer. Wire format: README "Wire protocol" and
// include/puente/protocol.h.
//
// Everything the relay sends is data: it reaches the DOM only through
// textContent or attribute values, never as markup.

import { initialLanguage, language, readStorage, setLanguage, t, writeStorage } from './i18n.js';

const SUBPROTOCOL = 'puente.v1';
const HEADER_LEN = 16;
const PROTO_VERSION = 1;
const KIND_OPUS = 1;
const FLAG_DISCONT = 0x01;
const SAMPLE_RATE = 48000;

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const STABLE_MS = 10000; // a connection this old resets the backoff
const PING_AFTER_MS = 8000; // quiet this long: ask the relay for a sign of life
const DEAD_AFTER_MS = 20000; // quiet this long: the connection is gone
const MAX_DECODE_QUEUE = 25; // 0.5 s of 20 ms packets waiting: decoding stalled
const LEVEL_EVERY_MS = 50;

const HAVE_WEBCODECS = typeof AudioDecoder !== 'undefined';
// Bare mono Opus packets need no description (no OpusHead) in WebCodecs.
const DECODER_CONFIG = { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1 };

const $ = (id) => document.getElementById(id);

// Read by the browser tests; also handy from the devtools console.
const stats = {
  packets: 0,
  gaps: 0,
  decodeErrors: 0,
  level: 0,
  state: 'connecting',
  channel: null,
  delayMs: null,
  bufferMs: 0,
  underruns: 0,
};
window.puenteStats = stats;

const conn = {
  ws: null,
  attempt: 0,
  openedAt: 0,
  lastRx: 0,
  welcome: null, // the current connection's core.welcome
  sourceLost: false,
  retryAt: 0,
  retryTimer: 0,
};

const player = {
  wanted: false, // the user pressed play
  ctx: null,
  ready: null, // promise: audio graph built
  node: null,
  gain: null,
  analyser: null,
  levelBuf: null,
  decoder: null,
  subscribed: null, // {name, index, label} once core.subscribed arrived
  target: null, // channel name we asked for
  anchor: null, // {media_time, unix_us} room clock anchor
  lastSeq: null,
  netDelayMs: null,
  fillMs: 0,
  targetMs: 0,
};

let alertMsg = null; // {key, params}: kept so a language switch re-renders it

// ---- connection -----------------------------------------------------------

function connect() {
  clearTimeout(conn.retryTimer);
  conn.retryAt = 0;
  conn.welcome = null;
  setState('connecting');
  const url = new URL('/ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, SUBPROTOCOL);
  ws.binaryType = 'arraybuffer';
  conn.ws = ws;
  ws.onopen = () => {
    conn.openedAt = Date.now();
    conn.lastRx = conn.openedAt;
    send({ type: 'core.hello', role: 'listener', agent: 'puente-web' });
  };
  ws.onmessage = (ev) => {
    conn.lastRx = Date.now();
    if (typeof ev.data === 'string') onControl(ev.data);
    else onAudio(ev.data);
  };
  ws.onclose = (ev) => onClosed(ev.code);
}

function send(msg) {
  if (conn.ws && conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(msg));
}

function onClosed(code) {
  conn.ws = null;
  conn.welcome = null;
  player.subscribed = null;
  stats.channel = null;
  if (code !== 1000 && code !== 1005 && code !== 1006) {
    const specific = `err_closed_${code}`;
    showAlert(t(specific) === specific ? 'err_closed' : specific, { code });
  }
  if (conn.openedAt && Date.now() - conn.openedAt >= STABLE_MS) conn.attempt = 0;
  conn.openedAt = 0;
  // 1, 2, 4 ... 30 s, each ±25 %, so a room full of listeners cut off at
  // once does not come back in lockstep.
  const step = BACKOFF_FIRST_MS * 2 ** Math.min(conn.attempt, 5);
  conn.attempt++;
  const delay = Math.min(BACKOFF_MAX_MS, step * (0.75 + Math.random() * 0.5));
  conn.retryAt = Date.now() + delay;
  conn.retryTimer = setTimeout(connect, delay);
  setState('reconnecting');
  resync();
}

// A peer that vanished without a FIN is only noticed by silence: subscribed
// clients hear from the relay 50 times a second, idle ones get a pong.
function checkAlive() {
  const ws = conn.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const quiet = Date.now() - conn.lastRx;
  if (quiet > DEAD_AFTER_MS) {
    ws.onclose = null;
    ws.onmessage = null;
    ws.close();
    onClosed(1006);
  } else if (quiet > PING_AFTER_MS) {
    send({ type: 'core.ping', id: Date.now() });
  }
}

function onControl(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return;
  }
  if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return;
  switch (msg.type) {
    case 'core.welcome':
      onWelcome(msg);
      break;
    case 'core.subscribed':
      onSubscribed(msg);
      break;
    case 'core.unsubscribed':
      player.subscribed = null;
      stats.channel = null;
      setState(stateNow());
      break;
    case 'core.clock':
      if (player.subscribed) setAnchor(msg);
      break;
    case 'core.source':
      conn.sourceLost = msg.state === 'lost';
      setState(stateNow());
      break;
    case 'core.error':
      showAlert('err_relay', { code: String(msg.code), message: String(msg.message ?? '') });
      break;
    default:
      // core.hello, core.pong and plugin messages need nothing here.
      break;
  }
}

function onWelcome(msg) {
  const room = msg.room && typeof msg.room === 'object' ? msg.room : {};
  const list = Array.isArray(room.channels) ? room.channels : [];
  conn.welcome = {
    room: typeof room.name === 'string' && room.name ? room.name : null,
    channels: list
      .map((c, index) => ({
        index,
        name: c && typeof c.name === 'string' ? c.name : '',
        label: c && typeof c.label === 'string' && c.label ? c.label : c && c.name,
        lang: c && typeof c.lang === 'string' && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(c.lang) ? c.lang : '',
      }))
      .filter((c) => c.name),
    frameSamples: (Number(msg.audio && msg.audio.frame_ms) || 20) * (SAMPLE_RATE / 1000),
  };
  conn.sourceLost = Boolean(msg.source && msg.source.state === 'lost');
  if (alertMsg && alertMsg.key.startsWith('err_closed')) clearAlert();
  renderRoom();
  setState(stateNow());
  if (player.wanted) subscribe();
}

function onSubscribed(msg) {
  const ch = conn.welcome && conn.welcome.channels.find((c) => c.name === msg.channel);
  if (!ch) return;
  // Another channel is another seq space and another stream of audio.
  if (player.subscribed && player.subscribed.index !== ch.index) resync();
  player.subscribed = ch;
  stats.channel = ch.name;
  if (msg.clock) setAnchor(msg.clock);
  clearAlert();
  setState(stateNow());
}

function setAnchor(clock) {
  const mt = Number(clock.media_time);
  const us = Number(clock.unix_us);
  if (Number.isFinite(mt) && Number.isFinite(us)) player.anchor = { media_time: mt, unix_us: us };
}

function subscribe() {
  const name = selectedChannel();
  if (!name || !conn.welcome) return;
  player.target = name;
  send({ type: 'core.subscribe', channel: name });
}

// ---- audio in -------------------------------------------------------------

function onAudio(buf) {
  if (buf.byteLength <= HEADER_LEN) return;
  const v = new DataView(buf);
  if (v.getUint8(0) !== PROTO_VERSION || v.getUint8(1) !== KIND_OPUS) return;
  const sub = player.subscribed;
  // Packets of a channel we just left are still in flight after a switch.
  if (!player.wanted || !sub || v.getUint8(2) !== sub.index) return;
  const flags = v.getUint8(3);
  const seq = v.getUint32(4);
  const mediaTime = v.getUint32(8) * 2 ** 32 + v.getUint32(12);
  stats.packets++;
  if (flags & FLAG_DISCONT) resync();
  else if (player.lastSeq !== null && seq !== ((player.lastSeq + 1) >>> 0)) stats.gaps++;
  player.lastSeq = seq;
  estimateDelay(mediaTime);
  decode(new Uint8Array(buf, HEADER_LEN), mediaTime);
}

// README "Wire protocol": delay = arrival - capture time of the packet's end.
function estimateDelay(mediaTime) {
  const a = player.anchor;
  if (!a || !conn.welcome) return;
  const captured = a.unix_us + ((mediaTime + conn.welcome.frameSamples - a.media_time) * 1e6) / SAMPLE_RATE;
  const ms = (Date.now() * 1000 - captured) / 1000;
  // Smoothed, because single packets jitter by the network's whims.
  player.netDelayMs = player.netDelayMs === null ? ms : player.netDelayMs + 0.05 * (ms - player.netDelayMs);
}

function decode(payload, mediaTime) {
  if (!HAVE_WEBCODECS) return; // already reported by init()
  if (!player.decoder || player.decoder.state !== 'configured') makeDecoder();
  // The decoder fell behind (a throttled tab): start over rather than queue
  // without bound and play stale audio later.
  if (player.decoder.decodeQueueSize > MAX_DECODE_QUEUE) resync();
  try {
    player.decoder.decode(
      new EncodedAudioChunk({
        type: 'key',
        timestamp: Math.round((mediaTime * 1e6) / SAMPLE_RATE),
        data: payload,
      }),
    );
  } catch {
    stats.decodeErrors++;
    makeDecoder();
  }
}

function makeDecoder() {
  if (player.decoder && player.decoder.state !== 'closed') player.decoder.close();
  player.decoder = new AudioDecoder({
    output: onDecoded,
    // A failed decode closes the decoder; the next packet builds a new one.
    error: () => {
      stats.decodeErrors++;
    },
  });
  player.decoder.configure(DECODER_CONFIG);
}

function onDecoded(data) {
  const pcm = new Float32Array(data.numberOfFrames);
  data.copyTo(pcm, { planeIndex: 0, format: 'f32-planar' });
  data.close();
  if (player.node) player.node.port.postMessage({ type: 'pcm', samples: pcm }, [pcm.buffer]);
}

// After a discontinuity nothing queued belongs before the next packet:
// drop pending decodes and the buffered audio, and restart the seq check.
function resync() {
  player.lastSeq = null;
  if (player.decoder && player.decoder.state === 'configured') {
    player.decoder.reset();
    player.decoder.configure(DECODER_CONFIG);
  }
  if (player.node) player.node.port.postMessage({ type: 'flush' });
}

// ---- audio out ------------------------------------------------------------

async function buildGraph() {
  const ctx = player.ctx;
  await ctx.audioWorklet.addModule('player-worklet.js');
  const node = new AudioWorkletNode(ctx, 'puente-player', {
    numberOfInputs: 0,
    numberOfOutputs: 1,
    outputChannelCount: [1],
  });
  node.port.onmessage = (e) => {
    if (e.data.type !== 'stats') return;
    player.fillMs = e.data.fillMs;
    player.targetMs = e.data.targetMs;
    stats.underruns = e.data.underruns;
    stats.bufferMs = Math.round(e.data.fillMs);
  };
  const gain = ctx.createGain();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  player.levelBuf = new Float32Array(analyser.fftSize);
  node.connect(gain).connect(analyser).connect(ctx.destination);
  player.node = node;
  player.gain = gain;
  player.analyser = analyser;
  applyVolume();
}

async function start() {
  player.wanted = true;
  renderPlayButton();
  try {
    if (!player.ctx) {
      // Created inside the click handler: browsers allow sound only after a
      // user gesture. 48 kHz matches Opus, so nothing is resampled by us.
      player.ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: 'interactive' });
      player.ready = buildGraph();
    }
    await player.ready;
    // Stop may have been pressed while the graph was being built.
    if (!player.wanted) return;
    await player.ctx.resume();
  } catch (err) {
    player.wanted = false;
    renderPlayButton();
    showAlert('err_audio', { message: err && err.message ? err.message : String(err) });
    return;
  }
  if (player.wanted && conn.welcome) subscribe();
}

function stop() {
  player.wanted = false;
  renderPlayButton();
  send({ type: 'core.unsubscribe' });
  player.subscribed = null;
  player.target = null;
  stats.channel = null;
  resync();
  if (player.ctx) player.ctx.suspend();
  setState(stateNow());
}

function applyVolume() {
  const v = Number($('volume').value) / 100;
  // Squared: loudness is perceived roughly logarithmically, and a linear
  // slider would put all the useful range in its first third.
  if (player.gain) player.gain.gain.value = v * v;
}

function measureLevel() {
  const meter = $('level');
  let rms = 0;
  if (player.analyser && player.wanted && player.ctx.state === 'running') {
    const buf = player.levelBuf;
    player.analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    rms = Math.sqrt(sum / buf.length);
  }
  stats.level = rms;
  meter.dataset.level = rms.toFixed(4);
  // The bar shows dBFS over a 60 dB range: speech lives far below 1.0 RMS.
  const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
  meter.value = Math.max(0, 1 + db / 60);
  meter.setAttribute('aria-valuetext', db > -60 ? t('level_text', { db: db.toFixed(0) }) : t('level_silent'));
}

// ---- state and rendering --------------------------------------------------

function stateNow() {
  if (!conn.ws || !conn.welcome) return conn.retryAt ? 'reconnecting' : 'connecting';
  return conn.sourceLost ? 'source-lost' : 'live';
}

function setState(state) {
  stats.state = state;
  $('state-dot').dataset.state = state;
  renderState();
}

function stateText() {
  switch (stats.state) {
    case 'connecting':
      return t('state_connecting');
    case 'reconnecting':
      return t('state_reconnecting');
    case 'source-lost':
      return t('state_source_lost');
    default:
      if (player.subscribed) return t('listening', { channel: player.subscribed.label });
      return player.wanted ? t('state_live') : t('stopped');
  }
}

// The state line is a polite live region: it changes only on transitions.
// The reconnect countdown ticks in a separate element that is not announced.
function renderState() {
  const text = stateText();
  const el = $('state');
  if (el.textContent !== text) el.textContent = text;
  const countdown = stats.state === 'reconnecting' && conn.retryAt
    ? t('countdown', { n: Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000)) })
    : '';
  $('countdown').textContent = countdown;
}

let renderedChannels = null; // what the radio group shows, to rebuild only on change

function renderRoom() {
  const w = conn.welcome;
  const heading = $('room-name');
  if (w.room) {
    // From now on the relay's name, not our translatable placeholder.
    heading.removeAttribute('data-i18n');
    heading.textContent = w.room;
  }
  $('channels-waiting').hidden = w.channels.length > 0;
  // Rebuilding after every reconnect would drop keyboard focus from the group.
  const key = JSON.stringify(w.channels);
  if (key === renderedChannels) return;
  renderedChannels = key;
  const list = $('channel-list');
  list.replaceChildren();
  const stored = readStorage('puente.channel');
  const chosen = w.channels.some((c) => c.name === player.target)
    ? player.target
    : w.channels.some((c) => c.name === stored)
      ? stored
      : w.channels[0] && w.channels[0].name;
  for (const ch of w.channels) {
    const label = document.createElement('label');
    label.className = 'channel';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'channel';
    input.value = ch.name;
    input.checked = ch.name === chosen;
    const text = document.createElement('span');
    text.textContent = ch.label;
    if (ch.lang) text.lang = ch.lang;
    label.append(input, text);
    list.append(label);
  }
}

function selectedChannel() {
  const input = document.querySelector('#channel-list input[name="channel"]:checked');
  return input ? input.value : null;
}

function renderPlayButton() {
  const btn = $('play');
  btn.textContent = t(player.wanted ? 'stop' : 'play');
  btn.classList.toggle('playing', player.wanted);
}

function renderStats() {
  $('stat-packets').textContent = String(stats.packets);
  $('stat-gaps').textContent = String(stats.gaps);
  $('stat-decode-errors').textContent = String(stats.decodeErrors);
  $('stat-underruns').textContent = String(stats.underruns);
  const live = player.wanted && player.subscribed;
  $('stat-buffer').textContent = live
    ? t('buffer_value', { fill: Math.round(player.fillMs), target: Math.round(player.targetMs) })
    : '–';
  if (live && player.netDelayMs !== null && player.ctx) {
    // What the ear hears: network and encoding, plus our buffer, plus the
    // audio output's own latency.
    const out = (player.ctx.outputLatency || player.ctx.baseLatency || 0) * 1000;
    const buf = player.fillMs + out;
    stats.delayMs = Math.round(player.netDelayMs + buf);
    $('stat-delay').textContent = t('delay_value', {
      total: stats.delayMs,
      net: Math.round(player.netDelayMs),
      buf: Math.round(buf),
    });
  } else {
    stats.delayMs = null;
    $('stat-delay').textContent = '–';
  }
  renderState();
}

function showAlert(key, params) {
  alertMsg = { key, params };
  $('alert').textContent = t(key, params);
}

function clearAlert() {
  alertMsg = null;
  $('alert').textContent = '';
}

function switchLanguage(lang) {
  setLanguage(lang, true);
  renderLanguage();
}

function renderLanguage() {
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.lang === language()));
  }
  renderPlayButton();
  renderState();
  renderStats();
  if (alertMsg) $('alert').textContent = t(alertMsg.key, alertMsg.params);
}

// ---- wiring ---------------------------------------------------------------

function init() {
  setLanguage(initialLanguage(), false);
  renderLanguage();
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.addEventListener('click', () => switchLanguage(btn.dataset.lang));
  }
  const storedVolume = Number(readStorage('puente.volume'));
  if (readStorage('puente.volume') !== null && storedVolume >= 0 && storedVolume <= 100) {
    $('volume').value = String(storedVolume);
  }
  $('volume').addEventListener('input', () => {
    applyVolume();
    writeStorage('puente.volume', $('volume').value);
  });
  $('play').addEventListener('click', () => (player.wanted ? stop() : start()));
  $('channel-list').addEventListener('change', (e) => {
    writeStorage('puente.channel', e.target.value);
    if (player.wanted) subscribe();
  });
  if (!HAVE_WEBCODECS) {
    showAlert('err_no_codec', {});
  } else {
    AudioDecoder.isConfigSupported(DECODER_CONFIG)
      .then((r) => {
        if (!r.supported) showAlert('err_no_codec', {});
      })
      .catch(() => showAlert('err_no_codec', {}));
  }
  // Back online: no reason to sit out the rest of the backoff.
  window.addEventListener('online', () => {
    if (!conn.ws) connect();
  });
  setInterval(measureLevel, LEVEL_EVERY_MS);
  setInterval(renderStats, 500);
  setInterval(checkAlive, 4000);
  connect();
}

init();
