// The technician's console: meters of every channel and interpreter
// microphone, listener health and alarms from the levels plugin
// (levels.update about 10 times a second, levels.alarm on each change), and
// when the interpretation plugin runs, who is live in which booth, the
// floor-language control (with the relay's suggestion for confirmation) and
// the forced handover.
//
// Connection, strings and wire helpers are the listener page's modules,
// served by the core at /. Text reaches the DOM through textContent only;
// bar widths go through the CSSOM (the CSP forbids inline style).

import { addStrings, initialLanguage, language, languageName, setLanguage, t } from '/i18n.js';
import { Access } from '/lib/access.js';
import { Link } from '/lib/link.js';
import { parseWelcome } from '/lib/wire.js';
import { LEVELS_STRINGS } from './strings.js';

const DB_MIN = -60; // the bottom of the bars
const HOT_DB = -6;
const CLIP_DB = -0.5;
const PLUGIN_WAIT_MS = 3000;
const LOG_KEEP = 100;
const HOLD_MS = 2000; // the page's own peak hold when the plugin sends none

const $ = (id) => document.getElementById(id);

// Read by the browser tests; also handy in devtools.
const stats = {
  state: 'connecting', // connecting, waiting, ready, refused, no-plugin, reconnecting
  client: null,
  updates: 0,
  lastUpdate: null, // the last levels.update as received
  channels: {}, // name -> {peak, rms, momentary, short_term, integrated, true_peak, peak_hold, clips, listeners}
  mics: {}, // client id -> {channel, peak, rms, momentary, clips, loss_pct, jitter_ms}
  alarms: [], // active: {id, kind, channel, since, message}
  events: [], // levels.alarm as received, oldest first: {state, id, kind, channel, t, message}
  interpretation: null, // the last interpretation.state
  errors: [], // `${code}` of each core.error, newest last (at most 20)
  bans: [], // from core.bans: {address, seconds}
  bansTotal: 0,
  sound: false,
  beeps: 0,
};
window.puenteLevels = stats;

const conn = { link: null, welcome: null, pluginTimer: 0 };
const rows = { channels: new Map(), mics: new Map() };
const holds = new Map(); // key -> {db, at}: the page's own hold when peak_hold is absent
let errorMsg = null; // {code, message}
let access = null; // what the page says about its personal link
let audio = null; // AudioContext once the sound is enabled

// ---- numbers --------------------------------------------------------------

// A dB figure from the wire: a finite number, or null for -inf (and junk).
function db(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function fmtDb(v) {
  const d = db(v);
  return d === null ? t('lv_inf') : d.toFixed(1);
}

function fmtNum(v, digits = 0, unit = '') {
  const n = num(v);
  return n === null ? '–' : `${n.toFixed(digits)}${unit}`;
}

function fraction(v) {
  const d = db(v);
  if (d === null) return 0;
  return Math.min(1, Math.max(0, (d - DB_MIN) / -DB_MIN));
}

function fmtTime(ms) {
  const n = num(ms);
  if (n === null) return '';
  return new Date(n).toLocaleTimeString(language() === 'es' ? 'es' : 'en', { hour12: false });
}

// ---- connection -----------------------------------------------------------

function onClosed(code, opened) {
  conn.welcome = null;
  clearTimeout(conn.pluginTimer);
  access.closed(code, opened);
  setState(access.blocked ? 'closed' : 'reconnecting');
}

function onControl(msg) {
  switch (msg.type) {
    case 'core.welcome':
      conn.welcome = parseWelcome(msg);
      stats.client = conn.welcome.client;
      access.welcome(conn.welcome.you);
      // The console is the technicians' and the organisers' (their links
      // open it too); the relay grants only the role of the invitation.
      conn.link.send({ type: 'core.hello', role: conn.welcome.you.role === 'organiser' ? 'organiser' : 'technician', agent: 'puente-levels' });
      // A bar per room channel at once, at the bottom until the first update.
      if (!stats.updates) {
        const names = conn.welcome.channels.map((c) => c.name);
        renderRows($('channels'), rows.channels, names, (name) => `ch:${name}`, (name) => name);
        $('channels-none').hidden = names.length > 0;
      }
      setState('connecting');
      renderFloor();
      break;
    case 'core.hello':
      if (msg.role !== 'technician' && msg.role !== 'organiser') {
        setState('refused');
        break;
      }
      setState(stats.updates ? 'ready' : 'waiting');
      clearTimeout(conn.pluginTimer);
      conn.pluginTimer = setTimeout(() => {
        if (stats.state === 'waiting') setState('no-plugin');
      }, PLUGIN_WAIT_MS);
      break;
    case 'levels.update':
      onUpdate(msg);
      break;
    case 'levels.alarm':
      onAlarm(msg);
      break;
    case 'interpretation.state':
      stats.interpretation = msg;
      renderBooths();
      renderFloor();
      break;
    case 'core.bans':
      stats.bans = Array.isArray(msg.bans) ? msg.bans.filter((b) => b && typeof b.address === 'string') : [];
      stats.bansTotal = Number.isSafeInteger(msg.total) ? msg.total : stats.bans.length;
      renderBans();
      break;
    case 'core.error':
      stats.errors.push(String(msg.code ?? ''));
      if (stats.errors.length > 20) stats.errors.shift();
      errorMsg = { code: String(msg.code ?? ''), message: String(msg.message ?? '') };
      renderError();
      break;
    default:
      break;
  }
}

// ---- levels ---------------------------------------------------------------

function onUpdate(msg) {
  stats.updates++;
  stats.lastUpdate = msg;
  if (stats.state !== 'ready') setState('ready');
  const channels = Array.isArray(msg.channels) ? msg.channels.filter((c) => c && typeof c.name === 'string') : [];
  const mics = Array.isArray(msg.mics) ? msg.mics.filter((m) => m && (typeof m.client === 'number' || typeof m.client === 'string')) : [];
  const health = msg.health && typeof msg.health === 'object' ? msg.health : {};
  const byChannel = health.listeners_by_channel && typeof health.listeners_by_channel === 'object' ? health.listeners_by_channel : {};

  const seen = {};
  for (const c of channels) {
    const listeners = num(c.listeners) ?? num(byChannel[c.name]);
    seen[c.name] = {
      peak: db(c.peak),
      rms: db(c.rms),
      true_peak: db(c.true_peak),
      peak_hold: db(c.peak_hold),
      momentary: db(c.momentary),
      short_term: db(c.short_term),
      integrated: db(c.integrated),
      lra: num(c.lra),
      clips: num(c.clips),
      listeners,
      silent_s: num(c.silent_s),
    };
  }
  stats.channels = seen;
  const micsSeen = {};
  for (const m of mics) {
    micsSeen[String(m.client)] = {
      client: m.client,
      channel: typeof m.channel === 'string' ? m.channel : '',
      peak: db(m.peak),
      rms: db(m.rms),
      momentary: db(m.momentary),
      clips: num(m.clips),
      loss_pct: num(m.loss_pct),
      jitter_ms: num(m.jitter_ms),
    };
  }
  stats.mics = micsSeen;

  renderRows($('channels'), rows.channels, Object.keys(seen), (name) => `ch:${name}`, (name) => name);
  for (const [name, v] of Object.entries(seen)) updateRow(rows.channels.get(name), `ch:${name}`, v, true);
  $('channels-none').hidden = channels.length > 0;

  renderRows($('mics'), rows.mics, Object.keys(micsSeen), (id) => `mic:${id}`, (id) => t('lv_mic_name', { client: id, channel: micsSeen[id].channel }));
  for (const [id, v] of Object.entries(micsSeen)) {
    const row = rows.mics.get(id);
    row.name.textContent = t('lv_mic_name', { client: id, channel: v.channel });
    updateRow(row, `mic:${id}`, v, false);
  }
  $('mics-none').hidden = mics.length > 0;

  renderHealth(health);
  if (Array.isArray(msg.alarms)) {
    stats.alarms = msg.alarms.filter((a) => a && typeof a === 'object').map(cleanAlarm);
    renderActive();
  }
}

function cleanAlarm(a) {
  return {
    id: String(a.id ?? ''),
    kind: String(a.kind ?? ''),
    channel: a.channel == null ? '' : String(a.channel),
    since: num(a.since),
    message: String(a.message ?? ''),
  };
}

// Keeps one row per key in container, in the order of keys; new keys get a
// new row, gone ones lose theirs. Existing rows are updated in place so the
// focus and screen readers are not disturbed ten times a second.
function renderRows(container, map, keys, idOf, labelOf) {
  let changed = false;
  for (const [key, row] of map) {
    if (!keys.includes(key)) {
      row.el.remove();
      map.delete(key);
      changed = true;
    }
  }
  for (const key of keys) {
    if (!map.has(key)) {
      map.set(key, makeRow(idOf(key), labelOf(key), key));
      changed = true;
    }
  }
  if (changed) container.replaceChildren(...keys.map((k) => map.get(k).el));
}

function figure(dl, key) {
  const div = document.createElement('div');
  const dt = document.createElement('dt');
  dt.dataset.i18n = key;
  dt.textContent = t(key);
  const dd = document.createElement('dd');
  dd.dataset.figure = key;
  dd.textContent = '–';
  div.append(dt, dd);
  dl.append(div);
  return dd;
}

function makeRow(id, label, key) {
  // id: 'ch:NAME' or 'mic:CLIENT'; key: the map's key (the name or client id).
  const el = document.createElement('div');
  el.className = 'meter-row';
  el.dataset.key = key;
  const name = document.createElement('span');
  name.className = 'name';
  name.id = `name-${id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  name.textContent = label;
  const bar = document.createElement('div');
  bar.className = 'bar';
  bar.setAttribute('role', 'meter');
  bar.setAttribute('aria-valuemin', String(DB_MIN));
  bar.setAttribute('aria-valuemax', '0');
  bar.setAttribute('aria-valuenow', String(DB_MIN));
  bar.setAttribute('aria-labelledby', name.id);
  bar.setAttribute('aria-valuetext', '–');
  bar.tabIndex = 0;
  bar.dataset.meter = id;
  bar.dataset.t = '0';
  const fill = document.createElement('div');
  fill.className = 'fill';
  const rms = document.createElement('div');
  rms.className = 'rms';
  const hold = document.createElement('div');
  hold.className = 'hold';
  bar.append(fill, rms, hold);
  const dl = document.createElement('dl');
  dl.className = 'figures';
  const f = {};
  const keys = id.startsWith('ch:')
    ? ['lv_peak', 'lv_rms', 'lv_true_peak', 'lv_hold', 'lv_momentary', 'lv_short_term', 'lv_integrated', 'lv_lra', 'lv_clips', 'lv_listeners', 'lv_silent']
    : ['lv_peak', 'lv_rms', 'lv_momentary', 'lv_clips', 'lv_loss', 'lv_jitter'];
  for (const k of keys) f[k] = figure(dl, k);
  el.append(name, bar, dl);
  let reset = null;
  if (id.startsWith('ch:')) {
    // Peak hold, clips and the integrated loudness start again (levels.reset).
    reset = document.createElement('button');
    reset.type = 'button';
    reset.className = 'reset';
    reset.dataset.i18n = 'lv_reset';
    reset.textContent = t('lv_reset');
    reset.setAttribute('aria-describedby', name.id);
    reset.addEventListener('click', () => conn.link.send({ type: 'levels.reset', channel: key }));
    dl.after(reset);
  }
  return { el, name, bar, fill, rms, hold, f, reset };
}

function updateRow(row, id, v, isChannel) {
  const now = Date.now();
  let hold = v.peak_hold;
  if (hold === null || hold === undefined) {
    const h = holds.get(id);
    if (v.peak !== null && (!h || v.peak >= h.db || now - h.at > HOLD_MS)) holds.set(id, { db: v.peak, at: now });
    else if (h && now - h.at > HOLD_MS) holds.delete(id);
    hold = holds.get(id)?.db ?? null;
  }
  const peakNow = v.peak === null ? DB_MIN : Math.max(DB_MIN, Math.min(0, v.peak));
  row.bar.setAttribute('aria-valuenow', peakNow.toFixed(2));
  row.bar.dataset.t = String(stats.updates); // which update drew it: the meter is live
  row.bar.setAttribute('aria-valuetext', t('lv_meter_text', { peak: fmtDb(v.peak), rms: fmtDb(v.rms) }));
  row.bar.dataset.peak = v.peak === null ? '' : String(v.peak);
  row.bar.dataset.zone = v.peak !== null && v.peak >= CLIP_DB ? 'clip' : v.peak !== null && v.peak >= HOT_DB ? 'hot' : 'ok';
  row.fill.style.transform = `scaleX(${fraction(v.peak)})`;
  row.rms.style.transform = `scaleX(${fraction(v.rms)})`;
  row.hold.hidden = hold === null;
  row.hold.style.left = `calc(${(fraction(hold) * 100).toFixed(2)}% - 3px)`;
  const f = row.f;
  f.lv_peak.textContent = fmtDb(v.peak);
  f.lv_rms.textContent = fmtDb(v.rms);
  f.lv_momentary.textContent = fmtDb(v.momentary);
  f.lv_clips.textContent = fmtNum(v.clips);
  if (isChannel) {
    f.lv_true_peak.textContent = fmtDb(v.true_peak);
    f.lv_hold.textContent = fmtDb(hold);
    f.lv_short_term.textContent = fmtDb(v.short_term);
    f.lv_integrated.textContent = fmtDb(v.integrated);
    f.lv_lra.textContent = fmtNum(v.lra, 1);
    f.lv_listeners.textContent = fmtNum(v.listeners);
    f.lv_silent.textContent = fmtNum(v.silent_s, 1, ' s');
  } else {
    f.lv_loss.textContent = fmtNum(v.loss_pct, 1, ' %');
    f.lv_jitter.textContent = fmtNum(v.jitter_ms, 1, ' ms');
  }
}

// The addresses banned for bad links, each with a button that lifts its ban.
function renderBans() {
  const items = stats.bans.map((b, i) => {
    const li = document.createElement('li');
    const text = document.createElement('span');
    text.textContent = t('lv_ban_item', { address: b.address, seconds: fmtNum(b.seconds) });
    const lift = document.createElement('button');
    lift.type = 'button';
    lift.id = `unban-${i}`;
    lift.textContent = t('lv_ban_lift', { address: b.address });
    lift.addEventListener('click', () => conn.link.send({ type: 'core.unban', address: b.address }));
    li.append(text, ' ', lift);
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.textContent = t('lv_bans_none');
    items.push(li);
  } else if (stats.bansTotal > items.length) {
    const li = document.createElement('li');
    li.textContent = t('lv_bans_more', { n: fmtNum(stats.bansTotal - items.length) });
    items.push(li);
  }
  $('bans').replaceChildren(...items);
}

function renderHealth(h) {
  $('h-clients').textContent = fmtNum(h.clients);
  $('h-dropped').textContent = fmtNum(h.dropped);
  $('h-stalled').textContent = fmtNum(h.stalled);
  $('h-refused').textContent = fmtNum(h.refused);
  $('h-rate-limited').textContent = fmtNum(h.rate_limited);
  const door = h.access && typeof h.access === 'object' ? h.access : {};
  $('h-door-links').textContent = fmtNum(door.refused_token);
  $('h-door-bans').textContent = fmtNum(door.banned_now);
  $('h-door-limits').textContent = door.refused_pending === undefined ? fmtNum(undefined) : fmtNum(Number(door.refused_pending) + Number(door.refused_conns) + Number(door.refused_banned));
  $('h-door-takeover').textContent = fmtNum(door.taken_over);
  const lagging = Array.isArray(h.lagging) ? h.lagging.filter((l) => l && typeof l === 'object') : [];
  const items = lagging.map((l) => {
    const li = document.createElement('li');
    li.textContent = t('lv_lag_item', { client: fmtNum(l.client), lag: fmtNum(l.lag_packets), dropped: fmtNum(l.dropped) });
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.textContent = t('lv_lagging_none');
    items.push(li);
  }
  const list = $('lagging');
  const text = items.map((i) => i.textContent).join('\n');
  if (list.dataset.text !== text) {
    list.dataset.text = text;
    list.replaceChildren(...items);
  }
}

// ---- alarms ---------------------------------------------------------------

function onAlarm(msg) {
  const a = cleanAlarm(msg);
  const ev = { ...a, state: msg.state === 'cleared' ? 'cleared' : 'raised', t: num(msg.t) ?? Date.now() };
  stats.events.push(ev);
  if (stats.events.length > LOG_KEEP) stats.events.shift();
  if (ev.state === 'raised') {
    if (!stats.alarms.some((x) => x.id === a.id)) stats.alarms.push({ ...a, since: ev.t });
    alert();
  } else {
    stats.alarms = stats.alarms.filter((x) => x.id !== a.id);
  }
  const log = $('alarm-log');
  log.append(eventItem(ev));
  while (log.children.length > LOG_KEEP) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
  renderActive();
}

function eventItem(ev) {
  const li = document.createElement('li');
  li.dataset.state = ev.state;
  li.dataset.id = ev.id;
  const time = document.createElement('time');
  time.dateTime = new Date(ev.t).toISOString();
  time.textContent = fmtTime(ev.t);
  const text = document.createElement('span');
  text.textContent = `${t(ev.state === 'raised' ? 'lv_alarm_raised' : 'lv_alarm_cleared')}: ${ev.message || ev.id}`;
  li.append(time, text);
  return li;
}

function renderActive() {
  const list = $('alarms-active');
  const items = stats.alarms.map((a) => {
    const li = document.createElement('li');
    li.dataset.state = 'raised';
    li.dataset.id = a.id;
    const text = document.createElement('span');
    text.textContent = a.message || a.id;
    li.append(text);
    if (a.since !== null) li.append(` (${t('lv_alarm_since', { time: fmtTime(a.since) })})`);
    return li;
  });
  if (!items.length) {
    const li = document.createElement('li');
    li.textContent = t('lv_alarms_none');
    items.push(li);
  }
  const text = items.map((i) => i.textContent).join('\n');
  if (list.dataset.text !== text) {
    list.dataset.text = text;
    list.replaceChildren(...items);
  }
}

// A visual flash always; a beep once the technician has enabled sound.
function alert() {
  const panel = $('alarms-panel');
  panel.classList.remove('flash');
  void panel.offsetWidth; // restart the animation
  panel.classList.add('flash');
  if (stats.sound && audio) beep();
}

function beep() {
  try {
    const now = audio.currentTime;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.3, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start(now);
    osc.stop(now + 0.45);
    stats.beeps++;
  } catch {
    // No audio device: the flash and the list remain.
  }
}

async function toggleSound() {
  stats.sound = !stats.sound;
  if (stats.sound) {
    try {
      if (!audio) audio = new AudioContext({ sampleRate: 48000 });
      await audio.resume();
      beep(); // so the technician hears what an alarm sounds like
    } catch {
      audio = null;
    }
  }
  renderSound();
}

function renderSound() {
  const b = $('sound');
  b.setAttribute('aria-pressed', String(stats.sound));
  b.textContent = t(stats.sound ? 'lv_sound_on' : 'lv_sound_off');
}

// ---- interpretation -------------------------------------------------------

function booths() {
  const s = stats.interpretation;
  return s && Array.isArray(s.booths) ? s.booths.filter((b) => b && typeof b.id === 'string') : [];
}

function renderBooths() {
  const list = $('booths');
  const bs = booths();
  $('booths-none').hidden = bs.length > 0 || stats.interpretation !== null;
  // Keep the focus where it was across a re-render.
  const active = document.activeElement;
  const focusKey = active && active.dataset ? active.dataset.focusKey : null;
  const selected = {};
  for (const sel of list.querySelectorAll('select')) selected[sel.dataset.focusKey] = sel.value;
  list.replaceChildren(...bs.map((b) => boothItem(b, selected)));
  if (focusKey) {
    const again = list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (again) again.focus();
  }
}

function boothItem(b, selected) {
  const li = document.createElement('li');
  li.dataset.booth = b.id;
  const channels = Array.isArray(b.channels) ? b.channels.map(String) : [];
  const h = document.createElement('h3');
  h.textContent = t('lv_booth_name', { id: b.id, channels: channels.join(', ') });
  const live = document.createElement('p');
  live.className = 'live';
  const isLive = b.live !== null && b.live !== undefined;
  live.dataset.live = isLive ? 'yes' : 'no';
  let text = isLive ? t('lv_booth_live', { client: String(b.live), channel: String(b.direction ?? '') }) : t('lv_booth_idle');
  if (b.muted) text += `, ${t('lv_booth_muted')}`;
  if (b.cough) text += `, ${t('lv_booth_cough')}`;
  if (b.pending !== null && b.pending !== undefined) text += `; ${t('lv_booth_pending', { client: String(b.pending) })}`;
  live.textContent = text;
  const partners = Array.isArray(b.partners) ? b.partners.filter((p) => typeof p === 'number' || typeof p === 'string') : [];
  const who = document.createElement('p');
  who.textContent = partners.length ? t('lv_booth_partners', { list: partners.join(', ') }) : t('lv_booth_partners_none');
  li.append(h, live, who);
  const others = partners.filter((p) => String(p) !== String(b.live));
  if (isLive && others.length) {
    const row = document.createElement('div');
    row.className = 'controls';
    const selId = `force-${b.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const label = document.createElement('label');
    label.htmlFor = selId;
    label.textContent = t('lv_force_to');
    const sel = document.createElement('select');
    sel.id = selId;
    sel.dataset.focusKey = `sel:${b.id}`;
    for (const p of others) {
      const o = document.createElement('option');
      o.value = String(p);
      o.textContent = String(p);
      sel.append(o);
    }
    if (selected[sel.dataset.focusKey] && others.map(String).includes(selected[sel.dataset.focusKey])) sel.value = selected[sel.dataset.focusKey];
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.dataset.focusKey = `force:${b.id}`;
    btn.textContent = t('lv_force');
    btn.addEventListener('click', () => {
      const to = Number(sel.value);
      conn.link.send({ type: 'interpretation.handover.force', booth: b.id, to: Number.isSafeInteger(to) ? to : sel.value });
    });
    row.append(label, sel, btn);
    li.append(row);
  }
  return li;
}

// The languages the floor may speak: the room's channel languages and the
// booths' channels that name one.
function floorLanguages() {
  const set = new Set();
  for (const c of conn.welcome ? conn.welcome.channels : []) if (c.lang) set.add(c.lang);
  const s = stats.interpretation;
  if (s && typeof s.floor_language === 'string' && s.floor_language) set.add(s.floor_language);
  if (s && typeof s.suggested_floor === 'string' && s.suggested_floor) set.add(s.suggested_floor);
  return [...set];
}

function renderFloor() {
  const s = stats.interpretation;
  $('floor-box').hidden = !s;
  if (!s) return;
  const floor = typeof s.floor_language === 'string' && s.floor_language ? s.floor_language : null;
  $('floor-now').textContent = t('lv_floor_now', { language: floor ? `${languageName(floor)} (${floor})` : t('lv_floor_unset') });
  const sel = $('floor-select');
  const langs = floorLanguages();
  const keep = sel.value || floor || '';
  const sig = langs.join(',') + language();
  if (sel.dataset.sig !== sig) {
    sel.dataset.sig = sig;
    sel.replaceChildren(
      ...langs.map((l) => {
        const o = document.createElement('option');
        o.value = l;
        o.textContent = `${languageName(l)} (${l})`;
        return o;
      }),
    );
    if (langs.includes(keep)) sel.value = keep;
  }
  const sug = typeof s.suggested_floor === 'string' && s.suggested_floor ? s.suggested_floor : null;
  $('floor-suggest-box').hidden = !sug;
  if (sug) {
    const name = `${languageName(sug)} (${sug})`;
    $('floor-suggest').textContent = t('lv_floor_suggest', { language: name });
    $('floor-confirm').textContent = t('lv_floor_confirm', { language: name });
    $('floor-confirm').dataset.lang = sug;
  }
}

function setFloor(lang) {
  if (lang) conn.link.send({ type: 'interpretation.floor', language: lang });
}

// ---- state ----------------------------------------------------------------

function setState(state) {
  stats.state = state;
  renderState();
}

function renderState() {
  const key = {
    connecting: 'lv_state_connecting',
    waiting: 'lv_state_waiting',
    ready: 'lv_state_ready',
    refused: 'lv_state_refused',
    'no-plugin': 'lv_state_no_plugin',
    reconnecting: 'lv_state_reconnecting',
    closed: 'state_closed',
  }[stats.state];
  // The update count changes ten times a second: screen readers hear the
  // state when it changes, not the count (it is refreshed every few seconds).
  const text = t(key, { n: stats.updates });
  const el = $('state');
  if (el.dataset.state !== stats.state || el.dataset.lang !== language() || Date.now() - (Number(el.dataset.at) || 0) > 5000) {
    el.textContent = text;
    el.dataset.state = stats.state;
    el.dataset.lang = language();
    el.dataset.at = String(Date.now());
  }
  $('state-dot').dataset.state = stats.state === 'ready' ? 'live' : ['refused', 'no-plugin', 'closed'].includes(stats.state) ? 'source-lost' : 'connecting';
}

function renderError() {
  $('error').textContent = errorMsg ? t('lv_err', errorMsg) : '';
}

function switchLanguage(lang) {
  setLanguage(lang, true);
  renderLanguage();
}

function renderLanguage() {
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.setAttribute('aria-pressed', String(btn.dataset.lang === language()));
  }
  renderState();
  renderSound();
  renderError();
  if (access) access.render();
  for (const [id, row] of rows.mics) {
    const m = stats.mics[id];
    if (m) row.name.textContent = t('lv_mic_name', { client: id, channel: m.channel });
  }
  renderActive();
  // The log is a live region: relabel its entries in place, so a language
  // switch does not announce every past alarm again.
  const shown = stats.events.slice(-LOG_KEEP);
  const items = $('alarm-log').children;
  for (let i = 0; i < items.length && i < shown.length; i++) {
    const fresh = eventItem(shown[shown.length - items.length + i]);
    items[i].firstElementChild.textContent = fresh.firstElementChild.textContent;
    items[i].lastElementChild.textContent = fresh.lastElementChild.textContent;
  }
  if (stats.lastUpdate) renderHealth(stats.lastUpdate.health && typeof stats.lastUpdate.health === 'object' ? stats.lastUpdate.health : {});
  renderBans();
  renderBooths();
  renderFloor();
}

// ---- wiring ---------------------------------------------------------------

function init() {
  addStrings(LEVELS_STRINGS);
  setLanguage(initialLanguage(), false);
  for (const btn of document.querySelectorAll('button.lang')) {
    btn.addEventListener('click', () => switchLanguage(btn.dataset.lang));
  }
  $('sound').addEventListener('click', toggleSound);
  $('floor-set').addEventListener('click', () => setFloor($('floor-select').value));
  $('floor-confirm').addEventListener('click', () => setFloor($('floor-confirm').dataset.lang));
  conn.link = new Link({ onControl, onClose: onClosed });
  access = new Access(conn.link, (blocked) => setState(blocked ? 'closed' : 'connecting'));
  window.addEventListener('online', () => conn.link.retryNow());
  renderLanguage();
  setInterval(renderState, 1000);
  conn.link.start();
}

init();
