// The listener page: connects to the relay, lets the user pick a channel,
// decodes its Opus packets with WebCodecs and plays them through an
// AudioWorklet jitter buffer. Wire format: README "Wire protocol" and
// include/puente/protocol.h.
//
// With the interpretation plugin (detected when the relay sends
// interpretation.state) the choice goes through interpretation.listen, the
// picker gains "my language" (auto: follows the floor), the page says why it
// hears what it hears, and the floor can be mixed quietly under an
// interpretation through a second connection.
//
// With the captions plugin (detected by its answer to captions.choose) the
// page shows captions in a language chosen apart from the audio, each cue
// held until the audio heard reaches its start; a second language side by
// side comes through a second connection (one choice per connection).
//
// Opened with a personal link (lib/token.js), the page keeps to one
// connection: the relay allows one per link and takes it over from an older
// one, so the extra connections for the original underneath and a second
// caption language would cut off the main one.
//
// Everything the relay sends is data: it reaches the DOM only through
// textContent or attribute values, never as markup.

import { initialLanguage, language, languageName, readStorage, setLanguage, t, writeStorage } from './i18n.js';
import { Access } from './lib/access.js';
import { CaptionView, roomCaptionLanguages, sameLanguage } from './lib/captions.js';
import { Link } from './lib/link.js';
import { makeAnalyser, rmsOf, showLevel } from './lib/meter.js';
import { HAVE_WEBCODECS, OpusStream, decoderSupported, loadPlayer } from './lib/stream.js';
import { personalToken } from './lib/token.js';
import { SAMPLE_RATE, packetsOf, parseHeader, parseWelcome } from './lib/wire.js';

const LEVEL_EVERY_MS = 50;
const AUTO = 'auto';
// ?buffer=MS: the jitter buffer's floor in ms (player-worklet.js clamps it
// to 10..300), for a listener on a quiet network who wants less delay.
// Read once: the personal link's handling rewrites the address later.
const BUFFER_FLOOR_MS = (() => {
  const v = new URL(window.location.href).searchParams.get('buffer');
  return v !== null && /^\d{1,3}$/.test(v) ? Number(v) : undefined;
})();

const $ = (id) => document.getElementById(id);

// Read by the browser tests; also handy from the devtools console.
const stats = {
  packets: 0,
  gaps: 0,
  decodeErrors: 0,
  level: 0,
  state: 'connecting',
  channel: null, // what we hear now
  choice: null, // what we asked for: a channel name or 'auto'
  reason: null, // interpretation.listening reason, with the plugin
  plugin: false, // the relay runs the interpretation plugin
  delayMs: null,
  bufferMs: 0,
  underruns: 0,
  underneath: { open: false, gain: 0, channel: null, packets: 0, gaps: 0, decodeErrors: 0, level: 0 },
};
window.puenteStats = stats;

const conn = {
  link: null,
  welcome: null, // the current connection's core.welcome (parseWelcome)
  sourceLost: false,
};

const interp = {
  state: null, // the latest interpretation.state
  listening: null, // the latest interpretation.listening
};

const player = {
  wanted: false, // the user pressed play
  ctx: null,
  ready: null, // promise: audio graph built
  stream: null, // OpusStream of the channel we hear
  gain: null, // the volume, for both streams
  analyser: null,
  subscribed: null, // {name, index, label} of the channel we hear
  coreChannel: null, // the channel of the relay's last core.subscribed, null after unsubscribed
  target: null, // what we asked for: a channel name or 'auto'
  anchor: null, // {media_time, unix_us} room clock anchor
  netDelayMs: null,
};

// The floor under an interpretation: its own connection, decoder and
// jitter buffer, mixed at its own gain before the volume.
const under = {
  link: null,
  welcome: null,
  index: null, // channel index of the floor on that connection
  stream: null,
  gain: null,
  analyser: null,
};

// Captions: the chosen language on the main connection, a second language
// side by side on a connection of its own.
const capt = {
  available: null, // the relay runs the captions plugin: null until it says
  probeTimer: 0,
  langs: [], // the room's caption languages (its channels' languages)
  wanted: null, // the language the listener chose (stored), null for none
  wanted2: null, // the second language chosen (stored), null for none
  lang: null, // the caption language asked for: wanted, if the room has it
  lang2: null, // the second language shown: wanted2, if the room has it
  view1: null,
  view2: null,
  link2: null,
  err: null, // {code, message} of the latest refusal
  retry1: 0, // timers: a rate-limited choice sent again
  retry2: 0,
};

let alertMsg = null; // {key, params}: kept so a language switch re-renders it
let access = null; // what the page says about its personal link

// ---- connection -----------------------------------------------------------

function onOpen() {
  conn.link.send({ type: 'core.hello', role: 'listener', agent: 'puente-web' });
}

function onClosed(code, opened) {
  conn.welcome = null;
  player.subscribed = null;
  player.coreChannel = null;
  stats.channel = null;
  interp.state = null;
  interp.listening = null;
  stats.reason = null;
  if (stats.plugin) {
    // Whether the next relay has the plugin is for it to say.
    stats.plugin = false;
    renderedChannels = null;
  }
  if (!access.closed(code, opened) && code !== 1000 && code !== 1005 && code !== 1006) {
    const specific = `err_closed_${code}`;
    showAlert(t(specific) === specific ? 'err_closed' : specific, { code });
  }
  setState(access.blocked ? 'closed' : 'reconnecting');
  if (player.stream) player.stream.resync();
  updateUnderneath();
  renderReason();
}

function onControl(msg) {
  switch (msg.type) {
    case 'core.welcome':
      onWelcome(msg);
      break;
    case 'core.subscribed':
      onSubscribed(msg);
      break;
    case 'core.unsubscribed':
      player.coreChannel = null;
      hear(null);
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
      if (typeof msg.ref === 'string' && msg.ref.startsWith('captions.')) onCaptionError(msg);
      else showAlert('err_relay', { code: String(msg.code), message: String(msg.message ?? '') });
      break;
    case 'captions.history':
      captionsAvailable();
      capt.view1.history(msg);
      break;
    case 'captions.cue':
      captionsAvailable();
      capt.view1.push(msg);
      break;
    case 'interpretation.state':
      onInterpretationState(msg);
      break;
    case 'interpretation.listening':
      onListening(msg);
      break;
    default:
      // core.hello, core.pong and other plugins' messages need nothing here.
      break;
  }
}

function onWelcome(msg) {
  conn.welcome = parseWelcome(msg);
  conn.sourceLost = conn.welcome.sourceLost;
  if (alertMsg && alertMsg.key.startsWith('err_closed')) clearAlert();
  access.welcome(conn.welcome.you);
  renderRoom();
  setState(stateNow());
  if (player.wanted) subscribe();
  captionsWelcome();
}

// The plugin says hello with its state: from now on choices go through it.
function onInterpretationState(msg) {
  interp.state = msg;
  if (!stats.plugin) {
    stats.plugin = true;
    $('underneath-field').hidden = Boolean(personalToken());
    if (conn.welcome) renderRoom();
    if (player.wanted) subscribe();
  }
  renderReason();
}

function onListening(msg) {
  interp.listening = msg;
  stats.reason = typeof msg.reason === 'string' ? msg.reason : null;
  const ch = typeof msg.channel === 'string' ? findChannel(msg.channel) : null;
  if (ch && player.wanted) {
    if (!player.subscribed || player.subscribed.index !== ch.index) hear(ch);
    // The plugin subscribes us only when what we should hear changes, and
    // it does not see a core.unsubscribe (Stop): after Stop and Play on the
    // same channel it answers without moving us. Ask the core ourselves.
    if (player.coreChannel !== ch.name) conn.link.send({ type: 'core.subscribe', channel: ch.name });
  }
  renderReason();
}

function onSubscribed(msg) {
  const ch = findChannel(msg.channel);
  if (!ch) return;
  player.coreChannel = ch.name;
  // The plugin moves listeners when the floor changes, stopped ones too:
  // a stopped page takes no audio.
  if (!player.wanted) {
    conn.link.send({ type: 'core.unsubscribe' });
    return;
  }
  hear(ch);
  if (msg.clock) setAnchor(msg.clock);
  clearAlert();
  setState(stateNow());
}

// What we hear is ch (null: nothing). Another channel is another seq space
// and another stream of audio.
function hear(ch) {
  const changed = (player.subscribed && player.subscribed.index) !== (ch && ch.index);
  if (changed && player.stream) player.stream.resync();
  player.subscribed = ch;
  stats.channel = ch ? ch.name : null;
  if (changed) {
    updateUnderneath();
    setState(stateNow());
  }
}

function findChannel(name) {
  return (conn.welcome && conn.welcome.channels.find((c) => c.name === name)) || null;
}

// The floor is the channel named floor, else the room's first channel.
function floorName(welcome = conn.welcome) {
  if (!welcome || !welcome.channels.length) return null;
  return welcome.channels.some((c) => c.name === 'floor') ? 'floor' : welcome.channels[0].name;
}

function setAnchor(clock) {
  const mt = Number(clock.media_time);
  const us = Number(clock.unix_us);
  if (Number.isFinite(mt) && Number.isFinite(us)) player.anchor = { media_time: mt, unix_us: us };
}

function subscribe() {
  const choice = selectedChannel();
  if (!choice || !conn.welcome) return;
  player.target = choice;
  stats.choice = choice;
  if (stats.plugin) {
    const msg = { type: 'interpretation.listen', choice };
    if (choice === AUTO) msg.language = language();
    conn.link.send(msg);
  } else {
    conn.link.send({ type: 'core.subscribe', channel: choice === AUTO ? floorName() : choice });
  }
}

// ---- audio in -------------------------------------------------------------

function onAudio(buf) {
  const h = parseHeader(buf);
  if (!h) return;
  const sub = player.subscribed;
  // Packets of a channel we just left are still in flight after a switch.
  if (!player.wanted || !sub || h.channel !== sub.index || !player.stream) return;
  player.stream.push(h, buf);
  estimateDelay(h.mediaTime);
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

// ---- audio out ------------------------------------------------------------

async function buildGraph() {
  const ctx = player.ctx;
  await loadPlayer(ctx);
  const gain = ctx.createGain();
  const analyser = makeAnalyser(ctx);
  gain.connect(analyser).connect(ctx.destination);
  player.gain = gain;
  player.analyser = analyser;
  player.stream = new OpusStream(ctx, gain, BUFFER_FLOOR_MS);
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
  updateUnderneath();
}

function stop() {
  player.wanted = false;
  renderPlayButton();
  conn.link.send({ type: 'core.unsubscribe' });
  player.subscribed = null;
  player.target = null;
  stats.channel = null;
  stats.choice = null;
  if (player.stream) player.stream.resync();
  updateUnderneath();
  if (player.ctx) player.ctx.suspend();
  setState(stateNow());
  renderReason();
}

function applyVolume() {
  const v = Number($('volume').value) / 100;
  // Squared: loudness is perceived roughly logarithmically, and a linear
  // slider would put all the useful range in its first third.
  if (player.gain) player.gain.gain.value = v * v;
}

function measureLevel() {
  let rms = 0;
  if (player.analyser && player.wanted && player.ctx.state === 'running') rms = rmsOf(player.analyser);
  stats.level = rms;
  showLevel($('level'), rms);
  stats.underneath.level = under.analyser && under.stream ? rmsOf(under.analyser) : 0;
}

// ---- the original underneath ------------------------------------------------

function underneathGain() {
  return Number($('underneath').value) / 100;
}

// Opens or closes the floor connection to match what is wanted: only while
// playing an interpretation (not the floor itself) with the slider above 0.
function updateUnderneath() {
  const g = underneathGain();
  const floor = floorName();
  const want =
    !personalToken() &&
    stats.plugin &&
    player.wanted &&
    player.stream !== null &&
    g > 0 &&
    player.subscribed !== null &&
    floor !== null &&
    player.subscribed.name !== floor;
  if (want && !under.link) openUnderneath();
  else if (!want && under.link) closeUnderneath();
  // Squared like the volume.
  if (under.gain) under.gain.gain.value = g * g;
  stats.underneath.gain = g;
  const text = g > 0 ? t('underneath_value', { n: Math.round(g * 100) }) : t('underneath_off');
  $('underneath-value').textContent = text;
  $('underneath').setAttribute('aria-valuetext', text);
}

function openUnderneath() {
  const ctx = player.ctx;
  under.gain = ctx.createGain();
  under.analyser = makeAnalyser(ctx);
  under.gain.connect(player.gain);
  under.gain.connect(under.analyser);
  under.stream = new OpusStream(ctx, under.gain, BUFFER_FLOOR_MS);
  under.link = new Link({
    onOpen: () => under.link.send({ type: 'core.hello', role: 'listener', agent: 'puente-web-underneath' }),
    onControl: (msg) => {
      if (msg.type === 'core.welcome') {
        under.welcome = parseWelcome(msg);
        under.index = null;
        under.link.send({ type: 'core.subscribe', channel: floorName(under.welcome) });
      } else if (msg.type === 'core.subscribed' && under.welcome) {
        const ch = under.welcome.channels.find((c) => c.name === msg.channel);
        if (ch && ch.index !== under.index && under.stream) under.stream.resync();
        under.index = ch ? ch.index : null;
        stats.underneath.channel = ch ? ch.name : null;
      }
    },
    onBinary: (msg) => {
      for (const buf of packetsOf(msg)) {
        const h = parseHeader(buf);
        if (h && under.stream && h.channel === under.index) under.stream.push(h, buf);
      }
    },
    onClose: () => {
      under.index = null;
      stats.underneath.channel = null;
      if (under.stream) under.stream.resync();
    },
  });
  under.link.start();
  stats.underneath.open = true;
}

function closeUnderneath() {
  under.link.stop();
  under.link = null;
  under.stream.close();
  under.stream = null;
  under.gain.disconnect();
  under.gain = null;
  under.analyser = null;
  under.welcome = null;
  under.index = null;
  stats.underneath.open = false;
  stats.underneath.channel = null;
}

// ---- captions ---------------------------------------------------------------

// The media time (room clock, 48 kHz) of the audio the listener hears now,
// or null when no audio plays: then captions show as they come. The room
// clock's anchor gives the capture time of any media time; the audio heard
// was captured the whole delay ago (network, jitter buffer, output). The
// offset between our clock and the relay's cancels out: it is in the
// network delay too.
function playbackPosition() {
  const a = player.anchor;
  const s = player.stream ? player.stream.stats : null;
  const ctx = player.ctx;
  if (!player.wanted || !player.subscribed || !a || !s || player.netDelayMs === null || !ctx || ctx.state !== 'running') {
    return null;
  }
  const out = (ctx.outputLatency || ctx.baseLatency || 0) * 1000;
  const delayMs = player.netDelayMs + s.fillMs + out;
  return a.media_time + ((Date.now() * 1000 - a.unix_us - delayMs * 1000) * SAMPLE_RATE) / 1e6;
}

function captionsAvailable() {
  clearTimeout(capt.probeTimer);
  if (capt.available === true) return;
  capt.available = true;
  $('captions-panel').hidden = false;
  renderCaptions();
}

// Every connection tells the relay what captions it wants (none included):
// the plugin answers captions.history, a relay without it unknown_type.
function captionsWelcome() {
  capt.langs = roomCaptionLanguages(conn.welcome);
  renderCaptionPickers();
  conn.link.send({ type: 'captions.choose', lang: capt.lang });
  updateSecond();
  clearTimeout(capt.probeTimer);
  if (capt.available === null) capt.probeTimer = setTimeout(captionsAvailable, 3000);
}

// A refusal of captions.* on the main connection or, with second set, on
// the second one.
function onCaptionError(msg, second = false) {
  const code = String(msg.code ?? '');
  if (code === 'unknown_type' && msg.ref === 'captions.choose') {
    clearTimeout(capt.probeTimer);
    capt.available = false;
    $('captions-panel').hidden = true;
    closeSecond();
    return;
  }
  if (code === 'rate_limited' && msg.ref === 'captions.choose') {
    // Arrowing fast through the picker: the last choice must still count.
    clearTimeout(second ? capt.retry2 : capt.retry1);
    const retry = () => {
      if (second && capt.link2) capt.link2.send({ type: 'captions.choose', lang: capt.lang2 });
      else if (!second) conn.link.send({ type: 'captions.choose', lang: capt.lang });
    };
    if (second) capt.retry2 = setTimeout(retry, 1000);
    else capt.retry1 = setTimeout(retry, 1000);
    return;
  }
  capt.err = { code, message: String(msg.message ?? '') };
  renderCaptions();
}

function chooseCaptions(lang) {
  capt.wanted = lang || null;
  capt.err = null;
  writeStorage('puente.captions', capt.wanted || '');
  // The second language is another one.
  if (capt.wanted2 && sameLanguage(capt.wanted2, capt.wanted)) {
    capt.wanted2 = null;
    writeStorage('puente.captions2', '');
  }
  renderCaptionPickers();
  conn.link.send({ type: 'captions.choose', lang: capt.lang });
  updateSecond();
  renderCaptions();
}

function chooseSecond(lang) {
  capt.wanted2 = lang || null;
  capt.err = null;
  writeStorage('puente.captions2', capt.wanted2 || '');
  renderCaptionPickers();
  updateSecond();
  renderCaptions();
}

// Opens, retunes or closes the second connection to match capt.lang2.
function updateSecond() {
  const want = capt.available !== false && capt.lang && capt.lang2 ? capt.lang2 : null;
  if (capt.view2.lang !== want) capt.view2.setLang(want);
  if (!want) {
    closeSecond();
    return;
  }
  if (capt.link2) {
    capt.link2.send({ type: 'captions.choose', lang: want });
    return;
  }
  const link = new Link({
    onOpen: () => link.send({ type: 'core.hello', role: 'listener', agent: 'puente-web-captions' }),
    onControl: (msg) => {
      if (msg.type === 'core.welcome') link.send({ type: 'captions.choose', lang: capt.lang2 });
      else if (msg.type === 'captions.history') capt.view2.history(msg);
      else if (msg.type === 'captions.cue') capt.view2.push(msg);
      else if (msg.type === 'core.error' && typeof msg.ref === 'string' && msg.ref.startsWith('captions.')) onCaptionError(msg, true);
    },
  });
  capt.link2 = link;
  link.start();
}

function closeSecond() {
  if (!capt.link2) return;
  capt.link2.stop();
  capt.link2 = null;
}

// The pickers list the room's caption languages, named in the page's
// language. What is asked for is what was chosen, if the room has it; a
// select is refilled only when its options change (a refill under the
// keyboard would lose the user's place).
function renderCaptionPickers() {
  const pick = (want) => capt.langs.find((l) => sameLanguage(l, want)) || null;
  capt.lang = pick(capt.wanted);
  capt.lang2 = capt.lang && !personalToken() ? pick(capt.wanted2) : null;
  if (capt.lang2 && sameLanguage(capt.lang2, capt.lang)) capt.lang2 = null;
  fillSelect($('caption-lang'), capt.langs, capt.lang);
  fillSelect($('caption-lang2'), capt.langs.filter((l) => !sameLanguage(l, capt.lang)), capt.lang2);
  $('caption-lang2').disabled = !capt.lang;
  if (capt.view1.lang !== capt.lang) capt.view1.setLang(capt.lang);
}

function fillSelect(select, langs, chosen) {
  const key = JSON.stringify([language(), langs]);
  if (select.dataset.options !== key) {
    select.dataset.options = key;
    while (select.options.length > 1) select.remove(1);
    for (const tag of langs) {
      const o = document.createElement('option');
      o.value = tag;
      o.textContent = languageName(tag);
      select.append(o);
    }
  }
  if (select.value !== (chosen || '')) select.value = chosen || '';
}

function renderCaptions() {
  for (const [view, id] of [
    [capt.view1, 'caption-head-1'],
    [capt.view2, 'caption-head-2'],
  ]) {
    $(id).textContent = view.lang ? t('caption_head', { language: languageName(view.lang) }) : '';
  }
  let text;
  if (capt.err) text = t('captions_err', capt.err);
  else if (!capt.lang) text = t('captions_off');
  else if (capt.view2.lang) text = t('captions_on_two', { language: languageName(capt.lang), second: languageName(capt.view2.lang) });
  else text = t('captions_on', { language: languageName(capt.lang) });
  const note = $('captions-note');
  if (note.textContent !== text) note.textContent = text;
  $('caption-views').classList.toggle('two', Boolean(capt.view2.lang));
}

function initCaptions() {
  const views = [1, 2].map(
    (n) =>
      new CaptionView(
        {
          view: $(`caption-view-${n}`),
          list: $(`caption-list-${n}`),
          partial: $(`caption-partial-${n}`),
        },
        playbackPosition,
      ),
  );
  [capt.view1, capt.view2] = views;
  // Read by the browser tests: {lang, cues, shown, partial, held} of the
  // chosen language, the same of the second under .second.
  window.puenteCaptions = capt.view1.record;
  Object.defineProperty(capt.view1.record, 'second', { value: capt.view2.record, enumerable: true });
  Object.defineProperty(capt.view1.record, 'available', { get: () => capt.available, enumerable: true });
  capt.wanted = readStorage('puente.captions') || null;
  capt.wanted2 = readStorage('puente.captions2') || null;
  const large = readStorage('puente.captions.large') === '1';
  $('caption-large').checked = large;
  $('caption-views').classList.toggle('large', large);
  $('caption-lang').addEventListener('change', (e) => chooseCaptions(e.target.value));
  $('caption-lang2').addEventListener('change', (e) => chooseSecond(e.target.value));
  $('caption-large').addEventListener('change', (e) => {
    $('caption-views').classList.toggle('large', e.target.checked);
    writeStorage('puente.captions.large', e.target.checked ? '1' : '0');
  });
}

// ---- state and rendering --------------------------------------------------

function stateNow() {
  if (access && access.blocked) return 'closed';
  if (!conn.link || !conn.link.open || !conn.welcome) return conn.link && conn.link.retryAt ? 'reconnecting' : 'connecting';
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
    case 'closed':
      return t('state_closed');
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
  const retryAt = conn.link ? conn.link.retryAt : 0;
  const countdown = stats.state === 'reconnecting' && retryAt
    ? t('countdown', { n: Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) })
    : '';
  $('countdown').textContent = countdown;
}

// A language tag or a channel id -> words in the page's language.
function nameOfLanguage(tagOrChannel) {
  if (typeof tagOrChannel !== 'string' || !tagOrChannel) return t('floor_unknown');
  const ch = findChannel(tagOrChannel);
  return languageName(ch && ch.lang ? ch.lang : tagOrChannel);
}

function reasonText() {
  const l = interp.listening;
  if (!l || !player.wanted || !conn.welcome) return '';
  const heard = findChannel(l.channel);
  const heardLabel = heard ? heard.label : String(l.channel ?? '');
  // The language asked for: the page's for auto, else the chosen channel's.
  const chosen = findChannel(l.choice);
  const wanted = l.choice === AUTO || !chosen ? nameOfLanguage(l.language) : chosen.label;
  const floor = nameOfLanguage(interp.state && interp.state.floor_language);
  switch (l.reason) {
    case 'chosen':
      return t('reason_chosen', { channel: heardLabel });
    case 'interpretation':
      return t('reason_interpretation', { floor, channel: heardLabel });
    case 'floor_is_your_language':
      return t('reason_floor_is_your_language', { language: wanted });
    case 'no_interpreter':
      return t(l.channel === floorName() ? 'reason_no_interpreter' : 'reason_no_interpreter_silence', {
        language: wanted,
      });
    default:
      return '';
  }
}

// A polite live region of its own: announced when what we hear changes.
function renderReason() {
  const text = reasonText();
  const el = $('reason');
  if (el.textContent !== text) el.textContent = text;
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
  const key = JSON.stringify([stats.plugin, w.channels]);
  if (key === renderedChannels) return;
  renderedChannels = key;
  const list = $('channel-list');
  const hadFocus = list.contains(document.activeElement);
  list.replaceChildren();
  const valid = (name) => (name === AUTO ? stats.plugin : w.channels.some((c) => c.name === name));
  // The last explicit choice (stored on every change), else what we play.
  const stored = readStorage('puente.channel');
  const chosen = valid(stored) ? stored : valid(player.target) ? player.target : w.channels[0] && w.channels[0].name;
  const options = w.channels.map((ch) => ({ value: ch.name, label: ch.label, lang: ch.lang }));
  if (stats.plugin) options.unshift({ value: AUTO, key: 'channel_auto' });
  for (const o of options) {
    const label = document.createElement('label');
    label.className = 'channel';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'channel';
    input.value = o.value;
    input.checked = o.value === chosen;
    const text = document.createElement('span');
    if (o.key) {
      text.dataset.i18n = o.key;
      text.textContent = t(o.key);
    } else {
      text.textContent = o.label;
      if (o.lang) text.lang = o.lang;
    }
    label.append(input, text);
    list.append(label);
    if (hadFocus && input.checked) input.focus();
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
  const s = player.stream ? player.stream.stats : null;
  if (s) {
    stats.packets = s.packets;
    stats.gaps = s.gaps;
    stats.decodeErrors = s.decodeErrors;
    stats.underruns = s.underruns;
    stats.bufferMs = Math.round(s.fillMs);
  }
  if (under.stream) {
    const u = under.stream.stats;
    Object.assign(stats.underneath, { packets: u.packets, gaps: u.gaps, decodeErrors: u.decodeErrors });
  }
  $('stat-packets').textContent = String(stats.packets);
  $('stat-gaps').textContent = String(stats.gaps);
  $('stat-decode-errors').textContent = String(stats.decodeErrors);
  $('stat-underruns').textContent = String(stats.underruns);
  const live = player.wanted && player.subscribed && s;
  $('stat-buffer').textContent = live
    ? t('buffer_value', { fill: Math.round(s.fillMs), target: Math.round(s.targetMs) })
    : '–';
  if (live && player.netDelayMs !== null && player.ctx) {
    // What the ear hears: network and encoding, plus our buffer, plus the
    // audio output's own latency.
    const out = (player.ctx.outputLatency || player.ctx.baseLatency || 0) * 1000;
    const buf = s.fillMs + out;
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
  // "My language" is the page's: tell the plugin it changed.
  if (player.wanted && stats.plugin && player.target === AUTO) subscribe();
}

function renderLanguage() {
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.lang === language()));
  }
  renderPlayButton();
  renderState();
  renderStats();
  renderReason();
  updateUnderneath();
  if (alertMsg) $('alert').textContent = t(alertMsg.key, alertMsg.params);
  if (access) access.render();
  if (capt.view1) {
    renderCaptionPickers();
    renderCaptions();
  }
}

// ---- wiring ---------------------------------------------------------------

function restoreRange(id, key) {
  const raw = readStorage(key);
  const n = Number(raw);
  if (raw !== null && raw !== '' && n >= 0 && n <= 100) $(id).value = String(n);
}

function init() {
  restoreRange('volume', 'puente.volume');
  restoreRange('underneath', 'puente.underneath');
  if (personalToken()) $('caption-lang2-field').hidden = true;
  initCaptions();
  setLanguage(initialLanguage(), false);
  renderLanguage();
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.addEventListener('click', () => switchLanguage(btn.dataset.lang));
  }
  $('volume').addEventListener('input', () => {
    applyVolume();
    writeStorage('puente.volume', $('volume').value);
  });
  $('underneath').addEventListener('input', () => {
    updateUnderneath();
    writeStorage('puente.underneath', $('underneath').value);
  });
  $('play').addEventListener('click', () => (player.wanted ? stop() : start()));
  $('channel-list').addEventListener('change', (e) => {
    writeStorage('puente.channel', e.target.value);
    if (player.wanted) subscribe();
  });
  if (!HAVE_WEBCODECS) showAlert('err_no_codec', {});
  else decoderSupported().then((ok) => ok || showAlert('err_no_codec', {}));
  conn.link = new Link({
    onOpen,
    onControl,
    onBinary: (msg) => packetsOf(msg).forEach((buf) => onAudio(buf)),
    onClose: onClosed,
  });
  access = new Access(conn.link, () => setState(stateNow()));
  // Back online: no reason to sit out the rest of the backoff.
  window.addEventListener('online', () => conn.link.retryNow());
  setInterval(measureLevel, LEVEL_EVERY_MS);
  setInterval(renderStats, 500);
  conn.link.start();
  setState('connecting');
}

init();
