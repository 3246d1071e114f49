/*
 * The interpretation plugin: booths of interpreters speaking into language
 * channels, handover between booth partners without a gap, and what each
 * listener hears (README, "Interpretation messages").
 *
 * Threads: init() and destroy() on the main thread; every event on the lws
 * service thread, one at a time. The plugin has no thread of its own, so its
 * state needs no lock, and it never blocks.
 *
 * Media time: interpreter packets arrive with network jitter, so stamping each
 * with the room clock on arrival would make the channel overlap itself or leave
 * gaps. Each output channel keeps a timeline instead: a packet gets the media
 * time right after the previous one on that channel, and only a channel that
 * was idle is anchored again on the room clock (flagged DISCONT).
 *
 * Invitations: an interpreter whose invitation names booths (the host's
 * client_grant "booths") may join, claim, switch into, and be handed over
 * only those. The grant is read as the interpreter joins; every way into a
 * booth goes through interpretation.join or handover.force, which check it, so
 * being live in a booth implies it may speak there.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <puente/plugin.h>
#include <puente/protocol.h>

#define NS "interpretation"
/* Longest language tag accepted; BCP 47 tags in use are far shorter. */
#define MAX_TAG 35
/* Longest booth id or channel name read from a message. */
#define MAX_NAME          63
#define MAX_BOOTHS_CONFIG 1024
/*
 * A channel that published nothing for 200 ms is idle: the next packet starts
 * a new run. Shorter stalls are network jitter and keep the run contiguous.
 */
#define IDLE_SAMPLES (PUENTE_SAMPLE_RATE / 5)
/* A new run starts this far behind the room clock, so a burst does not run ahead of it. */
#define ANCHOR_MARGIN (PUENTE_SAMPLE_RATE * 60 / 1000)

enum fallback {
	FALLBACK_FLOOR,
	FALLBACK_SILENCE,
};

enum choice {
	CHOICE_NONE, /* never sent interpretation.listen: the plugin leaves it alone */
	CHOICE_FLOOR,
	CHOICE_CHANNEL,
	CHOICE_AUTO,
};

enum reason {
	REASON_CHOSEN,
	REASON_INTERPRETATION,
	REASON_FLOOR_IS_YOURS,
	REASON_NO_INTERPRETER,
};

/* The media times of one stream of packets (an output channel, or a booth's speech). */
struct timeline {
	bool started;
	uint64_t next;    /* media_time of the next packet */
	uint64_t last_at; /* room clock when the last packet was published */
};

struct booth {
	char id[MAX_NAME + 1]; /* its channel names joined by '-' */
	int channels[PUENTE_MAX_CHANNELS];
	int n_channels;
	puente_client_id live;    /* 0: nobody */
	int direction;            /* channel the live interpreter speaks into; -1 when nobody */
	bool muted, cough;        /* the live interpreter's; cleared when someone else goes live */
	puente_client_id pending; /* partner who asked for a handover; 0: none */
	/*
	 * The live speech of the booth across its channels: a direction switch
	 * continues it on the new channel instead of jumping on the room clock.
	 */
	struct timeline speech;
};

struct client {
	puente_client_id id;
	enum puente_role role;
	int heard; /* channel this plugin last subscribed it to; -2 before the first time */
	/* interpreters */
	bool restricted;                   /* its invitation names booths: only those in may_use */
	bool may_use[PUENTE_MAX_CHANNELS]; /* by booth index */
	int booth;                         /* index in booths; -1 none */
	int source;                        /* what it hears when it is not waiting for a handover */
	/* everyone else, once it sent interpretation.listen */
	enum choice choice;
	int chosen;                 /* CHOICE_CHANNEL */
	char language[MAX_TAG + 1]; /* "" when none was given */
	enum reason reason;         /* of the last interpretation.listening sent */
};

struct interp {
	const struct puente_host *host;
	int n_channels;
	int floor;
	enum fallback fallback;
	char floor_language[MAX_TAG + 1];
	char suggested_floor[MAX_TAG + 1]; /* "" for none */
	struct booth booths[PUENTE_MAX_CHANNELS];
	int n_booths;
	int booth_of[PUENTE_MAX_CHANNELS]; /* channel -> booth index, -1 none */
	struct timeline out[PUENTE_MAX_CHANNELS];
	/* In join order, the order partners are listed in; hundreds at most: linear search. */
	struct client *clients;
	size_t n_clients, cap_clients;
	/* Shown in the log at the end: refusals are also counted by the core. */
	uint64_t published, refused_not_live, refused_muted, refused_grant, publish_failed;
};

static const char *channel_name(const struct interp *st, int ch)
{
	return st->host->channel(st->host->ctx, ch)->name;
}

/* A channel's language: its lang tag, or its id when it has none. */
static const char *channel_lang(const struct interp *st, int ch)
{
	const struct puente_channel_info *info = st->host->channel(st->host->ctx, ch);

	return info->lang[0] ? info->lang : info->name;
}

static int channel_index(const struct interp *st, const char *name)
{
	int ch = st->host->channel_find(st->host->ctx, name);

	return ch >= 0 && ch < st->n_channels ? ch : -1;
}

static bool booth_has(const struct booth *b, int ch)
{
	for (int i = 0; i < b->n_channels; i++)
		if (b->channels[i] == ch)
			return true;
	return false;
}

static int booth_find(const struct interp *st, const char *id)
{
	for (int i = 0; id && i < st->n_booths; i++)
		if (!strcmp(st->booths[i].id, id))
			return i;
	return -1;
}

static bool is_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > MAX_TAG || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/*
 * How well two language tags match: 2 the same tag, 1 the same primary
 * language ("es" and "es-MX": a browser says the latter), 0 not at all.
 * BCP 47 tags compare case-insensitively.
 */
static int lang_match(const char *a, const char *b)
{
	size_t na = strcspn(a, "-"), nb = strcspn(b, "-");

	if (!strcasecmp(a, b))
		return 2;
	return na == nb && !strncasecmp(a, b, na) ? 1 : 0;
}

/*
 * A language as a client or the config gives it: a tag, or the id of a channel
 * standing for its language. Writes the tag to out; -EINVAL for anything else,
 * including the floor, which has no language of its own.
 */
static int language_parse(const struct interp *st, const char *in, char out[MAX_TAG + 1])
{
	int ch = channel_index(st, in);

	if (ch == st->floor)
		return -EINVAL;
	if (ch >= 0)
		in = channel_lang(st, ch);
	if (!is_tag(in))
		return -EINVAL;
	strcpy(out, in);
	return 0;
}

static struct client *client_find(struct interp *st, puente_client_id id)
{
	for (size_t i = 0; i < st->n_clients; i++)
		if (st->clients[i].id == id)
			return &st->clients[i];
	return NULL;
}

/* ---- messages out ---- */

static json_t *id_or_null(puente_client_id id)
{
	return id ? json_integer((json_int_t)id) : json_null();
}

static json_t *booth_json(const struct interp *st, int index)
{
	const struct booth *b = &st->booths[index];
	json_t *channels = json_array(), *partners = json_array();

	for (int i = 0; i < b->n_channels; i++)
		json_array_append_new(channels, json_string(channel_name(st, b->channels[i])));
	for (size_t i = 0; i < st->n_clients; i++)
		if (st->clients[i].booth == index)
			json_array_append_new(partners,
			                      json_integer((json_int_t)st->clients[i].id));
	return json_pack("{s:s, s:o, s:o, s:s?, s:b, s:b, s:o, s:o}", "id", b->id, "channels",
	                 channels, "live", id_or_null(b->live), "direction",
	                 b->direction >= 0 ? channel_name(st, b->direction) : NULL, "muted",
	                 b->muted, "cough", b->cough, "pending", id_or_null(b->pending), "partners",
	                 partners);
}

static json_t *state_json(const struct interp *st)
{
	json_t *booths = json_array();

	for (int i = 0; i < st->n_booths; i++)
		json_array_append_new(booths, booth_json(st, i));
	return json_pack("{s:s, s:s, s:s?, s:s, s:o}", "type", NS ".state", "floor_language",
	                 st->floor_language, "suggested_floor",
	                 st->suggested_floor[0] ? st->suggested_floor : NULL, "fallback",
	                 st->fallback == FALLBACK_FLOOR ? "floor" : "silence", "booths", booths);
}

static bool may_use(const struct client *c, int booth)
{
	return !c->restricted || c->may_use[booth];
}

/* The ids of the booths an interpreter may use, for its page to offer only those. */
static json_t *allowed_json(const struct interp *st, const struct client *c)
{
	json_t *ids = json_array();

	for (int i = 0; ids && i < st->n_booths; i++)
		if (may_use(c, i))
			json_array_append_new(ids, json_string(st->booths[i].id));
	return ids;
}

/* The state to one client; an interpreter's also says which booths it may use. */
static void send_state_to(struct interp *st, const struct client *c, json_t *msg)
{
	if (c->role == PUENTE_ROLE_INTERPRETER &&
	    json_object_set_new(msg, "allowed_booths", allowed_json(st, c))) {
		st->host->log(st->host->ctx, PUENTE_LOG_ERROR, "out of memory for the state");
		return;
	}
	st->host->send_json(st->host->ctx, c->id, msg);
	json_object_del(msg, "allowed_booths");
}

/* 0 sends to everyone: interpreters one by one (each its own allowed_booths), the rest by role. */
static void send_state(struct interp *st, puente_client_id to)
{
	json_t *msg = state_json(st);
	struct client *c;

	if (!msg) {
		st->host->log(st->host->ctx, PUENTE_LOG_ERROR, "out of memory for the state");
		return;
	}
	if (to) {
		c = client_find(st, to);
		if (c)
			send_state_to(st, c, msg);
	} else {
		for (int r = 0; r < PUENTE_ROLE_COUNT; r++)
			if (r != PUENTE_ROLE_INTERPRETER)
				st->host->send_json_role(st->host->ctx, (enum puente_role)r, msg);
		for (size_t i = 0; i < st->n_clients; i++)
			if (st->clients[i].role == PUENTE_ROLE_INTERPRETER)
				send_state_to(st, &st->clients[i], msg);
	}
	json_decref(msg);
}

static void send_handover(struct interp *st, int booth, puente_client_id from, puente_client_id to,
                          const char *what)
{
	json_t *msg = json_pack("{s:s, s:s, s:o, s:o, s:s}", "type", NS ".handover", "booth",
	                        st->booths[booth].id, "from", id_or_null(from), "to",
	                        id_or_null(to), "state", what);

	if (!msg)
		return;
	for (size_t i = 0; i < st->n_clients; i++)
		if (st->clients[i].booth == booth)
			st->host->send_json(st->host->ctx, st->clients[i].id, msg);
	json_decref(msg);
}

static const char *reason_name(enum reason r)
{
	switch (r) {
	case REASON_INTERPRETATION:
		return "interpretation";
	case REASON_FLOOR_IS_YOURS:
		return "floor_is_your_language";
	case REASON_NO_INTERPRETER:
		return "no_interpreter";
	case REASON_CHOSEN:
		break;
	}
	return "chosen";
}

static void send_listening(struct interp *st, const struct client *c)
{
	const char *choice = c->choice == CHOICE_AUTO      ? "auto"
	                     : c->choice == CHOICE_CHANNEL ? channel_name(st, c->chosen)
	                                                   : "floor";
	json_t *msg = json_pack("{s:s, s:s, s:s?, s:s, s:s}", "type", NS ".listening", "choice",
	                        choice, "language", c->language[0] ? c->language : NULL, "channel",
	                        channel_name(st, c->heard), "reason", reason_name(c->reason));

	if (!msg)
		return;
	st->host->send_json(st->host->ctx, c->id, msg);
	json_decref(msg);
}

/* ---- what each client hears ---- */

/* Subscribes only on a change: each subscribe costs the client a DISCONT. */
static void hear(struct interp *st, struct client *c, int ch)
{
	/* Ask the host: the client may have moved itself (core.subscribe/unsubscribe). */
	if (c->heard == ch && st->host->subscription(st->host->ctx, c->id) == ch)
		return;
	if (st->host->subscribe(st->host->ctx, c->id, ch) == 0)
		c->heard = ch;
}

static void hear_source(struct interp *st, puente_client_id id)
{
	struct client *c = client_find(st, id);

	if (c)
		hear(st, c, c->source);
}

/* Whether a live interpreter speaks into ch now (muted or not: a mute is short). */
static bool is_carried(const struct interp *st, int ch)
{
	int b = st->booth_of[ch];

	return b >= 0 && st->booths[b].live && st->booths[b].direction == ch;
}

static int carried_or_fallback(const struct interp *st, int ch, enum reason carried,
                               enum reason *reason)
{
	if (is_carried(st, ch)) {
		*reason = carried;
		return ch;
	}
	*reason = REASON_NO_INTERPRETER;
	return st->fallback == FALLBACK_FLOOR ? st->floor : ch;
}

/*
 * auto: the floor when it speaks the listener's language, else the channel of
 * that language. An exact tag beats a primary-language match; the floor wins a
 * tie, since it is the original.
 */
static int auto_channel(const struct interp *st, const char *lang, enum reason *reason)
{
	int best = st->floor, rank = lang_match(st->floor_language, lang);

	for (int ch = 0; ch < st->n_channels; ch++) {
		int r = lang_match(channel_lang(st, ch), lang);
		int by_id = lang_match(channel_name(st, ch), lang);

		if (by_id > r)
			r = by_id;
		if (ch != st->floor && r > rank) {
			best = ch;
			rank = r;
		}
	}
	if (rank == 0) {
		/* Nobody speaks it: there is no channel to wait on in silence. */
		*reason = REASON_NO_INTERPRETER;
		return st->floor;
	}
	if (best == st->floor) {
		*reason = REASON_FLOOR_IS_YOURS;
		return st->floor;
	}
	return carried_or_fallback(st, best, REASON_INTERPRETATION, reason);
}

static int effective_channel(const struct interp *st, const struct client *c, enum reason *reason)
{
	switch (c->choice) {
	case CHOICE_CHANNEL:
		return carried_or_fallback(st, c->chosen, REASON_CHOSEN, reason);
	case CHOICE_AUTO:
		return auto_channel(st, c->language, reason);
	case CHOICE_FLOOR:
	case CHOICE_NONE:
		break;
	}
	*reason = REASON_CHOSEN;
	return st->floor;
}

/* Moves a listener if what it should hear changed; tells it when that or the reason did. */
static void update_listener(struct interp *st, struct client *c, bool answer)
{
	int before = c->heard;
	enum reason reason;
	int ch = effective_channel(st, c, &reason);

	hear(st, c, ch);
	if (c->heard < 0)
		return; /* the subscription failed: the client is going away */
	if (answer || c->heard != before || reason != c->reason) {
		c->reason = reason;
		send_listening(st, c);
	}
}

/* After every change: tell everyone, and move the listeners who should follow it. */
static void changed(struct interp *st)
{
	send_state(st, 0);
	for (size_t i = 0; i < st->n_clients; i++)
		if (st->clients[i].choice != CHOICE_NONE)
			update_listener(st, &st->clients[i], false);
}

/* ---- booths ---- */

/*
 * A booth live into one of its two channels interprets from the other, so the
 * floor probably speaks that one. Suggested, never applied: a one-way or a
 * three-way booth says nothing about the floor.
 */
static void suggest_floor(struct interp *st, const struct booth *b)
{
	const char *lang;

	if (b->n_channels != 2)
		return;
	lang = channel_lang(st, b->channels[b->channels[0] == b->direction ? 1 : 0]);
	if (lang_match(lang, st->floor_language) == 2)
		st->suggested_floor[0] = 0;
	else
		snprintf(st->suggested_floor, sizeof(st->suggested_floor), "%s", lang);
}

static void go_live(struct interp *st, struct booth *b, puente_client_id id, int ch)
{
	b->live = id;
	b->direction = ch;
	b->muted = b->cough = false;
	suggest_floor(st, b);
}

static void stop_live(struct booth *b)
{
	b->live = 0;
	b->direction = -1;
	b->muted = b->cough = false;
}

/*
 * The pending partner becomes live in the same direction. The swap happens
 * between two events, so the next packet published is the new interpreter's
 * and gets the channel's next media time.
 */
static void take_over(struct interp *st, int index)
{
	struct booth *b = &st->booths[index];
	puente_client_id from = b->live, to = b->pending;

	b->live = to;
	b->pending = 0;
	b->muted = b->cough = false;
	hear_source(st, to);
	send_handover(st, index, from, to, "done");
}

/* The pending partner goes back to its source; the booth is told it was declined. */
static void cancel_pending(struct interp *st, int index)
{
	struct booth *b = &st->booths[index];
	puente_client_id who = b->pending;

	b->pending = 0;
	hear_source(st, who);
	send_handover(st, index, b->live, who, "declined");
}

/* The booth the client is the live interpreter of, or NULL. */
static struct booth *live_booth(struct interp *st, const struct client *c)
{
	if (c->role != PUENTE_ROLE_INTERPRETER || c->booth < 0 ||
	    st->booths[c->booth].live != c->id)
		return NULL;
	return &st->booths[c->booth];
}

/* ---- messages in ---- */

/* Spaces and tabs off both ends of *s, which ends at end. */
static void trim(char **s, char *end)
{
	while (**s == ' ' || **s == '\t')
		(*s)++;
	while (end > *s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = 0;
}

/* A string field of at most MAX_NAME bytes, without an embedded NUL; NULL otherwise. */
static const char *body_str(const json_t *body, const char *key)
{
	const json_t *v = json_object_get(body, key);

	if (!json_is_string(v) || json_string_length(v) > MAX_NAME ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

static int body_channel(const struct interp *st, const json_t *body)
{
	const char *name = body_str(body, "channel");

	return name ? channel_index(st, name) : -1;
}

static int body_bool(const json_t *body, const char *key, bool *out)
{
	const json_t *v = json_object_get(body, key);

	if (!json_is_boolean(v))
		return -EINVAL;
	*out = json_is_true(v);
	return 0;
}

typedef int (*msg_fn)(struct interp *st, struct client *c, const json_t *body);

/* -EPERM, counted, when c's invitation does not allow booth; else 0. */
static int check_grant(struct interp *st, const struct client *c, int booth)
{
	if (may_use(c, booth))
		return 0;
	st->refused_grant++;
	return -EPERM;
}

/* A channel of another booth than c's own: -EPERM when c may not use that booth, else -EINVAL. */
static int other_booth(struct interp *st, const struct client *c, int ch)
{
	int b = ch >= 0 ? st->booth_of[ch] : -1;

	return b >= 0 && check_grant(st, c, b) ? -EPERM : -EINVAL;
}

static int msg_join(struct interp *st, struct client *c, const json_t *body)
{
	int index;

	if (c->role != PUENTE_ROLE_INTERPRETER)
		return -EPERM;
	index = booth_find(st, body_str(body, "booth"));
	if (index < 0)
		return -EINVAL;
	if (check_grant(st, c, index))
		return -EPERM;
	if (index == c->booth) {
		send_state(st, c->id);
		return 0;
	}
	if (c->booth >= 0) {
		struct booth *old = &st->booths[c->booth];

		if (old->live == c->id)
			return -EBUSY; /* release first: the channel would go silent unannounced */
		if (old->pending == c->id)
			old->pending = 0;
	}
	c->booth = index;
	/* Hearing its own booth's output would be its partner's voice, not a source. */
	if (booth_has(&st->booths[index], c->source))
		c->source = st->floor;
	hear(st, c, c->source);
	changed(st);
	return 0;
}

static int msg_source(struct interp *st, struct client *c, const json_t *body)
{
	int ch;

	if (c->role != PUENTE_ROLE_INTERPRETER)
		return -EPERM;
	ch = body_channel(st, body);
	if (ch < 0 || (c->booth >= 0 && booth_has(&st->booths[c->booth], ch)))
		return -EINVAL;
	c->source = ch;
	/* While waiting for a handover it hears the live channel; the source applies after. */
	if (c->booth >= 0 && st->booths[c->booth].pending == c->id)
		send_state(st, c->id);
	else
		hear(st, c, ch);
	return 0;
}

static int msg_claim(struct interp *st, struct client *c, const json_t *body)
{
	struct booth *b;
	int ch;

	if (c->role != PUENTE_ROLE_INTERPRETER || c->booth < 0)
		return -EPERM;
	b = &st->booths[c->booth];
	ch = body_channel(st, body);
	if (ch < 0 || !booth_has(b, ch))
		return other_booth(st, c, ch);
	if (b->live)
		return -EBUSY;
	go_live(st, b, c->id, ch);
	changed(st);
	return 0;
}

static int msg_release(struct interp *st, struct client *c, const json_t *body)
{
	struct booth *b = live_booth(st, c);

	(void)body;
	if (!b)
		return -EPERM;
	/* A partner who asked to take over is ready: the channel goes on with them. */
	if (b->pending)
		take_over(st, c->booth);
	else
		stop_live(b);
	changed(st);
	return 0;
}

static int msg_direction(struct interp *st, struct client *c, const json_t *body)
{
	struct booth *b = live_booth(st, c);
	int ch;

	if (!b)
		return -EPERM;
	ch = body_channel(st, body);
	if (ch < 0 || !booth_has(b, ch))
		return other_booth(st, c, ch);
	if (ch == b->direction) {
		send_state(st, c->id);
		return 0;
	}
	b->direction = ch;
	suggest_floor(st, b);
	if (b->pending)
		hear(st, client_find(st, b->pending), ch);
	changed(st);
	return 0;
}

static int set_flag(struct interp *st, struct client *c, const json_t *body, bool cough)
{
	struct booth *b = live_booth(st, c);
	bool on;

	if (!b)
		return -EPERM;
	if (body_bool(body, "on", &on))
		return -EINVAL;
	if ((cough ? b->cough : b->muted) == on) {
		send_state(st, c->id);
		return 0;
	}
	if (cough)
		b->cough = on;
	else
		b->muted = on;
	changed(st);
	return 0;
}

static int msg_mute(struct interp *st, struct client *c, const json_t *body)
{
	return set_flag(st, c, body, false);
}

static int msg_cough(struct interp *st, struct client *c, const json_t *body)
{
	return set_flag(st, c, body, true);
}

static int msg_handover_request(struct interp *st, struct client *c, const json_t *body)
{
	struct booth *b;

	(void)body;
	if (c->role != PUENTE_ROLE_INTERPRETER || c->booth < 0)
		return -EPERM;
	b = &st->booths[c->booth];
	if (b->live == c->id)
		return -EPERM;
	if (b->pending == c->id) {
		send_state(st, c->id);
		return 0;
	}
	if (!b->live || b->pending)
		return -EBUSY;
	b->pending = c->id;
	/* It hears what it is about to continue, to pick up mid-sentence. */
	hear(st, c, b->direction);
	send_handover(st, c->booth, b->live, c->id, "requested");
	changed(st);
	return 0;
}

static int msg_handover_answer(struct interp *st, struct client *c, bool accept)
{
	struct booth *b = live_booth(st, c);

	if (!b)
		return -EPERM;
	if (!b->pending)
		return -EBUSY;
	if (accept)
		take_over(st, c->booth);
	else
		cancel_pending(st, c->booth);
	changed(st);
	return 0;
}

static int msg_handover_accept(struct interp *st, struct client *c, const json_t *body)
{
	(void)body;
	return msg_handover_answer(st, c, true);
}

static int msg_handover_decline(struct interp *st, struct client *c, const json_t *body)
{
	(void)body;
	return msg_handover_answer(st, c, false);
}

static int msg_handover_force(struct interp *st, struct client *c, const json_t *body)
{
	const json_t *to = json_object_get(body, "to");
	struct client *t;
	struct booth *b;
	int index;

	if (c->role != PUENTE_ROLE_TECHNICIAN)
		return -EPERM;
	index = booth_find(st, body_str(body, "booth"));
	if (index < 0 || !json_is_integer(to) || json_integer_value(to) <= 0)
		return -EINVAL;
	t = client_find(st, (puente_client_id)json_integer_value(to));
	if (!t)
		return -EINVAL;
	/* Not even a technician may put an interpreter where its invitation does not allow. */
	if (check_grant(st, t, index))
		return -EPERM;
	if (t->booth != index)
		return -EINVAL;
	b = &st->booths[index];
	if (!b->live)
		return -EBUSY; /* nothing to hand over; the partner claims a channel itself */
	if (b->live == t->id) {
		send_state(st, c->id);
		return 0;
	}
	if (b->pending && b->pending != t->id)
		cancel_pending(st, index);
	b->pending = t->id;
	take_over(st, index);
	changed(st);
	return 0;
}

static int msg_floor(struct interp *st, struct client *c, const json_t *body)
{
	const char *in = body_str(body, "language");
	char lang[MAX_TAG + 1];

	if (c->role != PUENTE_ROLE_TECHNICIAN && c->role != PUENTE_ROLE_ORGANISER)
		return -EPERM;
	if (!in || language_parse(st, in, lang))
		return -EINVAL;
	/* Setting the floor also answers the suggestion, whichever way. */
	if (lang_match(lang, st->floor_language) == 2 && !st->suggested_floor[0]) {
		send_state(st, c->id);
		return 0;
	}
	strcpy(st->floor_language, lang);
	st->suggested_floor[0] = 0;
	changed(st);
	return 0;
}

static int msg_listen(struct interp *st, struct client *c, const json_t *body)
{
	const char *choice = body_str(body, "choice");
	const json_t *language = json_object_get(body, "language");
	char lang[MAX_TAG + 1] = "";
	int ch = -1;

	/* Interpreters hear their source (interpretation.source) or the live channel. */
	if (c->role == PUENTE_ROLE_INTERPRETER)
		return -EPERM;
	if (!choice)
		return -EINVAL;
	if (language && !json_is_null(language)) {
		const char *in = body_str(body, "language");

		if (!in || language_parse(st, in, lang))
			return -EINVAL;
	}
	if (strcmp(choice, "auto")) {
		ch = channel_index(st, choice);
		if (ch < 0)
			return -EINVAL;
	} else if (!lang[0]) {
		return -EINVAL;
	}
	c->choice = ch < 0 ? CHOICE_AUTO : ch == st->floor ? CHOICE_FLOOR : CHOICE_CHANNEL;
	c->chosen = ch;
	strcpy(c->language, lang);
	update_listener(st, c, true);
	return 0;
}

static msg_fn handler(const char *verb)
{
	if (!strcmp(verb, "join"))
		return msg_join;
	if (!strcmp(verb, "source"))
		return msg_source;
	if (!strcmp(verb, "claim"))
		return msg_claim;
	if (!strcmp(verb, "release"))
		return msg_release;
	if (!strcmp(verb, "direction"))
		return msg_direction;
	if (!strcmp(verb, "mute"))
		return msg_mute;
	if (!strcmp(verb, "cough"))
		return msg_cough;
	if (!strcmp(verb, "handover.request"))
		return msg_handover_request;
	if (!strcmp(verb, "handover.accept"))
		return msg_handover_accept;
	if (!strcmp(verb, "handover.decline"))
		return msg_handover_decline;
	if (!strcmp(verb, "handover.force"))
		return msg_handover_force;
	if (!strcmp(verb, "floor"))
		return msg_floor;
	if (!strcmp(verb, "listen"))
		return msg_listen;
	return NULL;
}

/* ---- events ---- */

static int interp_message(void *state, puente_client_id from, const char *verb, const json_t *body)
{
	struct interp *st = state;
	msg_fn fn = handler(verb);
	struct client *c;

	if (!fn)
		return -ENOENT;
	/* A client the plugin never saw join (its record failed to allocate) has no known role. */
	c = client_find(st, from);
	if (!c)
		return -EPERM;
	return fn(st, c, body);
}

static void interp_client_leave(void *state, puente_client_id id)
{
	struct interp *st = state;
	struct client *c = client_find(st, id);
	struct booth *b;
	int index;

	if (!c)
		return;
	index = c->booth;
	/* Removed first, so nothing below sends to a client that has gone. */
	memmove(c, c + 1, (size_t)(st->clients + st->n_clients - (c + 1)) * sizeof(*c));
	st->n_clients--;
	if (index < 0)
		return;
	b = &st->booths[index];
	if (b->live == id) {
		/* A partner who asked to take over agreed to: the channel goes on with them. */
		if (b->pending)
			take_over(st, index);
		else
			stop_live(b);
	} else if (b->pending == id) {
		b->pending = 0;
	}
	changed(st);
}

/*
 * The booths an interpreter's invitation allows: booth ids, or channel ids
 * standing for their booth ("es,en" allows the booth es-en). A name that is
 * neither is logged and allows nothing: a mistyped grant must not open every booth.
 */
static void read_grant(struct interp *st, struct client *c)
{
	const struct puente_host *h = st->host;
	const char *grant = PUENTE_HAS(h, client_grant) && h->client_grant
	                        ? h->client_grant(h->ctx, c->id, "booths")
	                        : NULL;

	if (!grant)
		return;
	c->restricted = true;
	for (const char *p = grant; *p;) {
		size_t n = strcspn(p, ",");
		char name[MAX_NAME + 1];
		char *s = name;
		int b = -1, ch;

		if (n <= MAX_NAME) {
			memcpy(name, p, n);
			name[n] = 0;
			trim(&s, name + n);
			b = booth_find(st, s);
			if (b < 0 && (ch = channel_index(st, s)) >= 0)
				b = st->booth_of[ch];
		}
		if (b >= 0)
			c->may_use[b] = true;
		else if (n > 0)
			h->log(
			    h->ctx, PUENTE_LOG_WARN,
			    "client %llu: its invitation names booth '%.*s', which this room does "
			    "not have",
			    (unsigned long long)c->id, n > MAX_NAME ? MAX_NAME : (int)n, p);
		p += n + (p[n] == ',');
	}
}

static void interp_client_join(void *state, puente_client_id id, enum puente_role role)
{
	struct interp *st = state;

	/* A join for a known client is a role change: leave first, so no booth keeps it live. */
	if (client_find(st, id))
		interp_client_leave(st, id);
	if (st->n_clients == st->cap_clients) {
		size_t cap = st->cap_clients ? 2 * st->cap_clients : 64;
		struct client *grown = realloc(st->clients, cap * sizeof(*grown));

		if (!grown) {
			st->host->log(st->host->ctx, PUENTE_LOG_ERROR,
			              "out of memory: client %llu ignored", (unsigned long long)id);
			return;
		}
		st->clients = grown;
		st->cap_clients = cap;
	}
	st->clients[st->n_clients] = (struct client){
	    .id = id,
	    .role = role,
	    .heard = -2,
	    .booth = -1,
	    .source = st->floor,
	    .choice = CHOICE_NONE,
	};
	if (role == PUENTE_ROLE_INTERPRETER)
		read_grant(st, &st->clients[st->n_clients]);
	st->n_clients++;
	send_state(st, id);
}

/*
 * Stamps a packet for channel ch of booth b. Contiguous on the channel while it
 * is active, whoever speaks (a handover leaves no gap and no overlap), unless
 * the run has fallen more than IDLE_SAMPLES behind the room clock (a sender
 * slower than the room). A new run continues the booth's speech when that just
 * moved here (a direction switch), else starts ANCHOR_MARGIN behind the room
 * clock's present; it is flagged DISCONT, and never goes back over what the
 * channel already carried.
 */
static void stamp(const struct interp *st, const struct booth *b, int ch, uint64_t now,
                  uint32_t samples, struct puente_packet *out)
{
	const struct timeline *o = &st->out[ch];
	uint64_t anchor = now > samples + ANCHOR_MARGIN ? now - samples - ANCHOR_MARGIN : 0, t;

	if (o->started && now <= o->last_at + IDLE_SAMPLES && o->next + IDLE_SAMPLES >= anchor) {
		out->media_time = o->next;
		return;
	}
	if (b->speech.started && now <= b->speech.last_at + IDLE_SAMPLES)
		t = b->speech.next;
	else
		t = anchor;
	if (o->started && t < o->next)
		t = o->next;
	out->media_time = t;
	out->flags |= PUENTE_FLAG_DISCONT;
}

static int interp_audio(void *state, puente_client_id from, const struct puente_packet *pkt)
{
	struct interp *st = state;
	struct client *c = client_find(st, from);
	struct booth *b = c ? live_booth(st, c) : NULL;
	struct puente_packet out = *pkt;
	uint64_t now;
	int ch, rc;

	if (!b) {
		st->refused_not_live++;
		return -EPERM;
	}
	if (b->muted || b->cough) {
		st->refused_muted++;
		return -EPERM;
	}
	ch = b->direction;
	now = st->host->media_time_now(st->host->ctx);
	out.channel = (uint8_t)ch;
	out.flags = pkt->flags & (PUENTE_FLAG_DISCONT | PUENTE_FLAG_SILENCE);
	stamp(st, b, ch, now, pkt->samples, &out);
	rc = st->host->publish(st->host->ctx, ch, &out);
	if (rc < 0) {
		st->publish_failed++;
		return rc;
	}
	st->published++;
	st->out[ch] = b->speech = (struct timeline){
	    .started = true,
	    .next = out.media_time + pkt->samples,
	    .last_at = now,
	};
	return 0;
}

/* ---- configuration ---- */

/* One booth "a-b-c" from the config, in place. 0, or -EINVAL after one log line. */
static int parse_booth(struct interp *st, char *spec)
{
	const struct puente_host *h = st->host;
	struct booth *b = &st->booths[st->n_booths];
	char *name = spec;

	*b = (struct booth){.direction = -1};
	for (;;) {
		char *dash = strchr(name, '-');
		char *end = dash ? dash : name + strlen(name);
		int ch;

		if (dash)
			*dash = 0;
		trim(&name, end);
		ch = channel_index(st, name);
		if (ch < 0) {
			h->log(
			    h->ctx, PUENTE_LOG_ERROR,
			    "booths: unknown channel '%s' (booths are channel ids joined by '-')",
			    name);
			return -EINVAL;
		}
		if (ch == st->floor) {
			h->log(h->ctx, PUENTE_LOG_ERROR,
			       "booths: the floor cannot be in a booth (it is the room's input)");
			return -EINVAL;
		}
		if (st->booth_of[ch] >= 0) {
			h->log(h->ctx, PUENTE_LOG_ERROR, "booths: channel '%s' is in two booths",
			       name);
			return -EINVAL;
		}
		st->booth_of[ch] = st->n_booths;
		b->channels[b->n_channels++] = ch;
		if (strlen(b->id) + strlen(name) + 2 > sizeof(b->id)) {
			h->log(h->ctx, PUENTE_LOG_ERROR, "booths: a booth's id is longer than %d",
			       MAX_NAME);
			return -EINVAL;
		}
		if (b->id[0])
			strcat(b->id, "-");
		strcat(b->id, name);
		if (!dash)
			break;
		name = dash + 1;
	}
	st->n_booths++;
	return 0;
}

static int parse_booths(struct interp *st, const char *value)
{
	char buf[MAX_BOOTHS_CONFIG];
	char *spec = buf;

	if (strlen(value) >= sizeof(buf)) {
		st->host->log(st->host->ctx, PUENTE_LOG_ERROR, "booths: longer than %zu bytes",
		              sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, value);
	for (;;) {
		char *comma = strchr(spec, ',');
		char *end = comma ? comma : spec + strlen(spec);

		if (comma)
			*comma = 0;
		trim(&spec, end);
		if (!spec[0]) {
			st->host->log(st->host->ctx, PUENTE_LOG_ERROR,
			              "booths: empty booth in '%s'", value);
			return -EINVAL;
		}
		if (parse_booth(st, spec))
			return -EINVAL;
		if (!comma)
			return 0;
		spec = comma + 1;
	}
}

static int configure(struct interp *st)
{
	const struct puente_host *h = st->host;
	const char *fallback = h->config_get(h->ctx, "fallback", "floor");
	const char *floor_language = h->config_get(h->ctx, "floor_language", "es");

	while (st->n_channels < PUENTE_MAX_CHANNELS && h->channel(h->ctx, st->n_channels))
		st->n_channels++;
	st->floor = channel_index(st, "floor");
	if (st->floor < 0) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "the room has no channel named 'floor'");
		return -EINVAL;
	}
	for (int ch = 0; ch < PUENTE_MAX_CHANNELS; ch++)
		st->booth_of[ch] = -1;
	if (!strcmp(fallback, "floor")) {
		st->fallback = FALLBACK_FLOOR;
	} else if (!strcmp(fallback, "silence")) {
		st->fallback = FALLBACK_SILENCE;
	} else {
		h->log(h->ctx, PUENTE_LOG_ERROR, "fallback: '%s' is neither floor nor silence",
		       fallback);
		return -EINVAL;
	}
	if (parse_booths(st, h->config_get(h->ctx, "booths", "es-en")))
		return -EINVAL;
	if (language_parse(st, floor_language, st->floor_language)) {
		h->log(h->ctx, PUENTE_LOG_ERROR,
		       "floor_language: '%s' is neither a language tag nor a booth's channel",
		       floor_language);
		return -EINVAL;
	}
	return 0;
}

static int interp_init(const struct puente_host *host, void **state)
{
	struct interp *st;

	/* config_get is the last service this plugin uses, and the list only grows. */
	if (!PUENTE_HAS(host, config_get))
		return -EINVAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	if (configure(st)) {
		free(st);
		return -EINVAL;
	}
	*state = st;
	return 0;
}

static void interp_destroy(void *state)
{
	struct interp *st = state;

	st->host->log(st->host->ctx, PUENTE_LOG_INFO,
	              "published %llu interpreter packets; refused %llu (not live), %llu (muted), "
	              "%llu (publish failed); %llu booth commands refused by invitations",
	              (unsigned long long)st->published, (unsigned long long)st->refused_not_live,
	              (unsigned long long)st->refused_muted, (unsigned long long)st->publish_failed,
	              (unsigned long long)st->refused_grant);
	free(st->clients);
	free(st);
}

static const struct puente_plugin interpretation = {
    .abi = PUENTE_PLUGIN_ABI,
    .size = sizeof(struct puente_plugin),
    .name = "interpretation",
    .version = "0.1.0",
    .init = interp_init,
    .destroy = interp_destroy,
    .client_join = interp_client_join,
    .client_leave = interp_client_leave,
    .message = interp_message,
    .audio = interp_audio,
};

PUENTE_PLUGIN_DEFINE(interpretation)
