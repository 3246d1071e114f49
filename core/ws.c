/*
 * The puente.v1 WebSocket protocol: sessions, control messages, and audio
 * fan-out from the channel rings. Service thread only: the media thread
 * reaches this code only through puente__room_wake().
 *
 * Each listener has its own cursor into its channel's ring and gets one
 * packet per WRITEABLE callback. The kernel is allowed only send_lowat bytes
 * of unsent data per socket (TCP_NOTSENT_LOWAT), so a slow listener stops
 * being writeable early, its cursor is lapped, and it skips forward with a
 * DISCONT flag: nothing queues up in the relay, and nobody else waits.
 */
#include <errno.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <opus.h>

#include "control.h"
#include "gate.h"
#include "http.h"
#include "invites.h"
#include "log.h"
#include "plugins.h"
#include "server.h"

#define TXQ           32 /* queued control messages per client */
#define CLOCK_EVERY_S 5
#define ALIVE_EVERY_S 60 /* attendance: bounds what a crash leaves unknown */

struct txmsg {
	unsigned char *buf; /* LWS_PRE headroom, then the text */
	size_t len;
};

struct puente__session {
	struct puente__session *next; /* {service thread} list of live sessions */
	struct puente__server *srv;
	struct lws *wsi;
	uint64_t id;
	enum puente_role role;
	int channel; /* -1 until subscribed */
	struct puente__cursor cur;
	struct txmsg txq[TXQ];
	unsigned tx_head, tx_tail;
	unsigned char *rx; /* reassembly of a fragmented message */
	size_t rx_len;
	unsigned rx_frames;
	double tokens;
	uint64_t tokens_ns;
	uint64_t last_write_ns;
	uint64_t connected_us;
	uint64_t sent;    /* audio packets written to this client */
	uint64_t dropped; /* packets it skipped, over every channel it heard */
	char address[48];
	struct puente__grant grant; /* set before the upgrade completes */
	bool addr_counted;          /* counted in the gate's open WebSockets */
	uint16_t close_code;
	const char *close_reason;
	const char *leave_reason; /* for the attendance log */
	bool closing;
	bool in_list;
	uint8_t bundle;                /* packets per message asked in core.hello; 0: auto */
	struct puente__http_req *http; /* plugin HTTP routes, while one is being served */
};

static const char *const role_names[PUENTE_ROLE_COUNT] = {
    [PUENTE_ROLE_LISTENER] = "listener",   [PUENTE_ROLE_INTERPRETER] = "interpreter",
    [PUENTE_ROLE_CAPTIONER] = "captioner", [PUENTE_ROLE_TECHNICIAN] = "technician",
    [PUENTE_ROLE_ORGANISER] = "organiser",
};

static int role_parse(const char *name)
{
	for (int i = 0; i < PUENTE_ROLE_COUNT; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return strcmp(name, "moderator") ? -1 : PUENTE_ROLE_ORGANISER;
}

size_t puente__ws_session_size(void)
{
	return sizeof(struct puente__session);
}

static struct puente__server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

/* Queues a text message whose buffer (LWS_PRE headroom, then n bytes) it takes over. */
static int queue_owned(struct puente__session *s, unsigned char *buf, size_t n)
{
	if (s->tx_head - s->tx_tail >= TXQ || s->closing) {
		free(buf);
		atomic_fetch_add(&s->srv->room->stats.text_dropped, 1);
		return -ENOBUFS;
	}
	s->txq[s->tx_head % TXQ] = (struct txmsg){buf, n};
	s->tx_head++;
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* Queues a copy of a text message. 0, -ENOBUFS (queue full: counted) or -ENOMEM. */
static int queue_text(struct puente__session *s, const char *text, size_t n)
{
	unsigned char *buf = n ? malloc(LWS_PRE + n) : NULL;

	if (!buf) {
		atomic_fetch_add(&s->srv->room->stats.text_dropped, 1);
		return -ENOMEM;
	}
	memcpy(buf + LWS_PRE, text, n);
	return queue_owned(s, buf, n);
}

/* Queues a control message (not stolen: msg stays the caller's). */
static int send_json(struct puente__session *s, const json_t *msg)
{
	size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	unsigned char *buf = n ? malloc(LWS_PRE + n) : NULL;

	if (!buf) {
		atomic_fetch_add(&s->srv->room->stats.text_dropped, 1);
		return -ENOMEM;
	}
	json_dumpb(msg, (char *)buf + LWS_PRE, n, JSON_COMPACT);
	return queue_owned(s, buf, n);
}

/* Builds, sends and releases a message in one step. */
static void send_new(struct puente__session *s, json_t *msg)
{
	if (msg) {
		send_json(s, msg);
		json_decref(msg);
	}
}

static void send_error(struct puente__session *s, const char *code, const char *message,
                       const char *ref)
{
	json_t *m =
	    json_pack("{s:s, s:s, s:s}", "type", "core.error", "code", code, "message", message);

	if (m && ref)
		json_object_set_new(m, "ref", json_string(ref));
	send_new(s, m);
}

static json_t *clock_json(struct puente__room *room)
{
	uint64_t media_time, unix_us;

	puente__clock_get(&room->clock, &media_time, &unix_us);
	return json_pack("{s:I, s:I}", "media_time", (json_int_t)media_time, "unix_us",
	                 (json_int_t)unix_us);
}

static const char *source_name(int state)
{
	return state == PUENTE_SOURCE_LOST ? "lost" : "ok";
}

static void send_welcome(struct puente__session *s)
{
	const struct puente__config *cfg = s->srv->cfg;
	struct puente__room *room = s->srv->room;
	json_t *channels = json_array();

	for (size_t i = 0; i < cfg->n_channels; i++)
		json_array_append_new(channels, json_pack("{s:i, s:s, s:s, s:s}", "id", (int)i,
		                                          "name", cfg->channels[i].name, "label",
		                                          cfg->channels[i].label, "lang",
		                                          cfg->channels[i].lang));
	json_t *you = json_pack("{s:s, s:s?, s:s?}", "role", role_names[s->role], "name",
	                        s->grant.name, "invitee", s->grant.invited ? s->grant.id : NULL);

	send_new(s, json_pack("{s:s, s:i, s:s, s:I, s:{s:s, s:o}, s:{s:s, s:i, s:i, s:i}, "
	                      "s:{s:i}, s:{s:s}, s:o}",
	                      "type", "core.welcome", "protocol", PUENTE_PROTO_VERSION, "server",
	                      "puente " PUENTE_VERSION, "client", (json_int_t)s->id, "room", "name",
	                      cfg->room, "channels", channels, "audio", "codec", "opus",
	                      "sample_rate", PUENTE_SAMPLE_RATE, "channels", 1, "frame_ms",
	                      cfg->frame_ms, "limits", "max_message", PUENTE_MAX_MESSAGE, "source",
	                      "state", source_name(atomic_load(&room->source_state)), "you", you));
}

static void close_with(struct puente__session *s, uint16_t code, const char *reason)
{
	lws_close_reason(s->wsi, code, (unsigned char *)reason, strlen(reason));
}

/* Token bucket on control messages, on the monotonic clock. */
static bool rate_ok(struct puente__session *s)
{
	/* Captioners (and speech engines) send a partial line several times a second. */
	const struct puente__config *cfg = s->srv->cfg;
	bool captioner = s->role == PUENTE_ROLE_CAPTIONER;
	double burst = captioner ? cfg->captioner_burst : cfg->message_burst;
	double rate = captioner ? cfg->captioner_rate : cfg->message_rate;
	uint64_t now = puente__now_mono_ns();

	s->tokens += (double)(now - s->tokens_ns) / 1e9 * rate;
	if (s->tokens > burst)
		s->tokens = burst;
	s->tokens_ns = now;
	if (s->tokens < 1.0)
		return false;
	s->tokens -= 1.0;
	return true;
}

static bool is_staff(const struct puente__session *s)
{
	return s->role == PUENTE_ROLE_TECHNICIAN || s->role == PUENTE_ROLE_ORGANISER;
}

/* The banned addresses, to one session or (s NULL) to every technician and organiser. */
static void send_bans(struct puente__server *srv, struct puente__session *to)
{
	struct puente__gate_ban bans[32];
	size_t n = puente__gate_bans(&srv->gate, bans, 32);
	json_t *list = json_array();

	for (size_t i = 0; i < n && i < 32; i++)
		json_array_append_new(list, json_pack("{s:s, s:I}", "address", bans[i].addr,
		                                      "seconds", (json_int_t)bans[i].seconds));
	json_t *m =
	    json_pack("{s:s, s:o, s:I}", "type", "core.bans", "bans", list, "total", (json_int_t)n);

	srv->bans_sent = n;
	for (struct puente__session *s = srv->sessions; s; s = s->next)
		if ((to ? s == to : is_staff(s)) && !s->closing)
			send_json(s, m);
	json_decref(m);
}

static void on_unban(struct puente__session *s, const struct puente__ctl *c)
{
	struct puente__server *srv = s->srv;
	bool was = false;

	if (!is_staff(s)) {
		atomic_fetch_add(&srv->room->stats.refused_role, 1);
		log_info("client %llu (%s): refused core.unban", (unsigned long long)s->id,
		         role_names[s->role]);
		send_error(s, "forbidden", "not allowed for this role", c->type);
		return;
	}
	was = puente__gate_unban(&srv->gate, c->address) == 0;
	if (was)
		log_info("address %s unbanned by client %llu (%s)", c->address,
		         (unsigned long long)s->id, s->grant.invited ? s->grant.id : "?");
	send_new(s, json_pack("{s:s, s:s, s:b}", "type", "core.unbanned", "address", c->address,
	                      "was_banned", was));
	if (was)
		send_bans(srv, NULL);
}

/* Moves a session to a channel (-1: none) from its next packet on, and says so. */
static void set_channel(struct puente__session *s, int ch)
{
	struct puente__room *room = s->srv->room;

	if (ch != s->channel)
		puente__attendance_event(&s->srv->attendance, "channel", s->id,
		                         s->grant.invited ? s->grant.id : NULL, "channel",
		                         ch < 0 ? NULL : s->srv->cfg->channels[ch].name);
	if (ch < 0) {
		s->channel = -1;
		send_new(s, json_pack("{s:s}", "type", "core.unsubscribed"));
		return;
	}
	/* A first subscription gets a cushion of recent packets; a switch starts at the next one.
	 */
	puente__cursor_start(&room->rings[ch], &s->cur, s->channel < 0 ? PUENTE_RING_MARGIN : 0);
	s->channel = ch;
	s->last_write_ns = puente__now_mono_ns();
	send_new(s, json_pack("{s:s, s:s, s:i, s:o}", "type", "core.subscribed", "channel",
	                      s->srv->cfg->channels[ch].name, "id", ch, "clock", clock_json(room)));
	lws_callback_on_writable(s->wsi);
}

static void on_hello(struct puente__session *s, const struct puente__ctl *c)
{
	int role = c->role ? role_parse(c->role) : PUENTE_ROLE_LISTENER;

	if (role < 0) {
		send_error(s, "bad_field", "unknown role", c->type);
		return;
	}
	/* The invitation decides the role; one may only step down to listening. */
	if (role != (int)s->grant.role && role != PUENTE_ROLE_LISTENER) {
		atomic_fetch_add(&s->srv->room->stats.refused_role, 1);
		log_info("client %llu (%s): refused core.hello as %s", (unsigned long long)s->id,
		         role_names[s->role], role_names[role]);
		send_error(s, "forbidden", "your personal link does not grant this role", c->type);
		return;
	}
	/* Plugins see a role change as leaving and joining again. */
	if ((enum puente_role)role != s->role && s->srv->plugins) {
		puente__plugins_leave(s->srv->plugins, s->id);
		s->role = (enum puente_role)role;
		puente__plugins_join(s->srv->plugins, s->id, s->role);
	}
	s->role = (enum puente_role)role;
	s->bundle = (uint8_t)c->bundle;
	send_new(s, json_pack("{s:s, s:s, s:o}", "type", "core.hello", "role", role_names[role],
	                      "bundle", s->bundle ? json_integer(s->bundle) : json_string("auto")));
}

/* A message in a plugin's namespace; its refusals become core.error replies. */
static void to_plugin(struct puente__session *s, const struct puente__ctl *c)
{
	struct puente__room *room = s->srv->room;
	int rc = s->srv->plugins ? puente__plugins_message(s->srv->plugins, s->id, c->type, c->root)
	                         : -ENOENT;

	switch (rc) {
	case 0:
		return;
	case -EPERM:
		atomic_fetch_add(&room->stats.refused_role, 1);
		log_info("client %llu (%s): refused %s", (unsigned long long)s->id,
		         role_names[s->role], c->type);
		send_error(s, "forbidden", "not allowed for this role", c->type);
		return;
	case -EBUSY:
		send_error(s, "busy", "refused in the current state", c->type);
		return;
	case -EINVAL:
		atomic_fetch_add(&room->stats.bad_messages, 1);
		send_error(s, "bad_field", "a field is missing or of the wrong type", c->type);
		return;
	default:
		atomic_fetch_add(&room->stats.bad_messages, 1);
		send_error(s, "unknown_type", "unknown message type", c->type);
		return;
	}
}

static void on_text(struct puente__session *s, const char *text, size_t len)
{
	struct puente__room *room = s->srv->room;
	struct puente__ctl c;
	int rc = puente__ctl_parse(text, len, &c);

	if (!rate_ok(s)) {
		atomic_fetch_add(&room->stats.rate_limited, 1);
		send_error(s, "rate_limited", "too many control messages; slow down", c.type);
	} else if (rc && c.kind == PUENTE_CTL_UNKNOWN && c.type && strncmp(c.type, "core.", 5)) {
		to_plugin(s, &c);
	} else if (rc) {
		atomic_fetch_add(&room->stats.bad_messages, 1);
		send_error(s, c.error, c.message, c.type);
	} else {
		switch (c.kind) {
		case PUENTE_CTL_SUBSCRIBE: {
			int ch = puente__config_channel(s->srv->cfg, c.channel);

			if (ch < 0) {
				send_error(s, "unknown_channel", "no such channel in this room",
				           c.type);
				atomic_fetch_add(&room->stats.bad_messages, 1);
			} else {
				set_channel(s, ch);
			}
			break;
		}
		case PUENTE_CTL_UNSUBSCRIBE:
			set_channel(s, -1);
			break;
		case PUENTE_CTL_HELLO:
			on_hello(s, &c);
			break;
		case PUENTE_CTL_UNBAN:
			on_unban(s, &c);
			break;
		case PUENTE_CTL_PING:
			send_new(s, json_pack("{s:s, s:O?, s:I}", "type", "core.pong", "id", c.id,
			                      "unix_us", (json_int_t)puente__now_unix_us()));
			break;
		case PUENTE_CTL_UNKNOWN:
			break;
		}
	}
	puente__ctl_fini(&c);
}

/*
 * One complete binary message from a client that may send audio: checked
 * like the relay's own packets (header, length, a TOC that decodes to 2.5
 * to 120 ms) before any plugin sees it.
 */
static void on_audio(struct puente__session *s, const unsigned char *msg, size_t len)
{
	struct puente__room *room = s->srv->room;
	struct puente_header h;
	int samples = 0;

	if (puente_header_parse(msg, len, &h) == 0 && len > PUENTE_HEADER_LEN &&
	    len - PUENTE_HEADER_LEN <= PUENTE_MAX_OPUS)
		samples = opus_packet_get_nb_samples(msg + PUENTE_HEADER_LEN,
		                                     (opus_int32)(len - PUENTE_HEADER_LEN),
		                                     PUENTE_SAMPLE_RATE);
	if (samples < 120 || samples > 5760) {
		atomic_fetch_add(&room->stats.audio_invalid, 1);
		return;
	}
	struct puente_packet pkt = {
	    .channel = h.channel,
	    .flags = h.flags,
	    .seq = h.seq,
	    .media_time = h.media_time,
	    .samples = (uint32_t)samples,
	    .len = (uint32_t)(len - PUENTE_HEADER_LEN),
	    .data = msg + PUENTE_HEADER_LEN,
	};
	if (!s->srv->plugins || puente__plugins_audio(s->srv->plugins, s->id, &pkt))
		atomic_fetch_add(&room->stats.audio_dropped, 1);
	else
		atomic_fetch_add(&room->stats.audio_received, 1);
}

/*
 * A chunk of an incoming message. Size and fragment caps are checked on
 * every chunk against what the frame header announces, so a huge declared
 * length is refused before any of it is buffered.
 */
static int on_receive(struct puente__session *s, const unsigned char *in, size_t len)
{
	struct puente__room *room = s->srv->room;
	size_t remaining = lws_remaining_packet_payload(s->wsi);
	bool frame_done = remaining == 0;
	bool msg_done = frame_done && lws_is_final_fragment(s->wsi);

	bool binary = lws_frame_is_binary(s->wsi);

	if (binary && s->role != PUENTE_ROLE_INTERPRETER) {
		atomic_fetch_add(&room->stats.refused_audio, 1);
		log_info("client %llu (%s): refused audio", (unsigned long long)s->id,
		         role_names[s->role]);
		close_with(s, PUENTE_CLOSE_POLICY, "only interpreters may send audio");
		return -1;
	}
	if (s->rx_len + len + remaining > PUENTE_MAX_MESSAGE) {
		atomic_fetch_add(&room->stats.refused_too_big, 1);
		close_with(s, PUENTE_CLOSE_TOO_BIG, "message too big (max 16384 bytes)");
		return -1;
	}
	if (frame_done && ++s->rx_frames > PUENTE_MAX_FRAGMENTS) {
		atomic_fetch_add(&room->stats.refused_fragments, 1);
		close_with(s, PUENTE_CLOSE_POLICY, "too many fragments (max 64)");
		return -1;
	}
	const unsigned char *whole = in;
	size_t whole_len = len;

	if (!msg_done || s->rx) {
		if (!s->rx && !(s->rx = malloc(PUENTE_MAX_MESSAGE)))
			return -1;
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += len;
		whole = s->rx;
		whole_len = s->rx_len;
	}
	if (msg_done && binary)
		on_audio(s, whole, whole_len);
	else if (msg_done)
		on_text(s, (const char *)whole, whole_len);
	if (msg_done) {
		free(s->rx);
		s->rx = NULL;
		s->rx_len = 0;
		s->rx_frames = 0;
	}
	return 0;
}

/* Packets per message for this client: its own choice, or the relay's under load. */
static unsigned bundle_size(const struct puente__session *s)
{
	const struct puente__config *cfg = s->srv->cfg;

	if (s->bundle)
		return s->bundle;
	if (s->role == PUENTE_ROLE_LISTENER && s->srv->n_sessions > (size_t)cfg->bundle_above)
		return (unsigned)cfg->bundle_auto;
	return 1;
}

/* Whether the next message for this client is complete: one packet, or a whole bundle. */
static bool audio_ready(const struct puente__session *s)
{
	return s->channel >= 0 &&
	       puente__chan_waiting(&s->srv->room->rings[s->channel], &s->cur) >= bundle_size(s);
}

/*
 * Sends the next packet, or the next bundle, from the client's channel. The
 * message is built in the service thread's one buffer: lws keeps its own
 * copy of whatever the kernel did not take.
 */
static int write_audio(struct puente__session *s)
{
	struct puente__room *room = s->srv->room;
	struct puente__chan_ring *ring = &room->rings[s->channel];
	unsigned char *msg = s->srv->out + LWS_PRE;
	unsigned want = bundle_size(s), n = 0;
	size_t off = PUENTE_BUNDLE_PREFIX, len = 0;
	uint64_t dropped = s->cur.dropped;

	while (n < want) {
		len = puente__chan_read(ring, &s->cur, msg + off + PUENTE_BUNDLE_ITEM,
		                        PUENTE_MAX_FRAME);
		if (!len)
			break;
		msg[off] = (unsigned char)(len >> 8);
		msg[off + 1] = (unsigned char)len;
		off += PUENTE_BUNDLE_ITEM + len;
		n++;
	}
	if (s->cur.dropped != dropped) {
		atomic_fetch_add(&room->stats.packets_dropped, s->cur.dropped - dropped);
		s->dropped += s->cur.dropped - dropped;
	}
	if (!n)
		return 0;
	if (n == 1) {
		/* A single packet goes out bare; the bytes before it are headroom enough. */
		msg += PUENTE_BUNDLE_PREFIX + PUENTE_BUNDLE_ITEM;
		off = len;
	} else {
		msg[0] = PUENTE_PROTO_VERSION;
		msg[1] = PUENTE_KIND_BUNDLE;
		msg[2] = (unsigned char)n;
		msg[3] = 0;
	}
	if (lws_write(s->wsi, msg, off, LWS_WRITE_BINARY) < 0)
		return -1;
	atomic_fetch_add_explicit(&room->stats.packets_sent, n, memory_order_relaxed);
	s->sent += n;
	s->last_write_ns = puente__now_mono_ns();
	return 0;
}

/* One message per WRITEABLE: control messages first, then the next audio packet or bundle. */
static int on_writeable(struct puente__session *s)
{
	if (s->closing) {
		close_with(s, s->close_code, s->close_reason);
		return -1;
	}
	if (s->tx_head != s->tx_tail) {
		struct txmsg *m = &s->txq[s->tx_tail % TXQ];
		int n = lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);

		free(m->buf);
		m->buf = NULL;
		s->tx_tail++;
		if (n < 0)
			return -1;
	} else if (audio_ready(s) && write_audio(s) < 0) {
		return -1;
	}
	if (s->tx_head != s->tx_tail || audio_ready(s))
		lws_callback_on_writable(s->wsi);
	return 0;
}

static void on_established(struct puente__session *s, struct lws *wsi)
{
	struct puente__server *srv = server_of(wsi);
	int lowat = srv->cfg->send_lowat;

	/* lws zeroed the session; the door (filter_upgrade) filled in the grant. */
	s->srv = srv;
	s->wsi = wsi;
	s->id = srv->next_client_id++;
	s->role = s->grant.role;
	s->leave_reason = "closed";
	s->channel = -1;
	s->tokens =
	    s->role == PUENTE_ROLE_CAPTIONER ? srv->cfg->captioner_burst : srv->cfg->message_burst;
	s->tokens_ns = puente__now_mono_ns();
	s->connected_us = puente__now_unix_us();
	s->next = srv->sessions;
	s->in_list = true;
	srv->sessions = s;
	srv->n_sessions++;
	setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	atomic_fetch_add(&srv->room->stats.clients_now, 1);
	atomic_fetch_add(&srv->room->stats.clients_total, 1);
	puente__gate_open(&srv->gate, s->address);
	s->addr_counted = true;
	puente__attendance_event(&srv->attendance, "join", s->id,
	                         s->grant.invited ? s->grant.id : NULL, "role",
	                         role_names[s->role]);
	send_welcome(s);
	if (is_staff(s))
		send_bans(srv, s);
	if (srv->plugins)
		puente__plugins_join(srv->plugins, s->id, s->role);
}

static void on_closed(struct puente__session *s)
{
	struct puente__server *srv = s->srv;

	if (s->addr_counted)
		puente__gate_close(&srv->gate, s->address);
	s->addr_counted = false;
	if (!s->in_list) {
		puente__grant_fini(&s->grant);
		return;
	}
	for (struct puente__session **p = &srv->sessions; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	s->in_list = false;
	srv->n_sessions--;
	if (srv->plugins)
		puente__plugins_leave(srv->plugins, s->id);
	atomic_fetch_sub(&srv->room->stats.clients_now, 1);
	puente__attendance_event(&srv->attendance, "leave", s->id,
	                         s->grant.invited ? s->grant.id : NULL, "reason", s->leave_reason);
	puente__grant_fini(&s->grant);
	while (s->tx_tail != s->tx_head)
		free(s->txq[s->tx_tail++ % TXQ].buf);
	free(s->rx);
	s->rx = NULL;
}

/*
 * Answers an upgrade request with an HTTP error instead of 101. lws 4.1
 * gives the filter callback no way to set a status, but still writes HTTP
 * types raw (through TLS when it is on); the connection then closes.
 */
static int refuse(struct lws *wsi, int status, const char *reason, unsigned retry_s)
{
	static const struct {
		int code;
		const char *text;
	} names[] = {{401, "Unauthorized"},
	             {403, "Forbidden"},
	             {409, "Conflict"},
	             {429, "Too Many Requests"},
	             {503, "Service Unavailable"}};
	unsigned char buf[LWS_PRE + 512];
	char retry[48] = "";
	const char *text = "Error";
	int n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == status)
			text = names[i].text;
	if (retry_s)
		snprintf(retry, sizeof(retry), "Retry-After: %u\r\n", retry_s);
	n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
	             "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	             "Content-Length: %zu\r\nCache-Control: no-store\r\n%s"
	             "Connection: close\r\n\r\n%s\n",
	             status, text, strlen(reason) + 1, retry, reason);
	lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_FINAL);
	return -1;
}

/* Another live session on the same invitation, if any. */
static struct puente__session *holder_of(struct puente__server *srv, const char *id)
{
	for (struct puente__session *o = srv->sessions; o; o = o->next)
		if (!o->closing && o->grant.invited && !strcmp(o->grant.id, id))
			return o;
	return NULL;
}

static void close_later(struct puente__session *s, uint16_t code, const char *reason,
                        const char *leave_reason)
{
	s->closing = true;
	s->close_code = code;
	s->close_reason = reason;
	s->leave_reason = leave_reason;
	s->channel = -1;
	lws_callback_on_writable(s->wsi);
}

/*
 * The door: only the WebSocket path upgrades, and only with a personal link
 * (or as an anonymous listener where that is allowed). Everything is read
 * with lws_hdr_copy here; nothing in CONFIRM_UPGRADE (CVE-2025-11677).
 */
static int filter_upgrade(struct lws *wsi, struct puente__session *s)
{
	struct puente__server *srv = server_of(wsi);
	struct puente__stats *st = &srv->room->stats;
	char uri[64], arg[256];
	const char *token;
	unsigned retry_s = 0;
	enum puente_verdict v;

	if (srv->stopping)
		return refuse(wsi, 503, "relay shutting down", 0);
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
	    strcmp(uri, PUENTE_WS_PATH))
		return -1;
	lws_get_peer_simple(wsi, s->address, sizeof(s->address));
	puente__gate_addr_tidy(s->address);
	switch (puente__gate_check(&srv->gate, s->address, &retry_s)) {
	case PUENTE_GATE_BANNED: {
		char msg[80];

		snprintf(msg, sizeof(msg), "too many attempts; try again in %u s", retry_s);
		return refuse(wsi, 429, msg, retry_s);
	}
	case PUENTE_GATE_TOO_MANY:
		return refuse(wsi, 429, "too many connections from this address", 0);
	case PUENTE_GATE_OK:
		break;
	}
	token = lws_get_urlarg_by_name(wsi, "t=", arg, sizeof(arg));
	if (!token && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) <= 0) {
		if (srv->cfg->anonymous_listeners) {
			s->grant.role = PUENTE_ROLE_LISTENER;
			return 0;
		}
		atomic_fetch_add(&st->refused_token, 1);
		return refuse(wsi, 401, "personal link needed", 0);
	}
	v = token ? puente__invites_check(&srv->invites, token, strlen(token), &s->grant)
	          : PUENTE_ACCESS_MALFORMED;
	memset(arg, 0, sizeof(arg));
	if (v != PUENTE_ACCESS_OK) {
		atomic_fetch_add(&st->refused_token, 1);
		log_info("refused a link from %s: %s%s%s", s->address, puente_verdict_name(v),
		         s->grant.invited ? " for " : "", s->grant.invited ? s->grant.id : "");
		puente__grant_fini(&s->grant);
		switch (v) {
		case PUENTE_ACCESS_REVOKED:
			return refuse(wsi, 403, "link revoked", 0);
		case PUENTE_ACCESS_EXPIRED:
			return refuse(wsi, 401, "link expired", 0);
		case PUENTE_ACCESS_NOT_YET:
			return refuse(wsi, 401, "link not valid yet", 0);
		default:
			/* Only guesses count towards a ban: a stale link is no attack. */
			if (puente__gate_failed(&srv->gate, s->address))
				send_bans(srv, NULL);
			return refuse(wsi, 401, "invalid link", 0);
		}
	}
	struct puente__session *holder = holder_of(srv, s->grant.id);

	if (holder && !srv->cfg->takeover) {
		atomic_fetch_add(&st->refused_duplicate, 1);
		log_info("refused a second connection for %s from %s", s->grant.id, s->address);
		puente__grant_fini(&s->grant);
		return refuse(wsi, 409, "already connected on another device", 0);
	}
	if (holder) {
		atomic_fetch_add(&st->taken_over, 1);
		log_info("client %llu (%s): taken over from %s", (unsigned long long)holder->id,
		         holder->grant.id, s->address);
		close_later(holder, PUENTE_CLOSE_TAKEN_OVER, "opened on another device",
		            "taken_over");
	}
	return 0;
}

static void begin_shutdown(struct puente__server *srv)
{
	srv->stopping = true;
	srv->stop_deadline_ns = puente__now_mono_ns() + (uint64_t)srv->cfg->drain_ms * 1000000u;
	log_info("shutting down: closing %zu client(s)", srv->n_sessions);
	for (struct puente__session *s = srv->sessions; s; s = s->next)
		close_later(s, PUENTE_CLOSE_GOING_AWAY, "relay shutting down", "shutdown");
}

static struct puente__session *find(struct puente__server *srv, uint64_t id)
{
	for (struct puente__session *s = srv->sessions; s; s = s->next)
		if (s->id == id && !s->closing)
			return s;
	return NULL;
}

int puente__ws_send_text(struct puente__server *srv, uint64_t to, int role, const char *text,
                         size_t len)
{
	if (to) {
		struct puente__session *s = find(srv, to);

		return s ? queue_text(s, text, len) : -ENOENT;
	}
	for (struct puente__session *s = srv->sessions; s; s = s->next)
		if ((int)s->role == role)
			queue_text(s, text, len);
	return 0;
}

int puente__ws_subscribe(struct puente__server *srv, uint64_t client, int channel)
{
	struct puente__session *s = find(srv, client);

	if (!s)
		return -ENOENT;
	set_channel(s, channel);
	return 0;
}

int puente__ws_subscription(struct puente__server *srv, uint64_t client)
{
	struct puente__session *s = find(srv, client);

	return s ? s->channel : -ENOENT;
}

int puente__ws_role(struct puente__server *srv, uint64_t client)
{
	struct puente__session *s = find(srv, client);

	return s ? (int)s->role : -ENOENT;
}

const char *puente__ws_grant(struct puente__server *srv, uint64_t client, const char *key)
{
	struct puente__session *s = find(srv, client);

	if (!s || !s->grant.invited)
		return NULL;
	if (!strcmp(key, "booths"))
		return s->grant.booths;
	if (!strcmp(key, "languages"))
		return s->grant.languages;
	if (!strcmp(key, "invitee"))
		return s->grant.id;
	if (!strcmp(key, "name"))
		return s->grant.name;
	return NULL;
}

void puente__ws_attendance_note(struct puente__server *srv, uint64_t client, const char *what,
                                const char *value)
{
	struct puente__session *s = find(srv, client);

	/* Only the choices the report knows how to count. */
	if (s && !strcmp(what, "captions"))
		puente__attendance_event(&srv->attendance, "captions", s->id,
		                         s->grant.invited ? s->grant.id : NULL, "lang", value);
}

int puente__ws_clients(struct puente__server *srv, struct puente_client_info *out, size_t cap)
{
	size_t n = 0;

	for (struct puente__session *s = srv->sessions; s; s = s->next, n++) {
		if (n >= cap)
			continue;
		uint64_t lag =
		    s->channel >= 0
		        ? puente__chan_published(&srv->room->rings[s->channel]) - s->cur.pos
		        : 0;
		out[n] = (struct puente_client_info){
		    .id = s->id,
		    .role = s->role,
		    .channel = s->channel,
		    .connected_us = s->connected_us,
		    .sent = s->sent,
		    .dropped = s->dropped,
		    .lag_packets = lag > UINT32_MAX ? UINT32_MAX : (uint32_t)lag,
		    .queued_text = s->tx_head - s->tx_tail,
		};
		snprintf(out[n].address, sizeof(out[n].address), "%s", s->address);
	}
	return (int)n;
}

/* Messages other threads queued for clients (plugin threads' send_json). */
static void drain_inbox(struct puente__server *srv)
{
	struct puente__post posts[PUENTE_INBOX];
	size_t n;

	pthread_mutex_lock(&srv->inbox_lock);
	n = srv->inbox_n;
	memcpy(posts, srv->inbox, n * sizeof(posts[0]));
	srv->inbox_n = 0;
	pthread_mutex_unlock(&srv->inbox_lock);
	for (size_t i = 0; i < n; i++) {
		puente__ws_send_text(srv, posts[i].to, posts[i].role, posts[i].text, posts[i].len);
		free(posts[i].text);
	}
}

/*
 * Hands each client its new audio straight away instead of waiting for a
 * POLLOUT round trip per client (README, "Speed"). Only a client with nothing
 * else in flight is written to here; lws 4.1 corrupts the stream if one
 * writes while part of an earlier message is still buffered. The others go
 * through WRITEABLE.
 */
static void fan_out(struct puente__server *srv)
{
	for (struct puente__session *s = srv->sessions; s; s = s->next) {
		if (!audio_ready(s))
			continue;
		if (s->closing || s->tx_head != s->tx_tail || lws_partial_buffered(s->wsi)) {
			lws_callback_on_writable(s->wsi);
			continue;
		}
		if (write_audio(s) < 0) {
			close_later(s, PUENTE_CLOSE_GOING_AWAY, "send failed", "error");
			continue;
		}
		if (audio_ready(s) || lws_partial_buffered(s->wsi))
			lws_callback_on_writable(s->wsi);
	}
}

/*
 * Once lws starts a close (the callback returned -1, or the client sent its
 * close) the session stays listed until CLOSED, but nothing may be written to
 * it any more: lws 4.1 would send audio after the close frame.
 */
static int leave_on_error(struct puente__session *s, int rc)
{
	if (rc < 0)
		s->channel = -1;
	return rc;
}

void puente__ws_wake(struct puente__server *srv)
{
	struct puente__room *room = srv->room;

	/* An exchange, not a store: it pairs with the publisher's exchange. */
	atomic_exchange_explicit(&room->wake_pending, 0, memory_order_acq_rel);
	if (atomic_load(&srv->stop_requested) && !srv->stopping)
		begin_shutdown(srv);
	if (srv->stopping)
		return;
	drain_inbox(srv);

	uint32_t gen = atomic_load(&room->source_gen);
	if (gen != srv->source_gen_seen) {
		int state = atomic_load(&room->source_state);
		json_t *m = json_pack(
		    "{s:s, s:s, s:s}", "type", "core.source", "state", source_name(state), "detail",
		    state == PUENTE_SOURCE_LOST ? "the room's audio input stopped; reconnecting it"
		                                : "the room's audio input is back");

		srv->source_gen_seen = gen;
		for (struct puente__session *s = srv->sessions; s; s = s->next)
			send_json(s, m);
		json_decref(m);
	}
	fan_out(srv);
}

/* After the store changed: those whose invitation no longer stands leave. */
static void close_revoked(struct puente__server *srv)
{
	for (struct puente__session *s = srv->sessions; s; s = s->next) {
		if (s->closing || puente__invites_still_valid(&srv->invites, &s->grant))
			continue;
		atomic_fetch_add(&srv->room->stats.revoked_closed, 1);
		log_info("client %llu (%s): invitation revoked", (unsigned long long)s->id,
		         s->grant.id);
		close_later(s, PUENTE_CLOSE_REVOKED, "invitation revoked", "revoked");
	}
}

void puente__ws_tick(struct puente__server *srv)
{
	uint64_t now = puente__now_mono_ns();
	uint64_t stall_ns = (uint64_t)srv->cfg->stall_timeout_s * 1000000000u;
	bool clock_due = now - srv->last_clock_ns >= CLOCK_EVERY_S * 1000000000ull;

	if (srv->stopping)
		return;
	if (now - srv->last_sweep_ns >= 1000000000ull) {
		srv->last_sweep_ns = now;
		/* Handshakes leave freed header buffers between the sessions' memory;
		 * after people joined, hand those pages back. */
		if (srv->next_client_id != srv->trimmed_at_id) {
			srv->trimmed_at_id = srv->next_client_id;
			malloc_trim(64 * 1024);
		}
		puente__gate_sweep(&srv->gate);
		if (atomic_load(&srv->room->stats.banned_now) != srv->bans_sent)
			send_bans(srv, NULL); /* a ban ran out */
		if (puente__invites_reload(&srv->invites))
			close_revoked(srv);
	}
	if (now - srv->last_alive_ns >= ALIVE_EVERY_S * 1000000000ull) {
		srv->last_alive_ns = now;
		puente__attendance_alive(&srv->attendance);
	}
	if (clock_due)
		srv->last_clock_ns = now;
	for (struct puente__session *s = srv->sessions; s; s = s->next) {
		if (s->channel < 0)
			continue;
		if (audio_ready(s) && now - s->last_write_ns > stall_ns) {
			/* It took nothing for stall_timeout: no close frame could get through. */
			atomic_fetch_add(&srv->room->stats.stalled_closed, 1);
			log_info("client %llu: dropped, took no audio for %d s",
			         (unsigned long long)s->id, srv->cfg->stall_timeout_s);
			s->channel = -1;
			s->leave_reason = "dropped";
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			continue;
		}
		if (clock_due) {
			json_t *m = clock_json(srv->room);

			json_object_set_new(m, "type", json_string("core.clock"));
			send_new(s, m);
		}
	}
}

int puente__ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
	struct puente__session *s = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		struct puente__server *srv = server_of(wsi);
		const struct lws_filter_network_conn_args *a = user;

		if (!srv || srv->stopping)
			return -1;
		return puente__gate_accept(&srv->gate, (const struct sockaddr *)&a->cli_addr,
		                           (int)(lws_intptr_t)in)
		           ? 0
		           : -1;
	}
	case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
		if (server_of(wsi))
			puente__gate_ready(&server_of(wsi)->gate, lws_get_socket_fd(wsi));
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (server_of(wsi))
			puente__gate_ready(&server_of(wsi)->gate, lws_get_socket_fd(wsi));
		return filter_upgrade(wsi, s);
	case LWS_CALLBACK_ESTABLISHED:
		on_established(s, wsi);
		return 0;
	case LWS_CALLBACK_CLOSED:
		on_closed(s);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* An upgrade that failed after the door let it through never saw CLOSED. */
		if (s) {
			puente__grant_fini(&s->grant);
			puente__http_req_free(&s->http);
		}
		return 0;
	case LWS_CALLBACK_RECEIVE:
		return leave_on_error(s, on_receive(s, in, len));
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return leave_on_error(s, on_writeable(s));
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		leave_on_error(s, -1);
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
		struct puente__server *srv = lws_context_user(lws_get_context(wsi));

		if (srv)
			puente__ws_wake(srv);
		return 0;
	}
	default: {
		struct puente__server *srv = lws_context_user(lws_get_context(wsi));
		int rc = srv && s ? puente__http_callback(srv, wsi, reason, &s->http, in, len) : 1;

		return rc == 1 ? lws_callback_http_dummy(wsi, reason, user, in, len) : rc;
	}
	}
}
