// Interface strings in English and Spanish (other pages add theirs with
// addStrings). Only our own strings live here;
// text that comes from the relay (room name, channel labels, error messages)
// is shown as the relay sent it, always through textContent.

const STRINGS = {
  en: {
    page_title: 'puente: listen live',
    heading: 'Listen live',
    language: 'Language',
    room_unknown: 'Room',
    channel: 'Channel',
    channels_waiting: 'Waiting for the channel list…',
    player: 'Player',
    play: 'Play',
    stop: 'Stop',
    volume: 'Volume',
    level: 'Output level',
    status: 'Status',
    delay: 'Delay',
    buffer: 'Jitter buffer',
    packets: 'Packets',
    gaps: 'Gaps',
    decode_errors: 'Decode errors',
    underruns: 'Underruns',
    state_connecting: 'Connecting…',
    state_live: 'Live',
    state_reconnecting: 'Connection lost, reconnecting',
    state_source_lost: 'Source lost: the room audio has stopped',
    countdown: 'in {n} s',
    listening: 'Live: listening to {channel}',
    stopped: 'Live: stopped',
    delay_value: '≈ {total} ms (network {net} ms, playback {buf} ms)',
    buffer_value: '{fill} ms (target {target} ms)',
    level_text: '{db} dBFS',
    level_silent: 'silent',
    err_relay: 'Relay error ({code}): {message}',
    err_closed: 'The relay closed the connection (code {code}).',
    err_closed_1001: 'The relay is shutting down or restarting.',
    err_closed_1008: 'The relay refused this connection (policy).',
    err_closed_1009: 'The relay refused a message that was too big.',
    err_no_codec: 'This browser cannot decode the audio (no WebCodecs Opus). Try a current Chrome, Edge or Firefox.',
    err_audio: 'Could not start the audio: {message}',
    channel_auto: 'My language (follows the floor)',
    underneath: 'Original underneath',
    underneath_hint: 'The floor, quietly under an interpretation. 0 is off.',
    underneath_value: '{n} %',
    underneath_off: 'off',
    reason_chosen: 'You hear {channel}.',
    reason_interpretation: 'The floor speaks {floor}: you hear the interpretation, {channel}.',
    reason_floor_is_your_language: 'The floor speaks your language ({language}): you hear the floor.',
    reason_no_interpreter: 'No interpreter is live on {language}: you hear the floor.',
    reason_no_interpreter_silence: 'No interpreter is live on {language}: silence until one is.',
    floor_unknown: 'another language',
    captions: 'Captions',
    caption_lang: 'Caption language',
    caption_lang2: 'Second language, side by side',
    captions_none: 'None',
    caption_large: 'Large text',
    caption_head: 'Captions in {language}',
    captions_on: 'Captions in {language} are on.',
    captions_on_two: 'Captions in {language} and {second} are on.',
    captions_off: 'Captions are off.',
    captions_err: 'Captions: the relay refused ({code}): {message}',
    // Personal links, on every page (lib/access.js).
    state_closed: 'Not connected',
    access_refused: 'The relay refused your personal link: it is invalid, expired or revoked. Ask the organisers for a new one.',
    access_needed: 'This event is by invitation: open the personal link from your invitation.',
    access_taken_over: 'Your personal link was opened on another device, so this one was disconnected.',
    access_revoked: 'Your invitation was revoked: this link no longer works.',
    access_retry: 'Try again',
    access_reconnect_here: 'Reconnect here',
    you: 'You: {name} ({role})',
    role_listener: 'listener',
    role_interpreter: 'interpreter',
    role_captioner: 'captioner',
    role_technician: 'technician',
    role_organiser: 'organiser',
  },
  es: {
    page_title: 'puente: escuchar en directo',
    heading: 'Escuchar en directo',
    language: 'Idioma',
    room_unknown: 'Sala',
    channel: 'Canal',
    channels_waiting: 'Esperando la lista de canales…',
    player: 'Reproductor',
    play: 'Reproducir',
    stop: 'Detener',
    volume: 'Volumen',
    level: 'Nivel de salida',
    status: 'Estado',
    delay: 'Retardo',
    buffer: 'Búfer de fluctuación',
    packets: 'Paquetes',
    gaps: 'Huecos',
    decode_errors: 'Errores de decodificación',
    underruns: 'Vaciados del búfer',
    state_connecting: 'Conectando…',
    state_live: 'En directo',
    state_reconnecting: 'Conexión perdida, reconectando',
    state_source_lost: 'Sin señal: el audio de la sala se ha detenido',
    countdown: 'en {n} s',
    listening: 'En directo: escuchando {channel}',
    stopped: 'En directo: detenido',
    delay_value: '≈ {total} ms (red {net} ms, reproducción {buf} ms)',
    buffer_value: '{fill} ms (objetivo {target} ms)',
    level_text: '{db} dBFS',
    level_silent: 'silencio',
    err_relay: 'Error del relé ({code}): {message}',
    err_closed: 'El relé cerró la conexión (código {code}).',
    err_closed_1001: 'El relé se está apagando o reiniciando.',
    err_closed_1008: 'El relé rechazó esta conexión (política).',
    err_closed_1009: 'El relé rechazó un mensaje demasiado grande.',
    err_no_codec: 'Este navegador no puede decodificar el audio (falta Opus en WebCodecs). Pruebe con Chrome, Edge o Firefox actuales.',
    err_audio: 'No se pudo iniciar el audio: {message}',
    channel_auto: 'Mi idioma (sigue a la sala)',
    underneath: 'Original de fondo',
    underneath_hint: 'La sala, baja, debajo de una interpretación. 0 es apagado.',
    underneath_value: '{n} %',
    underneath_off: 'apagado',
    reason_chosen: 'Escucha {channel}.',
    reason_interpretation: 'En la sala se habla {floor}: escucha la interpretación, {channel}.',
    reason_floor_is_your_language: 'En la sala se habla su idioma ({language}): escucha la sala.',
    reason_no_interpreter: 'No hay intérprete en directo en {language}: escucha la sala.',
    reason_no_interpreter_silence: 'No hay intérprete en directo en {language}: silencio hasta que lo haya.',
    floor_unknown: 'otro idioma',
    captions: 'Subtítulos',
    caption_lang: 'Idioma de los subtítulos',
    caption_lang2: 'Segundo idioma, al lado',
    captions_none: 'Ninguno',
    caption_large: 'Texto grande',
    caption_head: 'Subtítulos en {language}',
    captions_on: 'Subtítulos en {language} activados.',
    captions_on_two: 'Subtítulos en {language} y {second} activados.',
    captions_off: 'Subtítulos desactivados.',
    captions_err: 'Subtítulos: el relé rechazó ({code}): {message}',
    state_closed: 'Sin conexión',
    access_refused: 'El relé rechazó su enlace personal: no es válido, ha caducado o fue revocado. Pida uno nuevo a la organización.',
    access_needed: 'Este evento es solo con invitación: abra el enlace personal de su invitación.',
    access_taken_over: 'Su enlace personal se abrió en otro dispositivo, así que este se desconectó.',
    access_revoked: 'Su invitación fue revocada: este enlace ya no funciona.',
    access_retry: 'Reintentar',
    access_reconnect_here: 'Volver a conectar aquí',
    you: 'Usted: {name} ({role})',
    role_listener: 'oyente',
    role_interpreter: 'intérprete',
    role_captioner: 'subtitulador/a',
    role_technician: 'técnico/a',
    role_organiser: 'organizador/a',
  },
};

export const LANGUAGES = Object.keys(STRINGS);

// Pages other than the listener's (the booth) bring their own strings:
// {en: {...}, es: {...}}, merged over these. Call before setLanguage().
export function addStrings(table) {
  for (const lang of LANGUAGES) Object.assign(STRINGS[lang], table[lang] || {});
}

// The name of a language tag in the page's language ("es" -> "Spanish" or
// "español"), or the tag itself when the browser cannot name it.
export function languageName(tag) {
  if (typeof tag !== 'string' || !tag) return '';
  try {
    return new Intl.DisplayNames([current], { type: 'language' }).of(tag) || tag;
  } catch {
    return tag;
  }
}

const STORAGE_KEY = 'puente.lang';

let current = 'en';

// A stored choice wins; otherwise the browser's language: Spanish for any
// es-* locale, English for everything else.
export function initialLanguage() {
  const stored = readStorage(STORAGE_KEY);
  if (LANGUAGES.includes(stored)) return stored;
  return (navigator.language || '').toLowerCase().startsWith('es') ? 'es' : 'en';
}

export function language() {
  return current;
}

// Switches every [data-i18n] element and <html lang>; remembers the choice
// when persist is set (an explicit user action, not the default).
export function setLanguage(lang, persist) {
  current = LANGUAGES.includes(lang) ? lang : 'en';
  if (persist) writeStorage(STORAGE_KEY, current);
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}

// Parameters are substituted as plain text; callers put the result in
// textContent, so a parameter can never become markup.
export function t(key, params = {}) {
  const s = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

// localStorage throws in some privacy modes and sandboxed frames: the page
// must work without it.
export function readStorage(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeStorage(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // Not persisted; the choice still holds for this visit.
  }
}
