// What a page says about its personal link (README "Opening a personal link"): the
// relay refused it, or the event needs one; it was opened on another device
// (close 4409: offer to reconnect here); the invitation was revoked (4403);
// and, once welcomed, who "you" are. Every page has the same elements:
// #access-alert (role=alert), #access-retry (a button) and #you.
//
// A browser is never told why a WebSocket failed before it opened, so a
// refusal is told apart from an unreachable relay by asking the relay for a
// small file: it answers, yet would not take the WebSocket. Twice in a row,
// so a relay that was down for one attempt and up for the probe (a restart)
// is not taken for a refusal.

import { t } from '../i18n.js';
import { personalToken } from './token.js';

const PROBE_PATH = '/lib/token.js';
const REFUSALS_TO_BLOCK = 2;
const ROLES = ['listener', 'interpreter', 'captioner', 'technician', 'organiser'];

const $ = (id) => document.getElementById(id);

export class Access {
  // onBlocked(blocked): the link stopped for one of the reasons above, or
  // was started again from the button.
  constructor(link, onBlocked) {
    this.link = link;
    this.onBlocked = onBlocked;
    this.blocked = false; // the link stopped and will not come back by itself
    this.msg = null; // key of the message shown, null when none
    this.button = null; // key of the button's label, null when hidden
    this.you = null; // {role, name} from core.welcome
    this.probing = false;
    this.refusals = 0; // attempts in a row that failed while the relay answered
    $('access-retry').addEventListener('click', () => this.reconnect());
  }

  // From the page's onClose. True when the close is about the link, and
  // the page need not say anything about it itself.
  closed(code, opened) {
    if (code === 4409) {
      this.block('access_taken_over', 'access_reconnect_here');
      return true;
    }
    if (code === 4403) {
      this.block('access_revoked', null);
      return true;
    }
    if (!opened && !this.probing) this.probe();
    return false;
  }

  async probe() {
    this.probing = true;
    let answered = false;
    try {
      const res = await fetch(PROBE_PATH, { cache: 'no-store' });
      await res.arrayBuffer();
      answered = res.ok;
    } catch {
      // Unreachable: the page says it is reconnecting, and it is.
    }
    this.probing = false;
    // A connection may have opened meanwhile (relay back, link renewed).
    if (!answered || this.link.open) {
      this.refusals = 0;
      return;
    }
    if (++this.refusals < REFUSALS_TO_BLOCK) return;
    // Retrying would only be refused again, and count against this address.
    this.link.stop();
    this.block(personalToken() ? 'access_refused' : 'access_needed', 'access_retry');
  }

  // From the page's core.welcome handler (the parsed welcome's "you").
  welcome(you) {
    this.you = you;
    this.refusals = 0;
    this.msg = null;
    this.button = null;
    this.render();
  }

  block(msg, button) {
    this.blocked = true;
    this.msg = msg;
    this.button = button;
    this.render();
    this.onBlocked(true);
  }

  reconnect() {
    this.blocked = false;
    this.refusals = 0;
    this.msg = null;
    this.button = null;
    this.render();
    this.onBlocked(false);
    this.link.start();
  }

  // Again after a language switch. Everything goes in as text.
  render() {
    const alert = $('access-alert');
    const text = this.msg ? t(this.msg) : '';
    if (alert.textContent !== text) alert.textContent = text;
    const btn = $('access-retry');
    btn.hidden = !this.button;
    if (this.button) btn.textContent = t(this.button);
    const you = $('you');
    const name = this.you && this.you.name;
    you.hidden = !name;
    if (name) {
      const role = this.you.role;
      you.textContent = t('you', { name, role: ROLES.includes(role) ? t(`role_${role}`) : role || '' });
    }
  }
}
