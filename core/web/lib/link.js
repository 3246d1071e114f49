// A WebSocket to the relay that comes back by itself: exponential backoff
// with jitter, reset once a connection has lasted; a quiet connection is
// pinged and, if still silent, given up and retried. The page decides what
// to say about it; this only keeps the line up, except after a close that
// says coming back would be wrong (taken over, revoked).

import { SUBPROTOCOL, parseControl, wsUrl } from './wire.js';

const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const STABLE_MS = 10000; // a connection this old resets the backoff
const PING_AFTER_MS = 8000; // quiet this long: ask the relay for a sign of life
const DEAD_AFTER_MS = 20000; // quiet this long: the connection is gone
const CHECK_EVERY_MS = 4000;
// 4409: the personal link was opened on another device; reconnecting by
// itself would take it back, and the two would take turns for ever.
// 4403: the invitation was revoked; the relay would only refuse.
const FINAL_CODES = [4409, 4403];

export class Link {
  // handlers: onOpen(), onControl(msg), onBinary(ArrayBuffer),
  // onClose(code, opened): opened is false when the socket failed before it
  // opened (relay unreachable, or the upgrade refused: browsers do not say
  // which). onControl gets parsed objects only; malformed text is dropped here.
  constructor(handlers) {
    this.h = handlers;
    this.ws = null;
    this.attempt = 0;
    this.openedAt = 0;
    this.lastRx = 0;
    this.retryAt = 0; // when the next attempt is due, 0 when none is pending
    this.retryTimer = 0;
    this.stopped = true;
    this.aliveTimer = 0;
  }

  get open() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN);
  }

  start() {
    this.stopped = false;
    if (!this.aliveTimer) this.aliveTimer = setInterval(() => this.checkAlive(), CHECK_EVERY_MS);
    this.connect();
  }

  // Closes for good (no retry).
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.aliveTimer);
    this.aliveTimer = 0;
    this.retryAt = 0;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close(1000);
    }
  }

  // Back online: no reason to sit out the rest of the backoff.
  retryNow() {
    if (!this.stopped && !this.ws) this.connect();
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryAt = 0;
    const ws = new WebSocket(wsUrl(), SUBPROTOCOL);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.openedAt = Date.now();
      this.lastRx = this.openedAt;
      if (this.h.onOpen) this.h.onOpen();
    };
    ws.onmessage = (ev) => {
      this.lastRx = Date.now();
      if (typeof ev.data === 'string') {
        const msg = parseControl(ev.data);
        if (msg && this.h.onControl) this.h.onControl(msg);
      } else if (this.h.onBinary) {
        this.h.onBinary(ev.data);
      }
    };
    ws.onclose = (ev) => this.closed(ev.code, opened);
  }

  send(msg) {
    if (!this.open) return false;
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
    return true;
  }

  sendBinary(bytes) {
    if (!this.open) return false;
    this.ws.send(bytes);
    return true;
  }

  // Bytes queued in the browser, not yet handed to the network.
  get buffered() {
    return this.ws ? this.ws.bufferedAmount : 0;
  }

  closed(code, opened) {
    this.ws = null;
    if (this.openedAt && Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
    this.openedAt = 0;
    if (FINAL_CODES.includes(code)) {
      this.stopped = true;
      clearInterval(this.aliveTimer);
      this.aliveTimer = 0;
    }
    if (!this.stopped) {
      // 1, 2, 4 ... 30 s, each ±25 %, so a room full of listeners cut off at
      // once does not come back in lockstep.
      const step = BACKOFF_FIRST_MS * 2 ** Math.min(this.attempt, 5);
      this.attempt++;
      const delay = Math.min(BACKOFF_MAX_MS, step * (0.75 + Math.random() * 0.5));
      this.retryAt = Date.now() + delay;
      this.retryTimer = setTimeout(() => this.connect(), delay);
    }
    if (this.h.onClose) this.h.onClose(code, opened);
  }

  // A peer that vanished without a FIN is only noticed by silence: subscribed
  // clients hear from the relay 50 times a second, idle ones get a pong.
  checkAlive() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const quiet = Date.now() - this.lastRx;
    if (quiet > DEAD_AFTER_MS) {
      ws.onclose = null;
      ws.onmessage = null;
      ws.close();
      this.closed(1006, true);
    } else if (quiet > PING_AFTER_MS) {
      this.send({ type: 'core.ping', id: Date.now() });
    }
  }
}
