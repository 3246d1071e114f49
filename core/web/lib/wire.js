// The wire protocol as the browser pages speak it: constants, the 16-byte
// binary header and the bundles of include/puente/protocol.h, the WebSocket
// address, and a defensive reading of core.welcome. README "Wire protocol"
// is the contract.

import { personalToken } from './token.js';

export const SUBPROTOCOL = 'puente.v1';
export const HEADER_LEN = 16;
export const PROTO_VERSION = 1;
export const KIND_OPUS = 1;
export const KIND_BUNDLE = 2;
export const FLAG_DISCONT = 0x01;
export const FLAG_SILENCE = 0x02;
export const SAMPLE_RATE = 48000;
export const MAX_OPUS = 1500;
export const MAX_BUNDLE = 3;
const MAX_FRAME = HEADER_LEN + MAX_OPUS;
const BUNDLE_PREFIX = 4;
const BUNDLE_ITEM = 2;

// ws: or wss: on the page's own host, path /ws, with the personal link's
// token as ?t= when the page was opened with one.
export function wsUrl() {
  const url = new URL('/ws', window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = personalToken();
  if (token) url.searchParams.set('t', token);
  return url;
}

// The header of a binary message, or null when it is not one of ours.
export function parseHeader(buf) {
  if (buf.byteLength <= HEADER_LEN) return null;
  const v = new DataView(buf);
  if (v.getUint8(0) !== PROTO_VERSION || v.getUint8(1) !== KIND_OPUS) return null;
  return {
    channel: v.getUint8(2),
    flags: v.getUint8(3),
    seq: v.getUint32(4),
    // Exact up to 2^53 samples (about 6000 years at 48 kHz).
    mediaTime: v.getUint32(8) * 2 ** 32 + v.getUint32(12),
  };
}

// The packets of a binary message, each an ArrayBuffer for parseHeader: a
// bundle's one by one, in order; anything else, a malformed bundle included,
// as it is, so that parseHeader refuses what is not a packet just as it
// refuses a bad packet. The relay may bundle at any time, so every page
// that takes audio passes each binary message through here.
export function packetsOf(buf) {
  return bundleItems(buf) || [buf];
}

// protocol.h's puente_bundle_check, walking as puente_bundle_next does: the
// items of a well-formed bundle, or null.
function bundleItems(buf) {
  const n = buf.byteLength;
  if (n < BUNDLE_PREFIX) return null;
  const v = new DataView(buf);
  const count = v.getUint8(2);
  if (v.getUint8(0) !== PROTO_VERSION || v.getUint8(1) !== KIND_BUNDLE) return null;
  if (count < 1 || count > MAX_BUNDLE || v.getUint8(3) !== 0) return null;
  const items = [];
  let off = BUNDLE_PREFIX;
  while (off < n && items.length < count) {
    if (n - off < BUNDLE_ITEM) return null;
    const len = v.getUint16(off);
    if (len < HEADER_LEN || len > MAX_FRAME || n - off - BUNDLE_ITEM < len) return null;
    items.push(buf.slice(off + BUNDLE_ITEM, off + BUNDLE_ITEM + len));
    off += BUNDLE_ITEM + len;
  }
  return off === n && items.length === count ? items : null;
}

// One binary message: header + payload (a Uint8Array of 1..MAX_OPUS bytes).
export function packFrame(channel, flags, seq, mediaTime, payload) {
  const out = new Uint8Array(HEADER_LEN + payload.byteLength);
  const v = new DataView(out.buffer);
  v.setUint8(0, PROTO_VERSION);
  v.setUint8(1, KIND_OPUS);
  v.setUint8(2, channel);
  v.setUint8(3, flags);
  v.setUint32(4, seq >>> 0);
  v.setUint32(8, Math.floor(mediaTime / 2 ** 32));
  v.setUint32(12, mediaTime >>> 0);
  out.set(payload, HEADER_LEN);
  return out;
}

const LANG_RE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;

// A BCP 47-looking tag or ''. Used for lang attributes, so it is checked.
export function safeLang(s) {
  return typeof s === 'string' && LANG_RE.test(s) ? s : '';
}

// core.welcome, read defensively: every field may be missing or of the
// wrong type, and nothing in it is trusted as markup.
export function parseWelcome(msg) {
  const room = msg.room && typeof msg.room === 'object' ? msg.room : {};
  const list = Array.isArray(room.channels) ? room.channels : [];
  return {
    room: typeof room.name === 'string' && room.name ? room.name : null,
    client: Number.isSafeInteger(msg.client) ? msg.client : null,
    channels: list
      .map((c, index) => ({
        index,
        name: c && typeof c.name === 'string' ? c.name : '',
        label: c && typeof c.label === 'string' && c.label ? c.label : c && c.name,
        lang: safeLang(c && c.lang),
      }))
      .filter((c) => c.name),
    frameSamples: (Number(msg.audio && msg.audio.frame_ms) || 20) * (SAMPLE_RATE / 1000),
    sourceLost: Boolean(msg.source && msg.source.state === 'lost'),
    you: parseYou(msg.you),
  };
}

// core.welcome's "you" (the invitation behind this connection): {role, name},
// each a string or null.
function parseYou(you) {
  if (!you || typeof you !== 'object') return { role: null, name: null };
  return {
    role: typeof you.role === 'string' && you.role ? you.role : null,
    name: typeof you.name === 'string' && you.name.trim() ? you.name.trim() : null,
  };
}

// JSON text → an object with a string type, or null.
export function parseControl(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  return msg && typeof msg === 'object' && !Array.isArray(msg) && typeof msg.type === 'string' ? msg : null;
}
