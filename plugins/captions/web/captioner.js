// The captioner's page: writes live captions into one caption language of
// the captions plugin over the relay's WebSocket (README "Caption messages
// (captions.*)"). The open line goes out as the captioner types, as partial
// cues that share one id (at most about 3 updates a second); Enter sends it final
// (same id) and starts the next line.
//
// The page also chooses its own caption language, so the relay echoes every
// accepted cue back: that echo is the confirmation a line is on screen. The
// relay answers each cue in order, with its echo or a core.error, so the
// page keeps the cues in flight in order and knows which one was refused;
// a refused final line comes back into the box when the box is empty.
//
// Connection, strings and wire helpers are the listener page's modules,
// served by the core at /. Text reaches the DOM through textContent only.

import { addStrings, initialLanguage, language, languageName, readStorage, setLanguage, t, writeStorage } from '/i18n.js';
import { roomCaptionLanguages, sameLanguage } from '/lib/captions.js';
import { Access } from '/lib/access.js';
import { Link } from '/lib/link.js';
import { parseWelcome } from '/lib/wire.js';
import { CAPTIONER_STRINGS } from './strings.js';

const MAX_CHARS = 5000; // the plugin's default max_chars, in code points
// Partial updates: at most about 3 a second, leaving room for finals under
// the relay's 5 control messages (and 5 captions) a second.
const PARTIAL_EVERY_MS = 300;
const PLUGIN_WAIT_MS = 3000;
const SENT_KEEP = 20;
const IN_FLIGHT_MAX = 64;
const LANG_STORAGE = 'puente.captioner.lang';
const SHOW_CHARS = 300; // a sent line longer than this is shown cut

const $ = (id) => document.getElementById(id);

// Read by the browser tests; also handy in devtools.
const stats = {
  state: 'connecting', // connecting, reconnecting, ready, refused, no-plugin
  client: null,
  lang: null, // the caption language written
  partialsSent: 0,
  finalsSent: 0,
  lastPartial: null, // {id, text} of the last partial sent
  sent: [], // final lines, oldest first: {id, text, status: sending|shown|refused|unconfirmed, seq, code}
  errors: [], // `${ref}:${code}` of every core.error, newest last (at most 20)
};
window.puenteCaptioner = stats;

const conn = {
  link: null,
  welcome: null,
  plugin: null, // the relay answered captions.choose: true; unknown_type: false
  pluginTimer: 0,
};

// The open line: its id once a partial went out, and what listeners see.
const line = {
  id: null,
  shown: '',
  lastSendAt: 0,
  timer: 0,
  count: 0,
};

const inFlight = []; // cues sent and not yet echoed or refused: {id, final, text, entry}
let langs = []; // the room's caption languages
let alertMsg = null; // {key, params}
let access = null; // what the page says about its personal link
let overLimit = false;
let nowText = null; // our line on the listeners' screens now (echoed), null for none

// ---- connection -----------------------------------------------------------

function onOpen() {
  conn.link.send({ type: 'core.hello', role: 'captioner', agent: 'puente-captioner' });
}

function onClosed(code, opened) {
  conn.welcome = null;
  // Whether the relay took these before the line went down, nobody says.
  for (const cue of inFlight.splice(0)) {
    if (cue.entry && cue.entry.status === 'sending') cue.entry.status = 'unconfirmed';
  }
  renderSent();
  if (!access.closed(code, opened) && code !== 1000 && code !== 1005 && code !== 1006) {
    const specific = `err_closed_${code}`;
    showAlert(t(specific) === specific ? 'err_closed' : specific, { code });
  }
  setState(access.blocked ? 'closed' : 'reconnecting');
}

function onControl(msg) {
  switch (msg.type) {
    case 'core.welcome':
      conn.welcome = parseWelcome(msg);
      stats.client = conn.welcome.client;
      langs = roomCaptionLanguages(conn.welcome);
      pickLanguage();
      if (alertMsg && alertMsg.key.startsWith('err_closed')) clearAlert();
      access.welcome(conn.welcome.you);
      setState('connecting');
      break;
    case 'core.hello':
      if (msg.role !== 'captioner') {
        setState('refused');
        showAlert('err_role', { message: String(msg.role ?? '') });
        break;
      }
      // Our own language's captions come back to us: the confirmation.
      conn.link.send({ type: 'captions.choose', lang: stats.lang });
      clearTimeout(conn.pluginTimer);
      if (conn.plugin !== true) {
        conn.pluginTimer = setTimeout(() => {
          if (conn.plugin === null) setState('ready');
        }, PLUGIN_WAIT_MS);
      }
      break;
    case 'captions.history':
      pluginSeen();
      break;
    case 'captions.cue':
      pluginSeen();
      onEcho(msg);
      break;
    case 'core.error':
      onError(msg);
      break;
    default:
      break;
  }
}

function pluginSeen() {
  clearTimeout(conn.pluginTimer);
  conn.plugin = true;
  if (stats.state !== 'ready') setState('ready');
}

function onError(msg) {
  const code = String(msg.code ?? '');
  const ref = String(msg.ref ?? '');
  const message = String(msg.message ?? '');
  stats.errors.push(`${ref}:${code}`);
  if (stats.errors.length > 20) stats.errors.shift();
  if (ref === 'core.hello') {
    setState('refused');
    showAlert('err_role', { message: message || code });
  } else if (ref === 'captions.choose' && code === 'unknown_type') {
    clearTimeout(conn.pluginTimer);
    conn.plugin = false;
    setState('no-plugin');
    showAlert('err_no_plugin', {});
  } else if (ref === 'captions.cue') {
    // The page is a captioner: what is forbidden is a language its invitation does not name.
    refused(code, code === 'forbidden' ? t('err_lang_not_invited', { language: languageName(stats.lang) }) : message);
  } else {
    showAlert('err_relay', { code, message });
  }
}

// The oldest cue in flight was refused.
function refused(code, message) {
  const cue = inFlight.shift();
  if (cue && cue.final) {
    cue.entry.status = 'refused';
    cue.entry.code = code;
    renderSent();
    const box = $('line');
    if (box.value.trim() === '') {
      box.value = cue.text;
      updateCounter();
      showAlert('err_cue_back', { code, message });
      return;
    }
  } else if (cue && cue.id === line.id) {
    // Send the line again with the next keystroke.
    line.shown = '';
  }
  // The same refusal again and again (a line over the limit) is said once.
  if (!alertMsg || alertMsg.key !== 'err_cue' || alertMsg.params.code !== code) showAlert('err_cue', { code, message });
}

// An accepted cue: ours when it is the one in flight with that id.
function onEcho(msg) {
  const id = typeof msg.id === 'string' ? msg.id : null;
  const final = msg.final === true;
  const i = inFlight.findIndex((c) => c.id === id && c.final === final);
  if (i < 0) return;
  const [cue] = inFlight.splice(0, i + 1).slice(-1);
  if (final) {
    cue.entry.status = 'shown';
    cue.entry.seq = Number.isSafeInteger(msg.seq) ? msg.seq : null;
    renderSent();
    if (alertMsg && alertMsg.key.startsWith('err_cue')) clearAlert();
  }
  // A final takes its line off the partial display; a later line's partial
  // may already be there.
  if (!final) nowText = String(msg.text ?? '');
  else if (!line.shown || id !== line.id) nowText = null;
  renderNow();
}

function renderNow() {
  const text = nowText ?? t('capt_now_none');
  if ($('now').textContent !== text) $('now').textContent = text;
}

// ---- writing --------------------------------------------------------------

function newId() {
  line.count++;
  return `c${stats.client ?? 0}-${Date.now().toString(36)}-${line.count}`;
}

function chars(s) {
  return [...s].length;
}

function send(cue) {
  if (!conn.link.send({ type: 'captions.cue', lang: stats.lang, ...cue })) return false;
  line.lastSendAt = Date.now();
  return true;
}

function track(cue) {
  inFlight.push(cue);
  if (inFlight.length > IN_FLIGHT_MAX) inFlight.shift();
}

// Typing: the line goes out now, or as soon as the rate allows.
function onInput() {
  updateCounter();
  clearTimeout(line.timer);
  const wait = line.lastSendAt + PARTIAL_EVERY_MS - Date.now();
  if (wait <= 0) sendPartial();
  else line.timer = setTimeout(sendPartial, wait);
}

function sendPartial() {
  clearTimeout(line.timer);
  const text = $('line').value.trim();
  // Nothing to show, nothing new, or more than the relay takes.
  if (!text || text === line.shown || !stats.lang || chars(text) > MAX_CHARS) return;
  const id = line.id || newId();
  if (!send({ text, final: false, id })) return;
  line.id = id;
  line.shown = text;
  stats.partialsSent++;
  stats.lastPartial = { id, text };
  track({ id, final: false, text, entry: null });
}

// Enter: the line is final, under the same id, and a new one starts.
function sendFinal() {
  clearTimeout(line.timer);
  const box = $('line');
  const text = box.value.trim();
  if (!text) {
    box.value = '';
    updateCounter();
    return;
  }
  if (!stats.lang) return;
  const id = line.id || newId();
  if (!send({ text, final: true, id })) {
    showAlert('err_offline', {});
    return;
  }
  stats.finalsSent++;
  const entry = { id, text, status: 'sending', seq: null, code: null };
  stats.sent.push(entry);
  if (stats.sent.length > SENT_KEEP) stats.sent.shift();
  track({ id, final: true, text, entry });
  line.id = null;
  line.shown = '';
  box.value = '';
  updateCounter();
  renderSent();
}

function onKeyDown(e) {
  if (e.key !== 'Enter' || e.shiftKey || e.isComposing || e.keyCode === 229) return;
  e.preventDefault();
  sendFinal();
}

// A new caption language: the open line is finished in the old one first,
// so no partial is left hanging on the listeners' screens.
function chooseLanguage(tag) {
  if (!tag || sameLanguage(tag, stats.lang)) return;
  if ($('line').value.trim()) sendFinal();
  stats.lang = tag;
  writeStorage(LANG_STORAGE, tag);
  line.id = null;
  line.shown = '';
  conn.link.send({ type: 'captions.choose', lang: tag });
  render();
}

// The stored choice, else the page's language, else the room's first.
function pickLanguage() {
  const find = (want) => langs.find((l) => sameLanguage(l, want)) || null;
  const lang = find(stats.lang) || find(readStorage(LANG_STORAGE)) || find(language()) || langs[0] || null;
  if (lang !== stats.lang) {
    stats.lang = lang;
    line.id = null;
    line.shown = '';
  }
  render();
}

// ---- rendering ------------------------------------------------------------

function setState(state) {
  stats.state = state;
  $('state-dot').dataset.state = state === 'ready' ? 'live' : state === 'refused' || state === 'no-plugin' ? 'source-lost' : state;
  render();
}

function stateText() {
  switch (stats.state) {
    case 'connecting':
      return t('state_connecting');
    case 'reconnecting':
      return t('state_reconnecting');
    case 'closed':
      return t('state_closed');
    case 'refused':
      return t('capt_state_refused');
    case 'no-plugin':
      return t('capt_state_no_plugin');
    default:
      return stats.lang ? t('capt_state_ready', { language: languageName(stats.lang) }) : t('capt_state_no_lang');
  }
}

function renderState() {
  const text = stateText();
  if ($('state').textContent !== text) $('state').textContent = text;
  const retryAt = conn.link ? conn.link.retryAt : 0;
  $('countdown').textContent =
    stats.state === 'reconnecting' && retryAt ? t('countdown', { n: Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) }) : '';
}

let renderedLangs = null;

function renderLangs() {
  $('langs-waiting').hidden = langs.length > 0;
  const key = JSON.stringify([language(), langs, stats.lang]);
  if (key === renderedLangs) return;
  renderedLangs = key;
  const list = $('lang-list');
  const hadFocus = list.contains(document.activeElement);
  list.replaceChildren();
  for (const tag of langs) {
    const label = document.createElement('label');
    label.className = 'choice';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'caption-lang';
    input.value = tag;
    input.checked = tag === stats.lang;
    const text = document.createElement('span');
    text.textContent = `${languageName(tag)} (${tag})`;
    label.append(input, text);
    list.append(label);
    if (hadFocus && input.checked) input.focus();
  }
}

function updateCounter() {
  const n = chars($('line').value);
  const el = $('counter');
  el.textContent = t('capt_counter', { n, max: MAX_CHARS });
  const over = n > MAX_CHARS;
  el.classList.toggle('over', over);
  if (over && !overLimit) showAlert('err_too_long_local', { n: MAX_CHARS + 1, max: MAX_CHARS });
  if (!over && overLimit && alertMsg && alertMsg.key === 'err_too_long_local') clearAlert();
  overLimit = over;
}

function statusText(entry) {
  if (entry.status === 'shown') return t('capt_status_shown', { seq: entry.seq ?? '?' });
  if (entry.status === 'refused') return t('capt_status_refused', { code: entry.code });
  if (entry.status === 'unconfirmed') return t('capt_status_unconfirmed');
  return t('capt_status_sending');
}

function renderSent() {
  const list = $('sent');
  const stick = list.scrollHeight - list.scrollTop - list.clientHeight < 24;
  list.replaceChildren(
    ...stats.sent.map((entry) => {
      const li = document.createElement('li');
      li.dataset.status = entry.status;
      const text = document.createElement('span');
      text.className = 'text';
      const cps = [...entry.text];
      text.textContent = cps.length > SHOW_CHARS ? `${cps.slice(0, SHOW_CHARS).join('')}…` : entry.text;
      const status = document.createElement('span');
      status.className = 'status';
      status.textContent = statusText(entry);
      li.append(text, ' ', status);
      return li;
    }),
  );
  if (stick) list.scrollTop = list.scrollHeight;
}

function render() {
  renderState();
  renderLangs();
  const usable = Boolean(stats.lang) && stats.state !== 'refused' && stats.state !== 'no-plugin';
  $('line').disabled = !usable && !$('line').value;
  $('send').disabled = !usable;
  renderSent();
  renderNow();
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
  if (alertMsg) $('alert').textContent = t(alertMsg.key, alertMsg.params);
  if (access) access.render();
  updateCounter();
  render();
}

// ---- wiring ---------------------------------------------------------------

function init() {
  addStrings(CAPTIONER_STRINGS);
  setLanguage(initialLanguage(), false);
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.addEventListener('click', () => switchLanguage(btn.dataset.lang));
  }
  $('lang-list').addEventListener('change', (e) => chooseLanguage(e.target.value));
  $('line').addEventListener('input', onInput);
  $('line').addEventListener('keydown', onKeyDown);
  $('send').addEventListener('click', () => {
    sendFinal();
    $('line').focus();
  });
  conn.link = new Link({ onOpen, onControl, onClose: onClosed });
  access = new Access(conn.link, (blocked) => setState(blocked ? 'closed' : 'connecting'));
  window.addEventListener('online', () => conn.link.retryNow());
  renderLanguage();
  setInterval(renderState, 500);
  conn.link.start();
}

init();
