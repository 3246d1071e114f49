// Captions as the pages show them: cues of the captions plugin read
// defensively, and a CaptionView that holds each cue until the audio heard
// reaches its start time, then shows it (finals appended to a list, the open
// partial line replaced in place). README "Caption messages (captions.*)".
//
// Caption text is data: it reaches the DOM through textContent only.

import { safeLang } from './wire.js';

// A cue that starts further ahead than this is not waiting for our audio
// (another clock, a captioner's timestamp off): shown at once.
const MAX_HOLD_SAMPLES = 10 * 48000;
// A partial line nobody updated for this long is gone (its captioner left).
const PARTIAL_STALE_MS = 15000;
const MAX_ITEMS = 300; // final cues kept on screen per view
const RECORD_MAX = 200; // cues kept in the test record per view
const TICK_MS = 40;

// The caption languages of a room: its channels' languages, once each, in
// channel order (the plugin's default `languages`).
export function roomCaptionLanguages(welcome) {
  const seen = new Set();
  const out = [];
  for (const ch of welcome ? welcome.channels : []) {
    const tag = safeLang(ch.lang);
    const key = tag.toLowerCase();
    if (tag && !seen.has(key)) {
      seen.add(key);
      out.push(tag);
    }
  }
  return out;
}

// Whether two language tags name the same caption language: equal ignoring
// case, or one is the other's primary subtag ("en-US" is "en").
export function sameLanguage(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string' || !a || !b) return false;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || x.split('-')[0] === y || y.split('-')[0] === x;
}

// A cue from the relay, every field checked; null when it is not one.
export function parseCue(msg) {
  if (!msg || typeof msg !== 'object' || typeof msg.text !== 'string') return null;
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  return {
    lang: typeof msg.lang === 'string' ? msg.lang : null,
    seq: Number.isSafeInteger(msg.seq) ? msg.seq : null,
    id: typeof msg.id === 'string' && msg.id ? msg.id : null,
    text: msg.text,
    final: msg.final === true,
    start: num(msg.start),
    end: num(msg.end),
  };
}

// One column of captions. els: {view, heading, list, partial}; list is the
// caption area (an aria-live region on the primary view: only finals are
// appended to it, the partial line lives outside it). clock() returns the
// media time the listener hears now, or null when no audio is playing.
export class CaptionView {
  constructor(els, clock) {
    this.els = els;
    this.clock = clock;
    this.lang = null;
    this.pending = []; // cues waiting for the audio, in arrival order
    this.lastSeq = null; // the last cue shown (seq per language)
    this.partialId = null;
    this.partialAt = 0;
    this.finalIds = new Set(); // ids of lines already final (a late partial must not reopen one)
    this.displayed = new Map(); // seq -> text of the finals on screen, to merge a history
    this.timer = 0;
    // Read by the browser tests.
    this.record = { lang: null, cues: [], shown: [], partial: '', held: 0 };
  }

  // A new language (null: none): a new seq space, an empty area.
  setLang(lang) {
    this.lang = lang;
    this.record.lang = lang;
    this.reset();
    this.els.view.hidden = !lang;
    if (lang) this.els.view.lang = safeLang(lang);
  }

  reset() {
    this.pending = [];
    this.lastSeq = null;
    this.finalIds.clear();
    this.displayed.clear();
    this.els.list.replaceChildren();
    this.setPartial(null);
    this.record.cues = [];
    this.record.shown = [];
    this.record.held = 0;
    clearInterval(this.timer);
    this.timer = 0;
  }

  // captions.history: the last final cues, oldest first. After a choice
  // they fill the empty area; after a reconnect they are merged into what
  // is on screen (the scroll-back stays; lines already shown, same seq and
  // text, are not shown twice). A relay that restarted numbers from 1
  // again: the seq check starts over from the history. aria-busy keeps
  // screen readers from reading the whole backlog.
  history(msg) {
    if (!this.lang || !sameLanguage(msg.lang, this.lang)) return;
    const cues = (Array.isArray(msg.cues) ? msg.cues : []).map(parseCue).filter((c) => c && c.final);
    const list = this.els.list;
    const stick = this.atEnd();
    list.setAttribute('aria-busy', 'true');
    // Held cues and the open line belong to the connection that went.
    this.pending = [];
    this.record.held = 0;
    this.setPartial(null);
    this.lastSeq = null;
    for (const c of cues) {
      if (c.seq !== null && this.displayed.get(c.seq) === c.text) this.lastSeq = c.seq;
      else this.show(c);
    }
    list.setAttribute('aria-busy', 'false');
    this.scrollToEnd(stick);
  }

  // captions.cue: shown when the audio reaches its start.
  push(msg) {
    const cue = parseCue(msg);
    if (!cue || !this.lang || (cue.lang && !sameLanguage(cue.lang, this.lang))) return;
    remember(this.record.cues, { seq: cue.seq, id: cue.id, text: cue.text, final: cue.final, start: cue.start, at: Date.now() });
    this.pending.push(cue);
    this.release();
    if (this.pending.length && !this.timer) this.timer = setInterval(() => this.release(), TICK_MS);
  }

  // Shows every pending cue whose time has come, in order: a cue waits for
  // the ones before it, so lines never overtake each other.
  release() {
    const now = this.clock();
    while (this.pending.length) {
      const c = this.pending[0];
      if (now !== null && c.start !== null && c.start > now && c.start - now <= MAX_HOLD_SAMPLES) break;
      this.pending.shift();
      this.show(c);
    }
    this.record.held = this.pending.length;
    if (this.partialId !== null && Date.now() - this.partialAt > PARTIAL_STALE_MS) this.setPartial(null);
    if (!this.pending.length && this.partialId === null && this.timer) {
      clearInterval(this.timer);
      this.timer = 0;
    }
  }

  show(c) {
    // A retry or a cue from before the last history: already shown.
    if (c.seq !== null && this.lastSeq !== null && c.seq <= this.lastSeq) return;
    if (c.seq !== null) this.lastSeq = c.seq;
    remember(this.record.shown, { seq: c.seq, text: c.text, final: c.final, at: Date.now() });
    if (!c.final) {
      if (c.id !== null && this.finalIds.has(c.id)) return;
      // An empty partial: the captioner erased the line.
      if (c.text === '') {
        if (this.partialId === (c.id ?? '')) this.setPartial(null);
        return;
      }
      this.setPartial(c);
      // Ticks on while a partial is up, to take a stale one down.
      if (!this.timer) this.timer = setInterval(() => this.release(), TICK_MS);
      return;
    }
    if (c.id !== null) {
      this.finalIds.add(c.id);
      if (this.finalIds.size > 1000) this.finalIds.delete(this.finalIds.values().next().value);
    }
    if (c.seq !== null) {
      this.displayed.delete(c.seq); // a restarted relay's seq 1: newest again
      this.displayed.set(c.seq, c.text);
      if (this.displayed.size > MAX_ITEMS) this.displayed.delete(this.displayed.keys().next().value);
    }
    // The line is final: its partial goes (a partial without id is one line).
    if (this.partialId !== null && (this.partialId === c.id || this.partialId === '' || c.id === null)) this.setPartial(null);
    if (c.text === '') return;
    const list = this.els.list;
    const stick = this.atEnd();
    const li = document.createElement('li');
    li.textContent = c.text;
    list.append(li);
    while (list.childElementCount > MAX_ITEMS) list.firstElementChild.remove();
    this.scrollToEnd(stick);
  }

  setPartial(c) {
    const p = this.els.partial;
    const text = c ? c.text : '';
    if (p.textContent !== text) p.textContent = text;
    p.hidden = !c;
    this.partialId = c ? (c.id ?? '') : null;
    this.partialAt = Date.now();
    this.record.partial = text;
  }

  // Follows new lines unless the reader has scrolled back.
  atEnd() {
    const l = this.els.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 24;
  }

  scrollToEnd(stick) {
    if (stick) this.els.list.scrollTop = this.els.list.scrollHeight;
  }
}

function remember(arr, item) {
  arr.push(item);
  if (arr.length > RECORD_MAX) arr.shift();
}
