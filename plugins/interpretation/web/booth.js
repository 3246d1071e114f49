// The interpreter's booth page. It joins a booth of the interpretation
// plugin, plays the source the interpreter chooses (the floor, or another
// booth's channel for relay interpretation) and, while live, sends the
// microphone as Opus into the booth's current channel:
//
//   getUserMedia (no echo cancellation, noise suppression or AGC)
//     -> capture-worklet.js: 20 ms frames -> WebCodecs AudioEncoder (Opus,
//     48 kHz mono, 32 kbit/s) -> one binary message per packet, behind the
//     16-byte header of include/puente/protocol.h (the relay restamps seq
//     and media time on the room clock).
//
// Messages: README "Interpretation messages (interpretation.*)". Decoding,
// jitter buffer, connection and strings are the listener page's modules,
// served by the core at /. Server strings reach the DOM through textContent
// only.

import { addStrings, initialLanguage, language, languageName, readStorage, setLanguage, t, writeStorage } from '/i18n.js';
import { Access } from '/lib/access.js';
import { Link } from '/lib/link.js';
import { makeAnalyser, rmsOf, showLevel } from '/lib/meter.js';
import { HAVE_WEBCODECS, OpusStream, loadPlayer } from '/lib/stream.js';
import { FLAG_DISCONT, MAX_OPUS, SAMPLE_RATE, packFrame, packetsOf, parseHeader, parseWelcome } from '/lib/wire.js';
import { BOOTH_STRINGS } from './strings.js';

const FRAME_US = 20000;
const ENCODER_CONFIG = {
  codec: 'opus',
  sampleRate: SAMPLE_RATE,
  numberOfChannels: 1,
  bitrate: 32000,
  opus: { frameDuration: FRAME_US, useinbandfec: true },
};
// The same without the Opus block, for browsers that do not know it (their
// default frame is 20 ms too).
const ENCODER_CONFIG_PLAIN = { codec: 'opus', sampleRate: SAMPLE_RATE, numberOfChannels: 1, bitrate: 32000 };
// Unsent bytes the browser may hold (about 2 s of audio): past that the
// network is not keeping up, and late speech is worse than a gap.
const MAX_BUFFERED = 8192;
const MAX_ENCODE_QUEUE = 10;
const PLUGIN_WAIT_MS = 3000;
const LEVEL_EVERY_MS = 50;
const GAIN_STORAGE = 'puente.booth.volume';

const $ = (id) => document.getElementById(id);

// Read by the browser tests (window.puenteBooth); also handy in devtools.
const stats = {
  state: 'connecting', // connecting, reconnecting, ready, joined, no-plugin, refused
  live: false, // this interpreter is live
  sent: 0, // audio packets sent
  discontSent: 0, // ... of which flagged DISCONT (the first after a pause)
  level: 0, // microphone RMS
  client: null, // our client id (core.welcome)
  booth: null, // the booth we are in
  direction: null, // channel we speak into while live
  muted: false,
  cough: false,
  pending: null, // who asks for a handover in our booth
  hearing: null, // channel we hear
  received: 0, // audio packets received
  dropped: 0, // encoded packets not sent (network backlog, too big)
  encodeErrors: 0,
  decodeErrors: 0,
  sourceLevel: 0,
  mic: 'off', // off, on, error
  interp: null, // the latest interpretation.state
  notice: null, // the latest handover notice key
  errors: [], // core.error codes received (newest last, at most 20)
};
window.puenteBooth = stats;

const conn = {
  link: null,
  welcome: null,
  pluginTimer: 0,
  wantBooth: null, // the booth we joined and rejoin after a reconnect
  rejoining: false,
};

const audio = {
  ctx: null,
  ready: null,
  micStream: null,
  micAnalyser: null,
  capture: null,
  encoder: null,
  encoderConfig: null,
  samples: 0, // microphone samples captured: the encoder's clock
  seq: 0,
  // The last packet was not sent (muted, not live, dropped): the next one
  // sent is flagged DISCONT. A partner waiting for a handover sends all
  // along, so the relay gets its stream with no DISCONT at the switch.
  paused: true,
  stream: null, // OpusStream of the source
  sourceGain: null,
  sourceAnalyser: null,
  heardIndex: null,
};

let alertMsg = null; // {key, params}
let noticeMsg = null; // {key, params}
let iRequested = false; // we asked for a handover that is still open
let access = null; // what the page says about its personal link

// ---- connection -----------------------------------------------------------

function onOpen() {
  conn.link.send({ type: 'core.hello', role: 'interpreter', agent: 'puente-booth' });
}

function onClosed(code, opened) {
  conn.welcome = null;
  clearTimeout(conn.pluginTimer);
  const wasLive = stats.live;
  stats.interp = null;
  stats.live = false;
  stats.pending = null;
  stats.direction = null;
  stats.hearing = null;
  audio.heardIndex = null;
  audio.paused = true;
  if (audio.stream) audio.stream.resync();
  if (wasLive) notice('notice_live_lost');
  if (!access.closed(code, opened) && code !== 1000 && code !== 1005 && code !== 1006) {
    const specific = `err_closed_${code}`;
    showAlert(t(specific) === specific ? 'err_closed' : specific, { code });
  }
  setState(access.blocked ? 'closed' : 'reconnecting');
  render();
}

function onControl(msg) {
  switch (msg.type) {
    case 'core.welcome':
      conn.welcome = parseWelcome(msg);
      stats.client = conn.welcome.client;
      if (alertMsg && alertMsg.key.startsWith('err_closed')) clearAlert();
      access.welcome(conn.welcome.you);
      setState('connecting');
      break;
    case 'core.hello':
      if (msg.role !== 'interpreter') {
        setState('refused');
        showAlert('err_role', { message: String(msg.role ?? '') });
        break;
      }
      // The plugin greets every client with its state; without it there
      // are no booths to join.
      clearTimeout(conn.pluginTimer);
      if (!stats.interp) {
        conn.pluginTimer = setTimeout(() => {
          if (!stats.interp) {
            setState('no-plugin');
            showAlert('err_no_plugin', {});
          }
        }, PLUGIN_WAIT_MS);
      }
      break;
    case 'core.subscribed':
      onSubscribed(msg);
      break;
    case 'core.error':
      onError(msg);
      break;
    case 'interpretation.state':
      onInterpretationState(msg);
      break;
    case 'interpretation.handover':
      onHandover(msg);
      break;
    default:
      break;
  }
}

function onError(msg) {
  const code = String(msg.code ?? '');
  const ref = String(msg.ref ?? '');
  stats.errors.push(`${ref}:${code}`);
  if (stats.errors.length > 20) stats.errors.shift();
  if (ref === 'core.hello') {
    setState('refused');
    showAlert('err_role', { message: String(msg.message ?? code) });
  } else if (code === 'busy' && ref === 'interpretation.claim') {
    showAlert('err_busy', {});
  } else if (code === 'forbidden' && ['interpretation.join', 'interpretation.claim', 'interpretation.direction'].includes(ref)) {
    // We are an interpreter: what is forbidden is a booth our invitation does not name.
    showAlert('err_booth_forbidden', {});
  } else {
    showAlert('err_relay', { code, message: String(msg.message ?? '') });
  }
}

function onSubscribed(msg) {
  const ch = findChannel(msg.channel);
  stats.hearing = ch ? ch.name : null;
  if (ch && audio.heardIndex !== ch.index) {
    audio.heardIndex = ch.index;
    if (audio.stream) audio.stream.resync();
  }
  renderHearing();
}

// Everything in interpretation.state is checked before use: a booth with a
// missing field is shown with what is there, never trusted as markup.
function cleanState(msg) {
  const id = (v) => (Number.isSafeInteger(v) ? v : null);
  const str = (v) => (typeof v === 'string' ? v : null);
  const booths = (Array.isArray(msg.booths) ? msg.booths : [])
    .filter((b) => b && typeof b === 'object' && typeof b.id === 'string' && b.id)
    .map((b) => ({
      id: b.id,
      channels: (Array.isArray(b.channels) ? b.channels : []).filter((c) => typeof c === 'string'),
      live: id(b.live),
      direction: str(b.direction),
      muted: b.muted === true,
      pending: id(b.pending),
      partners: (Array.isArray(b.partners) ? b.partners : []).filter((p) => Number.isSafeInteger(p)),
    }));
  return {
    floor_language: str(msg.floor_language),
    suggested_floor: str(msg.suggested_floor),
    booths,
    // The booths our invitation allows; null (a relay without invitations): all.
    allowed: Array.isArray(msg.allowed_booths) ? msg.allowed_booths.filter((id) => typeof id === 'string') : null,
  };
}

// The booths the page offers: only those the invitation allows.
function offeredBooths() {
  if (!stats.interp) return [];
  const { booths, allowed } = stats.interp;
  return allowed ? booths.filter((b) => allowed.includes(b.id)) : booths;
}

function myBooth() {
  if (!stats.interp || stats.client === null) return null;
  return stats.interp.booths.find((b) => b.live === stats.client || b.partners.includes(stats.client)) || null;
}

function onInterpretationState(msg) {
  const first = !stats.interp;
  clearTimeout(conn.pluginTimer);
  if (alertMsg && alertMsg.key === 'err_no_plugin') clearAlert();
  stats.interp = cleanState(msg);
  const b = myBooth();
  const wasLive = stats.live;
  stats.booth = b ? b.id : null;
  stats.live = Boolean(b && b.live === stats.client);
  stats.direction = stats.live ? b.direction : null;
  stats.muted = stats.live && b.muted;
  stats.pending = b ? b.pending : null;
  if (!stats.pending) iRequested = false;
  // Lost the microphone without a handover notice (released by the
  // technician, or a relay restart): say so, loudly.
  if (wasLive && !stats.live && !(noticeMsg && noticeMsg.key === 'notice_done_from_me')) notice('notice_live_lost');
  setState(b ? 'joined' : 'ready');
  if (first && conn.wantBooth && !b && offeredBooths().some((o) => o.id === conn.wantBooth)) {
    // Back after a reconnect: sit in the same booth again, not live.
    join(conn.wantBooth, true);
  }
  render();
}

// interpretation.handover: "from" is the live interpreter, "to" the
// partner who asks or takes over.
function onHandover(msg) {
  const me = stats.client;
  const from = Number.isSafeInteger(msg.from) ? msg.from : null;
  const to = Number.isSafeInteger(msg.to) ? msg.to : null;
  const b = myBooth();
  switch (msg.state) {
    case 'requested':
      if (to === me) notice('notice_requested_by_me', { id: from ?? '?' });
      else if (from === me) notice('notice_requested_to_me', { id: to ?? '?' });
      break;
    case 'declined':
      if (to === me) notice('notice_declined_to_me', { id: from ?? '?' });
      else if (from === me) notice('notice_declined_by_me', {});
      if (to === me) iRequested = false;
      break;
    case 'done':
      if (to === me) {
        iRequested = false;
        // The state that makes us live may come after this notice.
        const dir = (b && b.direction) || stats.direction;
        notice('notice_done_to_me', { channel: channelLabel(dir) });
      } else if (from === me) {
        notice('notice_done_from_me', { id: to ?? '?' });
      } else {
        notice('notice_done_other', { id: to ?? '?' });
      }
      break;
    default:
      break;
  }
  render();
}

function findChannel(name) {
  return (conn.welcome && typeof name === 'string' && conn.welcome.channels.find((c) => c.name === name)) || null;
}

function channelLabel(name) {
  const ch = findChannel(name);
  return ch ? ch.label : String(name ?? '');
}

function floorName() {
  const w = conn.welcome;
  if (!w || !w.channels.length) return 'floor';
  return w.channels.some((c) => c.name === 'floor') ? 'floor' : w.channels[0].name;
}

// ---- actions --------------------------------------------------------------

async function join(boothId, quietly = false) {
  if (!boothId) return;
  conn.wantBooth = boothId;
  writeStorage('puente.booth', boothId);
  // Audio first: the click is the user gesture the browser wants for sound
  // and the microphone. A microphone that fails still lets the interpreter
  // listen; the error says why going live will send nothing.
  await ensureAudio();
  conn.link.send({ type: 'interpretation.join', booth: boothId });
  conn.link.send({ type: 'interpretation.source', channel: selectedSource() });
  if (quietly) notice('notice_rejoined', { booth: boothId });
}

function toggleLive() {
  if (!stats.booth) return showAlert('err_not_joined', {});
  clearAlert();
  if (stats.live) {
    conn.link.send({ type: 'interpretation.release' });
  } else {
    conn.link.send({ type: 'interpretation.claim', channel: selectedOutput() });
  }
}

function toggleMute() {
  if (!stats.live) return showAlert('err_not_live', {});
  stats.muted = !stats.muted; // now, so not one more packet goes out
  conn.link.send({ type: 'interpretation.mute', on: stats.muted });
  render();
}

let coughSent = false;

function cough(on) {
  if (on === stats.cough) return;
  stats.cough = on;
  if (on && stats.live) {
    conn.link.send({ type: 'interpretation.cough', on: true });
    coughSent = true;
  } else if (!on && coughSent) {
    conn.link.send({ type: 'interpretation.cough', on: false });
    coughSent = false;
  }
  render();
}

// The booth's next channel after ch (the other one, in a two-way booth).
function otherChannel(ch) {
  const b = myBooth() || boothById(selectedBooth());
  if (!b || b.channels.length < 2) return null;
  const i = b.channels.indexOf(ch);
  return b.channels[(i + 1) % b.channels.length];
}

function switchDirection() {
  if (stats.live) {
    const next = otherChannel(stats.direction);
    if (next) conn.link.send({ type: 'interpretation.direction', channel: next });
  } else {
    const next = otherChannel(selectedOutput());
    if (next) checkRadio('output', next);
    render();
  }
}

function handover() {
  const b = myBooth();
  if (!b) return showAlert('err_not_joined', {});
  if (stats.live && b.pending !== null) {
    conn.link.send({ type: 'interpretation.handover.accept' });
  } else if (!stats.live && b.live !== null && b.pending === null) {
    iRequested = true;
    conn.link.send({ type: 'interpretation.handover.request' });
  }
}

function decline() {
  const b = myBooth();
  if (stats.live && b && b.pending !== null) conn.link.send({ type: 'interpretation.handover.decline' });
}

// ---- audio: microphone out ------------------------------------------------

async function ensureAudio() {
  if (!audio.ready) audio.ready = buildAudio();
  return audio.ready;
}

async function buildAudio() {
  // Created in the join click: browsers start sound and the microphone only
  // after a user gesture. 48 kHz matches Opus: nothing is resampled by us.
  const ctx = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: 'interactive' });
  audio.ctx = ctx;
  await loadPlayer(ctx);
  audio.sourceGain = ctx.createGain();
  audio.sourceAnalyser = makeAnalyser(ctx);
  audio.sourceGain.connect(audio.sourceAnalyser).connect(ctx.destination);
  audio.stream = new OpusStream(ctx, audio.sourceGain);
  applyVolume();
  await ctx.resume();
  try {
    await startMicrophone(ctx);
    stats.mic = 'on';
  } catch (err) {
    stats.mic = 'error';
    showAlert('err_mic', { message: err && err.message ? err.message : String(err) });
  }
}

async function startMicrophone(ctx) {
  if (typeof AudioEncoder === 'undefined') throw new Error(t('err_encoder'));
  audio.encoderConfig = await pickEncoderConfig();
  if (!audio.encoderConfig) throw new Error(t('err_encoder'));
  await ctx.audioWorklet.addModule(new URL('capture-worklet.js', import.meta.url));
  // The booth's microphone as it is: the browser's voice processing is for
  // calls, and would pump the level and colour the interpretation.
  audio.micStream = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    video: false,
  });
  const src = ctx.createMediaStreamSource(audio.micStream);
  audio.micAnalyser = makeAnalyser(ctx);
  src.connect(audio.micAnalyser);
  const capture = new AudioWorkletNode(ctx, 'puente-capture', {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    channelCount: 1,
    channelCountMode: 'explicit',
    channelInterpretation: 'speakers',
  });
  capture.port.onmessage = (e) => {
    if (e.data.type === 'frame') onFrame(e.data.samples);
  };
  src.connect(capture);
  // Silent output: connected only so the graph keeps pulling the node.
  capture.connect(ctx.destination);
  audio.capture = capture;
}

async function pickEncoderConfig() {
  for (const config of [ENCODER_CONFIG, ENCODER_CONFIG_PLAIN]) {
    try {
      if ((await AudioEncoder.isConfigSupported(config)).supported) return config;
    } catch {
      // a config this browser cannot parse: try the next
    }
  }
  return null;
}

function makeEncoder() {
  if (audio.encoder && audio.encoder.state !== 'closed') audio.encoder.close();
  audio.encoder = new AudioEncoder({
    output: onEncoded,
    // A failed encoder closes itself; the next frame builds a new one.
    error: () => {
      stats.encodeErrors++;
    },
  });
  audio.encoder.configure(audio.encoderConfig);
  audio.paused = true;
}

// Every frame is encoded, live or not: the encoder stays warm, so going
// live or taking over sends from the very next packet.
function onFrame(samples) {
  const timestamp = Math.round((audio.samples * 1e6) / SAMPLE_RATE);
  audio.samples += samples.length;
  if (!audio.encoder || audio.encoder.state !== 'configured') makeEncoder();
  if (audio.encoder.encodeQueueSize > MAX_ENCODE_QUEUE) {
    stats.dropped++;
    audio.paused = true;
    return;
  }
  const data = new AudioData({
    format: 'f32-planar',
    sampleRate: SAMPLE_RATE,
    numberOfFrames: samples.length,
    numberOfChannels: 1,
    timestamp,
    data: samples,
  });
  try {
    audio.encoder.encode(data);
  } catch {
    stats.encodeErrors++;
    makeEncoder();
  } finally {
    data.close();
  }
}

// Live and unmuted, not coughing; or waiting for our handover to be
// accepted, so the relay has our packets from the packet it switches on.
function shouldSend() {
  if (!conn.link.open || !stats.booth || stats.cough) return false;
  if (stats.live) return !stats.muted;
  return iRequested && stats.pending === stats.client;
}

// The channel the header names: ours while live, the live partner's while
// our handover is pending (the relay publishes into the booth's channel).
function outputIndex() {
  const b = myBooth();
  const ch = findChannel(stats.live ? stats.direction : b && b.direction);
  return ch ? ch.index : null;
}

function onEncoded(chunk) {
  if (!shouldSend()) {
    audio.paused = true;
    return;
  }
  const index = outputIndex();
  if (index === null || chunk.byteLength < 1 || chunk.byteLength > MAX_OPUS) {
    stats.dropped++;
    audio.paused = true;
    return;
  }
  if (conn.link.buffered > MAX_BUFFERED) {
    stats.dropped++;
    audio.paused = true;
    return;
  }
  const payload = new Uint8Array(chunk.byteLength);
  chunk.copyTo(payload);
  const mediaTime = Math.round((chunk.timestamp * SAMPLE_RATE) / 1e6);
  const frame = packFrame(index, audio.paused ? FLAG_DISCONT : 0, audio.seq, mediaTime, payload);
  if (conn.link.sendBinary(frame)) {
    if (audio.paused) stats.discontSent++;
    audio.seq = (audio.seq + 1) >>> 0;
    audio.paused = false;
    stats.sent++;
  }
}

// ---- audio: source in -----------------------------------------------------

function onAudio(buf) {
  const h = parseHeader(buf);
  if (!h || !audio.stream) return;
  stats.received++;
  // The relay may move us (a pending handover lets us hear the live
  // channel): another channel is another seq space.
  if (audio.heardIndex !== h.channel) {
    audio.heardIndex = h.channel;
    audio.stream.resync();
    const ch = conn.welcome && conn.welcome.channels[h.channel];
    stats.hearing = ch ? ch.name : null;
    renderHearing();
  }
  audio.stream.push(h, buf);
}

function applyVolume() {
  const v = Number($('source-volume').value) / 100;
  if (audio.sourceGain) audio.sourceGain.gain.value = v * v;
}

function measureLevels() {
  stats.level = audio.micAnalyser ? rmsOf(audio.micAnalyser) : 0;
  showLevel($('mic-level'), stats.level);
  stats.sourceLevel = audio.sourceAnalyser ? rmsOf(audio.sourceAnalyser) : 0;
  showLevel($('source-level'), stats.sourceLevel);
}

// ---- rendering ------------------------------------------------------------

function setState(state) {
  stats.state = state;
  const dot = state === 'joined' || state === 'ready' ? 'live' : ['refused', 'no-plugin', 'closed'].includes(state) ? 'source-lost' : 'connecting';
  $('state-dot').dataset.state = dot;
  renderState();
}

function renderState() {
  const key = {
    connecting: 'state_connecting',
    reconnecting: 'state_reconnecting',
    ready: 'state_connected',
    joined: 'state_connected',
    'no-plugin': 'state_no_plugin',
    refused: 'state_refused',
    closed: 'state_closed',
  }[stats.state];
  const text = t(key || 'state_connecting');
  if ($('state').textContent !== text) $('state').textContent = text;
  const retryAt = conn.link ? conn.link.retryAt : 0;
  $('countdown').textContent =
    stats.state === 'reconnecting' && retryAt
      ? t('countdown', { n: Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) })
      : '';
}

function boothById(id) {
  return (stats.interp && stats.interp.booths.find((b) => b.id === id)) || null;
}

function boothLabel(b) {
  const names = b.channels.map(channelLabel);
  return names.length === 2 ? `${names[0]} ⇄ ${names[1]}` : names.join(', ');
}

// Radio groups are rebuilt only when their options change, so keyboard
// focus stays where the interpreter left it.
const rendered = {};

function renderRadios(name, listId, options, chosen) {
  const list = $(listId);
  const key = JSON.stringify([language(), options]);
  if (rendered[name] === key) {
    if (chosen !== null) checkRadio(name, chosen);
    return;
  }
  rendered[name] = key;
  const hadFocus = list.contains(document.activeElement);
  list.replaceChildren();
  for (const o of options) {
    const label = document.createElement('label');
    label.className = 'choice';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = name;
    input.value = o.value;
    input.checked = o.value === chosen;
    const text = document.createElement('span');
    text.textContent = o.label;
    if (o.lang) text.lang = o.lang;
    label.append(input, text);
    list.append(label);
    if (hadFocus && input.checked) input.focus();
  }
  if (!list.querySelector('input:checked') && list.querySelector('input')) list.querySelector('input').checked = true;
}

function checkRadio(name, value) {
  for (const input of document.querySelectorAll(`input[name="${name}"]`)) input.checked = input.value === value;
}

function radioValue(name) {
  const input = document.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

function selectedBooth() {
  return radioValue('booth');
}

function selectedOutput() {
  return radioValue('output');
}

function selectedSource() {
  return radioValue('source') || floorName();
}

function renderBooths() {
  const booths = offeredBooths();
  const any = Boolean(stats.interp && stats.interp.booths.length);
  $('booths-waiting').hidden = any;
  $('booths-none').hidden = !any || booths.length > 0;
  const stored = readStorage('puente.booth');
  const current = selectedBooth();
  const valid = (id) => booths.some((b) => b.id === id);
  const chosen = stats.booth || (valid(current) ? current : valid(stored) ? stored : booths[0] ? booths[0].id : null);
  renderRadios(
    'booth',
    'booth-list',
    booths.map((b) => ({ value: b.id, label: `${boothLabel(b)} (${b.id})` })),
    chosen,
  );
}

// Into which channel: while live the relay's direction; otherwise the
// interpreter's pick, by default the booth's channel that is not the floor
// language (interpretation goes away from the floor's language).
function renderOutputs() {
  const b = myBooth() || boothById(selectedBooth());
  const channels = b ? b.channels : [];
  let chosen = selectedOutput();
  if (stats.live && stats.direction) chosen = stats.direction;
  else if (!channels.includes(chosen)) {
    const floorLang = stats.interp && stats.interp.floor_language;
    chosen = channels.find((c) => c !== floorLang && (findChannel(c) || {}).lang !== floorLang) || channels[0] || null;
  }
  renderRadios(
    'output',
    'output-list',
    channels.map((c) => ({ value: c, label: channelLabel(c), lang: (findChannel(c) || {}).lang })),
    chosen,
  );
}

function renderSources() {
  const b = myBooth() || boothById(selectedBooth());
  const floor = floorName();
  const options = [{ value: floor, label: t('source_floor') }];
  for (const other of stats.interp ? stats.interp.booths : []) {
    if (b && other.id === b.id) continue;
    for (const c of other.channels) {
      options.push({ value: c, label: t('source_relay', { channel: channelLabel(c), booth: other.id }) });
    }
  }
  const current = selectedSource();
  const stored = readStorage('puente.booth.source');
  const valid = (v) => options.some((o) => o.value === v);
  renderRadios('source', 'source-list', options, valid(current) ? current : valid(stored) ? stored : floor);
}

function renderHearing() {
  $('hearing').textContent = stats.hearing ? t('source_hearing', { channel: channelLabel(stats.hearing) }) : '';
}

// A language tag or a booth's channel id, named in the page's language.
function languageOf(tagOrChannel) {
  if (!tagOrChannel) return '–';
  const ch = findChannel(tagOrChannel);
  return languageName(ch && ch.lang ? ch.lang : tagOrChannel);
}

function renderFacts() {
  const s = stats.interp;
  if (!s) {
    $('floor-language').textContent = '–';
    return;
  }
  const floor = languageOf(s.floor_language);
  $('floor-language').textContent =
    s.suggested_floor && s.suggested_floor !== s.floor_language
      ? t('floor_suggested', { language: floor, suggested: languageOf(s.suggested_floor) })
      : floor;
}

function renderPartners() {
  const b = myBooth();
  const list = $('partners');
  list.replaceChildren();
  const ids = b ? [...new Set([...(b.live !== null ? [b.live] : []), ...b.partners])] : [];
  if (!ids.length) {
    const li = document.createElement('li');
    li.textContent = t('partners_none');
    list.append(li);
    return;
  }
  for (const id of ids) {
    const parts = [t(id === stats.client ? 'partner_you' : 'partner_other', { id })];
    if (b.live === id) parts.push(t(b.muted ? 'partner_live_muted' : 'partner_live', { channel: channelLabel(b.direction) }));
    if (b.pending === id) parts.push(t('partner_pending'));
    const li = document.createElement('li');
    li.textContent = parts.join(': ');
    if (b.live === id) li.className = 'is-live';
    list.append(li);
  }
}

function renderControls() {
  const b = myBooth();
  const joined = Boolean(b);
  const haveBooths = offeredBooths().length > 0;
  $('join').disabled = !haveBooths || !conn.link.open || (joined && b.id === selectedBooth());
  $('joined').textContent = joined ? t('joined_as', { id: stats.client, booth: b.id }) : t('not_joined');

  const live = $('live');
  live.textContent = t(stats.live ? 'release' : 'live');
  live.setAttribute('aria-pressed', String(stats.live));
  live.disabled = !joined;
  const status = $('live-status');
  status.dataset.live = String(stats.live);
  let text;
  if (stats.live) text = t(stats.muted ? 'live_on_muted' : 'live_on', { channel: channelLabel(stats.direction) });
  else if (b && b.live !== null) text = t('live_other', { id: b.live, channel: channelLabel(b.direction) });
  else text = t('live_off');
  if (stats.live && stats.cough) text = `${text} ${t('coughing')}`;
  if (status.textContent !== text) status.textContent = text;

  const mute = $('mute');
  mute.disabled = !stats.live;
  mute.setAttribute('aria-pressed', String(stats.live && stats.muted));
  const coughBtn = $('cough');
  coughBtn.disabled = !joined;
  coughBtn.setAttribute('aria-pressed', String(stats.cough));
  $('direction').disabled = !joined || !b || b.channels.length < 2;

  const hand = $('handover');
  const asked = stats.live && b && b.pending !== null;
  hand.textContent = t(asked ? 'handover_accept' : 'handover_request');
  hand.disabled = !(asked || (joined && !stats.live && b.live !== null && b.pending === null));
  $('decline').disabled = !asked;
  let hs = t('handover_idle');
  if (asked) hs = t('handover_asked', { id: b.pending });
  else if (b && b.pending === stats.client) hs = t('handover_waiting', { id: b.live ?? '?' });
  $('handover-status').textContent = hs;
}

function renderStats() {
  $('stat-sent').textContent = String(stats.sent);
  $('stat-received').textContent = String(stats.received);
  $('stat-dropped').textContent = String(stats.dropped);
  if (audio.stream) stats.decodeErrors = audio.stream.stats.decodeErrors;
  $('stat-errors').textContent = String(stats.encodeErrors + stats.decodeErrors);
  renderState();
}

function render() {
  renderBooths();
  renderOutputs();
  renderSources();
  renderFacts();
  renderPartners();
  renderControls();
  renderHearing();
  renderStats();
}

function showAlert(key, params) {
  alertMsg = { key, params };
  $('alert').textContent = t(key, params);
}

function clearAlert() {
  alertMsg = null;
  $('alert').textContent = '';
}

// The assertive region: handover prompts and the loss of the microphone.
function notice(key, params = {}) {
  noticeMsg = { key, params };
  stats.notice = key;
  $('notice').textContent = t(key, params);
}

function switchLanguage(lang) {
  setLanguage(lang, true);
  renderLanguage();
}

function renderLanguage() {
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.lang === language()));
  }
  if (alertMsg) $('alert').textContent = t(alertMsg.key, alertMsg.params);
  if (noticeMsg) $('notice').textContent = t(noticeMsg.key, noticeMsg.params);
  if (access) access.render();
  render();
}

// ---- keyboard -------------------------------------------------------------

const KEYS = {
  l: toggleLive,
  m: toggleMute,
  d: switchDirection,
  h: handover,
  n: decline,
};

function typingIn(el) {
  return el && (el.isContentEditable || el.matches('textarea, select, input:not([type="radio"]):not([type="range"]):not([type="checkbox"])'));
}

function onKeyDown(e) {
  if (e.ctrlKey || e.metaKey || e.altKey || typingIn(e.target)) return;
  const key = e.key.length === 1 ? e.key.toLowerCase() : '';
  if (key === 'c') {
    e.preventDefault();
    cough(true);
  } else if (KEYS[key]) {
    e.preventDefault();
    if (!e.repeat) KEYS[key]();
  }
}

function onKeyUp(e) {
  if (e.key.length === 1 && e.key.toLowerCase() === 'c') cough(false);
}

// The cough button is held, with a pointer or with Space/Enter.
function wireCoughButton() {
  const btn = $('cough');
  btn.addEventListener('pointerdown', () => cough(true));
  for (const ev of ['pointerup', 'pointerleave', 'pointercancel']) btn.addEventListener(ev, () => cough(false));
  btn.addEventListener('keydown', (e) => {
    if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      cough(true);
    }
  });
  btn.addEventListener('keyup', (e) => {
    if (e.key === ' ' || e.key === 'Enter') {
      e.preventDefault();
      cough(false);
    }
  });
  btn.addEventListener('blur', () => cough(false));
}

// ---- wiring ---------------------------------------------------------------

function init() {
  addStrings(BOOTH_STRINGS);
  const storedVolume = Number(readStorage(GAIN_STORAGE));
  if (readStorage(GAIN_STORAGE) !== null && storedVolume >= 0 && storedVolume <= 100) {
    $('source-volume').value = String(storedVolume);
  }
  setLanguage(initialLanguage(), false);
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.addEventListener('click', () => switchLanguage(btn.dataset.lang));
  }
  $('join').addEventListener('click', () => join(selectedBooth()));
  $('live').addEventListener('click', toggleLive);
  $('mute').addEventListener('click', toggleMute);
  $('direction').addEventListener('click', switchDirection);
  $('handover').addEventListener('click', handover);
  $('decline').addEventListener('click', decline);
  wireCoughButton();
  $('booth-list').addEventListener('change', () => render());
  $('output-list').addEventListener('change', () => {
    const ch = selectedOutput();
    if (stats.live && ch && ch !== stats.direction) conn.link.send({ type: 'interpretation.direction', channel: ch });
  });
  $('source-list').addEventListener('change', () => {
    const ch = selectedSource();
    writeStorage('puente.booth.source', ch);
    if (stats.booth) conn.link.send({ type: 'interpretation.source', channel: ch });
  });
  $('source-volume').addEventListener('input', () => {
    applyVolume();
    writeStorage(GAIN_STORAGE, $('source-volume').value);
  });
  document.addEventListener('keydown', onKeyDown);
  document.addEventListener('keyup', onKeyUp);
  // A held key's keyup never comes when the window loses focus.
  window.addEventListener('blur', () => cough(false));
  if (!HAVE_WEBCODECS) showAlert('err_no_codec', {});
  const onBinary = (msg) => packetsOf(msg).forEach((buf) => onAudio(buf));
  conn.link = new Link({ onOpen, onControl, onBinary, onClose: onClosed });
  access = new Access(conn.link, (blocked) => setState(blocked ? 'closed' : 'connecting'));
  window.addEventListener('online', () => conn.link.retryNow());
  renderLanguage();
  setInterval(measureLevels, LEVEL_EVERY_MS);
  setInterval(renderStats, 500);
  conn.link.start();
}

init();
