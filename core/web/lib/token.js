// The personal link's token (README "Opening a personal link"): read once from the
// address, #t=... or ?t=... as a fallback, kept in this tab's sessionStorage
// so a reload still works, and taken out of the address bar so a copied
// address, a screenshot or the history does not carry it. The relay gets it
// in the WebSocket address (wire.js wsUrl).

const KEY = 'puente.token';

let token; // undefined until read, then a string or null

export function personalToken() {
  if (token !== undefined) return token;
  const url = new URL(window.location.href);
  const hash = new URLSearchParams(url.hash.slice(1));
  const given = hash.get('t') ?? url.searchParams.get('t');
  if (hash.has('t') || url.searchParams.has('t')) {
    hash.delete('t');
    url.searchParams.delete('t');
    const rest = hash.toString();
    url.hash = rest ? `#${rest}` : '';
    window.history.replaceState(window.history.state, '', url.href);
  }
  // A link opened in this tab replaces the one it had.
  if (given) writeSession(given);
  token = given || readSession() || null;
  return token;
}

// sessionStorage throws in some privacy modes and sandboxed frames: then the
// token holds until the page is reloaded.
function readSession() {
  try {
    return window.sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function writeSession(value) {
  try {
    window.sessionStorage.setItem(KEY, value);
  } catch {
    // Not kept; this visit still has it.
  }
}
