/*
 * The levels plugin (levels.h).
 *
 * Threads: one reader thread per channel decodes the channel's Opus packets
 * and feeds its meter; one microphone thread decodes the interpreters'
 * packets, which the audio event (service thread) only copies into a bounded
 * queue. Meters and microphones are shared with the service thread under
 * st->lock. Everything else (alarms, the last update, HTTP) belongs to the
 * service thread: tick builds levels.update every 1/rate_hz s.
 */
#include "levels.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <opus.h>
#include <puente/protocol.h>

#include "alarms.h"
#include "meter.h"

#define NS           "levels"
#define METRICS_PATH "/levels/metrics"
#define MAX_MICS     32
#define MICQ         256
#define MAX_FRAME    5760 /* 120 ms at 48 kHz */
#define MIC_LIVE_MS  2000 /* a microphone is live while its packets arrive */
#define MAX_CLIENTS  4096
/* A client from the address of one that left this recently has reconnected. */
#define RECONNECT_MS 60000
#define MAX_LAGGING  20
#define TOKEN_MAX    128
#define ORG_MAX      16

struct chan {
	int id;
	const char *name;
	struct levels *st;
	struct meter m;   /* under st->lock */
	uint64_t packets; /* under st->lock */
	struct puente_reader *reader;
	pthread_t thread;
	bool running;
	/* Service thread. */
	struct meter_reading last;
	double silent_s;
	int listeners;
	uint64_t dropped;
};

struct mic {
	bool used, leaving;
	puente_client_id client;
	int channel;
	OpusDecoder *dec; /* the microphone thread's only */
	struct meter m;
	/* Uplink quality, from sequence numbers and arrival times. */
	bool has_seq;
	uint32_t first_seq, max_seq;
	uint64_t received;
	uint64_t prev_arrival_us, prev_media;
	double jitter_ms;
	uint64_t last_ms; /* wall ms of the last packet */
	struct meter_reading last;
	uint64_t sound_ms; /* service thread: wall ms of the last window with sound */
};

struct qpkt {
	puente_client_id client;
	bool leave; /* a marker: the client left, free its microphone */
	uint8_t channel;
	uint32_t seq;
	uint64_t media_time, arrival_us; /* arrival on the monotonic clock, for jitter */
	uint64_t arrival_ms;             /* the same on the alarms' clock (now_ms) */
	uint32_t len;
	unsigned char data[PUENTE_MAX_OPUS];
};

struct levels {
	uint64_t wall_offset_ms; /* wall clock minus monotonic clock, at start */
	const struct puente_host *host;
	unsigned rate_hz;
	double clip_dbfs;
	uint32_t hold_ms, lag_packets;
	bool metrics_open, fixed_token;
	char token[TOKEN_MAX + 1];
	size_t token_len;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop; /* under lock */
	struct chan ch[PUENTE_MAX_CHANNELS];
	int n_ch;
	struct mic mics[MAX_MICS];
	struct qpkt *q;
	size_t q_head, q_count;
	uint64_t q_dropped;
	pthread_t mic_thread;
	bool mic_running;

	/* Service thread. */
	struct alarms al;
	struct puente_client_info *clients; /* the last snapshot, n_clients long */
	int n_clients;
	puente_client_id max_seen; /* the newest client id in a snapshot so far */
	/* Addresses of clients that left lately: one coming back from there is a reconnect. */
	struct {
		char address[48];
		uint64_t at_ms;
	} gone[64];
	unsigned gone_next;
	uint64_t reconnects;
	struct puente_relay_stats stats;
	bool has_stats;
	struct puente_access_stats access;
	bool has_access;
	puente_client_id organisers[ORG_MAX]; /* organisers who subscribed */
	int n_org;
	uint64_t updates, metrics_served;
};

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/*
 * The time alarms and updates run on: the monotonic clock, shown as wall
 * time through an offset taken at start, so a clock step (NTP) neither
 * raises nor clears an alarm early.
 */
static uint64_t now_ms(const struct levels *st)
{
	return clock_us(CLOCK_MONOTONIC) / 1000 + st->wall_offset_ms;
}

static bool stopping(struct levels *st)
{
	bool s;

	pthread_mutex_lock(&st->lock);
	s = st->stop;
	pthread_mutex_unlock(&st->lock);
	return s;
}

/* ---- channel readers ---- */

static void *chan_main(void *arg)
{
	struct chan *c = arg;
	struct levels *st = c->st;
	const struct puente_host *h = st->host;
	static __thread float pcm[MAX_FRAME];
	unsigned char buf[PUENTE_MAX_OPUS];
	int err = 0;
	OpusDecoder *dec = opus_decoder_create(PUENTE_SAMPLE_RATE, 1, &err);

	if (!dec) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "channel %s: opus decoder: %s", c->name,
		       opus_strerror(err));
		return NULL;
	}
	while (!stopping(st)) {
		struct puente_packet pkt;
		int rc;

		if (h->reader_wait(c->reader, 100) <= 0)
			continue;
		while ((rc = h->reader_next(c->reader, &pkt, buf, sizeof(buf))) == 1) {
			int n = opus_decode_float(dec, buf, (opus_int32)pkt.len, pcm, MAX_FRAME, 0);

			if (n <= 0)
				continue;
			pthread_mutex_lock(&st->lock);
			meter_feed(&c->m, pcm, (size_t)n);
			c->packets++;
			pthread_mutex_unlock(&st->lock);
		}
		if (rc < 0)
			break;
	}
	opus_decoder_destroy(dec);
	return NULL;
}

/* ---- interpreter microphones ---- */

static struct mic *mic_find(struct levels *st, puente_client_id id)
{
	for (int i = 0; i < MAX_MICS; i++)
		if (st->mics[i].used && st->mics[i].client == id)
			return &st->mics[i];
	return NULL;
}

/* Under lock. A new microphone, or NULL when the table is full. */
static struct mic *mic_add(struct levels *st, puente_client_id id, int channel)
{
	for (int i = 0; i < MAX_MICS; i++) {
		struct mic *m = &st->mics[i];
		int err;

		if (m->used)
			continue;
		memset(m, 0, sizeof(*m));
		m->dec = opus_decoder_create(PUENTE_SAMPLE_RATE, 1, &err);
		if (!m->dec)
			return NULL;
		if (meter_init(&m->m, 1, st->clip_dbfs, st->hold_ms)) {
			opus_decoder_destroy(m->dec);
			return NULL;
		}
		m->used = true;
		m->client = id;
		m->channel = channel;
		return m;
	}
	return NULL;
}

/* Under lock, on the microphone thread. */
static void mic_quality(struct mic *m, const struct qpkt *p)
{
	if (!m->has_seq) {
		m->has_seq = true;
		m->first_seq = m->max_seq = p->seq;
	} else if ((int32_t)(p->seq - m->max_seq) > 0) {
		m->max_seq = p->seq;
	}
	m->received++;
	if (m->prev_arrival_us) {
		/* RFC 3550 interarrival jitter, in ms. */
		double d =
		    (double)(int64_t)(p->arrival_us - m->prev_arrival_us) / 1000.0 -
		    (double)(int64_t)(p->media_time - m->prev_media) * 1000.0 / PUENTE_SAMPLE_RATE;

		m->jitter_ms += (fabs(d) - m->jitter_ms) / 16.0;
	}
	m->prev_arrival_us = p->arrival_us;
	m->prev_media = p->media_time;
	m->last_ms = p->arrival_ms;
}

static double mic_loss_pct(const struct mic *m)
{
	uint64_t expected = m->has_seq ? (uint64_t)(m->max_seq - m->first_seq) + 1 : 0;

	if (!expected || m->received >= expected)
		return 0;
	return 100.0 * (double)(expected - m->received) / (double)expected;
}

static void *mic_main(void *arg)
{
	struct levels *st = arg;
	static __thread float pcm[MAX_FRAME];
	struct qpkt *p = malloc(sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct mic *m;
		OpusDecoder *dec;
		int n;

		while (!st->stop && !st->q_count)
			pthread_cond_wait(&st->cond, &st->lock);
		if (st->stop)
			break;
		*p = st->q[st->q_head];
		st->q_head = (st->q_head + 1) % (MICQ + MAX_MICS);
		st->q_count--;
		m = mic_find(st, p->client);
		if (p->leave) {
			if (m) {
				dec = m->dec;
				meter_free(&m->m);
				m->used = false;
				pthread_mutex_unlock(&st->lock);
				opus_decoder_destroy(dec);
				pthread_mutex_lock(&st->lock);
			}
			continue;
		}
		if (!m)
			m = mic_add(st, p->client, p->channel);
		if (!m || m->leaving)
			continue;
		m->channel = p->channel;
		mic_quality(m, p);
		dec = m->dec;
		pthread_mutex_unlock(&st->lock);
		n = opus_decode_float(dec, p->data, (opus_int32)p->len, pcm, MAX_FRAME, 0);
		pthread_mutex_lock(&st->lock);
		if (n > 0)
			meter_feed(&m->m, pcm, (size_t)n);
	}
	pthread_mutex_unlock(&st->lock);
	free(p);
	return NULL;
}

/* Under lock: queues a packet or a leave marker; false when full. */
static bool q_push(struct levels *st, const struct qpkt *p, size_t limit)
{
	if (st->q_count >= limit)
		return false;
	st->q[(st->q_head + st->q_count) % (MICQ + MAX_MICS)] = *p;
	st->q_count++;
	pthread_cond_signal(&st->cond);
	return true;
}

/* Service thread: copies the packet for the microphone thread; never takes it. */
static int levels_audio(void *state, puente_client_id from, const struct puente_packet *pkt)
{
	struct levels *st = state;
	struct qpkt *p;

	if (!pkt || !pkt->data || !pkt->len || pkt->len > PUENTE_MAX_OPUS)
		return -EPERM;
	pthread_mutex_lock(&st->lock);
	if (st->q_count >= MICQ) {
		st->q_dropped++;
	} else {
		p = &st->q[(st->q_head + st->q_count) % (MICQ + MAX_MICS)];
		p->client = from;
		p->leave = false;
		p->channel = pkt->channel;
		p->seq = pkt->seq;
		p->media_time = pkt->media_time;
		p->arrival_us = clock_us(CLOCK_MONOTONIC);
		p->arrival_ms = p->arrival_us / 1000 + st->wall_offset_ms;
		p->len = pkt->len;
		memcpy(p->data, pkt->data, pkt->len);
		st->q_count++;
		pthread_cond_signal(&st->cond);
	}
	pthread_mutex_unlock(&st->lock);
	return -EPERM; /* metering is not publishing */
}

static void levels_client_leave(void *state, puente_client_id id)
{
	struct levels *st = state;
	struct mic *m;

	for (int i = 0; i < st->n_org; i++)
		if (st->organisers[i] == id)
			st->organisers[i--] = st->organisers[--st->n_org];
	for (int i = 0; i < st->n_clients && i < MAX_CLIENTS; i++)
		if (st->clients[i].id == id && st->clients[i].address[0]) {
			unsigned k = st->gone_next++ % 64;

			snprintf(st->gone[k].address, sizeof(st->gone[k].address), "%s",
			         st->clients[i].address);
			st->gone[k].at_ms = now_ms(st);
			break;
		}
	pthread_mutex_lock(&st->lock);
	m = mic_find(st, id);
	if (m && !m->leaving) {
		struct qpkt marker = {.client = id, .leave = true};

		m->leaving = true;
		/* The queue keeps MAX_MICS places for markers, one per microphone. */
		q_push(st, &marker, MICQ + MAX_MICS);
	}
	pthread_mutex_unlock(&st->lock);
}

/* ---- the update ---- */

static json_t *num(double v)
{
	return isfinite(v) ? json_real(round(v * 10.0) / 10.0) : json_null();
}

static void alarm_changed(void *user, const struct alarm *a, bool raised, uint64_t t_ms)
{
	struct levels *st = user;
	const struct puente_host *h = st->host;
	json_t *msg =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "type", NS ".alarm", "state",
	              raised ? "raised" : "cleared", "id", a->id, "kind", a->kind, "channel",
	              a->channel, "t", (json_int_t)t_ms, "message", a->message);

	h->log(h->ctx, raised ? PUENTE_LOG_WARN : PUENTE_LOG_INFO, "alarm %s %s: %s",
	       raised ? "raised" : "cleared", a->id, a->message);
	if (!msg)
		return;
	h->send_json_role(h->ctx, PUENTE_ROLE_TECHNICIAN, msg);
	for (int i = 0; i < st->n_org; i++)
		h->send_json(h->ctx, st->organisers[i], msg);
	json_decref(msg);
}

/* Service thread: listeners and drops per channel, lagging clients, relay counters. */
static json_t *health(struct levels *st)
{
	const struct puente_host *h = st->host;
	uint64_t now = now_ms(st);
	json_t *by = json_object(), *lagging = json_array();
	uint64_t dropped = 0, stalled = 0, refused = 0;
	int n = 0;

	for (int i = 0; i < st->n_ch; i++) {
		st->ch[i].listeners = 0;
		st->ch[i].dropped = 0;
	}
	if (PUENTE_HAS(h, clients) && h->clients) {
		puente_client_id max_seen = st->max_seen;

		n = h->clients(h->ctx, st->clients, MAX_CLIENTS);
		st->n_clients = n;
		for (int i = 0; i < n && i < MAX_CLIENTS; i++) {
			const struct puente_client_info *c = &st->clients[i];

			/* Ids are never reused: a larger one is a new connection. */
			if (c->id > st->max_seen) {
				for (int k = 0; k < 64; k++)
					if (st->gone[k].at_ms &&
					    st->gone[k].at_ms + RECONNECT_MS >= now &&
					    !strcmp(st->gone[k].address, c->address)) {
						st->reconnects++;
						st->gone[k].at_ms = 0;
						break;
					}
				if (c->id > max_seen)
					max_seen = c->id;
			}
			if (c->channel >= 0 && c->channel < st->n_ch) {
				st->ch[c->channel].listeners++;
				st->ch[c->channel].dropped += c->dropped;
			}
			if (c->lag_packets >= st->lag_packets &&
			    json_array_size(lagging) < MAX_LAGGING)
				json_array_append_new(lagging,
				                      json_pack("{s:I, s:I, s:I}", "client",
				                                (json_int_t)c->id, "lag_packets",
				                                (json_int_t)c->lag_packets,
				                                "dropped", (json_int_t)c->dropped));
		}
		st->max_seen = max_seen;
	}
	st->has_stats = PUENTE_HAS(h, relay_stats) && h->relay_stats;
	if (st->has_stats) {
		h->relay_stats(h->ctx, &st->stats);
		dropped = st->stats.packets_dropped;
		stalled = st->stats.stalled_closed;
		refused = st->stats.refused_audio + st->stats.refused_too_big +
		          st->stats.refused_fragments + st->stats.refused_role;
	}
	for (int i = 0; i < st->n_ch; i++)
		json_object_set_new(by, st->ch[i].name, json_integer(st->ch[i].listeners));
	json_t *out = json_pack("{s:i, s:o, s:I, s:I, s:I, s:I, s:o}", "clients", n,
	                        "listeners_by_channel", by, "dropped", (json_int_t)dropped,
	                        "stalled", (json_int_t)stalled, "refused", (json_int_t)refused,
	                        "reconnects", (json_int_t)st->reconnects, "lagging", lagging);
	/* Who was kept out at the door, and why. */
	st->has_access = PUENTE_HAS(h, access_stats) && h->access_stats;
	if (st->has_access) {
		struct puente_access_stats *a = &st->access;

		h->access_stats(h->ctx, a);
		json_object_set_new(out, "access",
		                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		                              "refused_token", (json_int_t)a->refused_token,
		                              "refused_banned", (json_int_t)a->refused_banned,
		                              "bans", (json_int_t)a->bans, "banned_now",
		                              (json_int_t)a->banned_now, "refused_pending",
		                              (json_int_t)a->refused_pending, "refused_conns",
		                              (json_int_t)a->refused_conns, "refused_duplicate",
		                              (json_int_t)a->refused_duplicate, "taken_over",
		                              (json_int_t)a->taken_over, "revoked_closed",
		                              (json_int_t)a->revoked_closed, "attendance_dropped",
		                              (json_int_t)a->attendance_dropped));
	}
	return out;
}

static json_t *alarm_list(struct levels *st)
{
	json_t *a = json_array();

	for (int i = 0; i < ALARMS_MAX; i++) {
		const struct alarm *x = &st->al.list[i];

		if (x->active)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", x->id,
			                                   "kind", x->kind, "channel", x->channel,
			                                   "since", (json_int_t)x->since_ms,
			                                   "message", x->message));
	}
	return a;
}

static void levels_tick(void *state, uint64_t now_us)
{
	struct levels *st = state;
	const struct puente_host *h = st->host;
	uint64_t now = now_ms(st);
	json_t *chans = json_array(), *mics = json_array(), *hl, *msg;
	int live_mics[PUENTE_MAX_CHANNELS] = {0}, sounding[PUENTE_MAX_CHANNELS] = {0};
	bool floor_live;

	(void)now_us;
	hl = health(st);
	pthread_mutex_lock(&st->lock);
	for (int i = 0; i < st->n_ch; i++)
		meter_take(&st->ch[i].m, now, &st->ch[i].last);
	for (int i = 0; i < MAX_MICS; i++) {
		struct mic *m = &st->mics[i];

		if (!m->used || m->leaving)
			continue;
		meter_take(&m->m, now, &m->last);
		if (m->last.peak >= st->al.cfg.silence_dbfs)
			m->sound_ms = now;
		if (m->last_ms + MIC_LIVE_MS >= now && m->channel >= 0 && m->channel < st->n_ch) {
			live_mics[m->channel]++; /* sending packets */
			sounding[m->channel] += m->sound_ms + MIC_LIVE_MS >= now; /* with sound */
		}
		json_array_append_new(
		    mics,
		    json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "client",
		              (json_int_t)m->client, "channel",
		              m->channel < st->n_ch ? st->ch[m->channel].name : "", "peak",
		              num(m->last.peak), "rms", num(m->last.rms), "true_peak",
		              num(m->last.true_peak), "peak_hold", num(m->last.peak_hold),
		              "momentary", num(m->last.momentary), "short_term",
		              num(m->last.short_term), "clips", (json_int_t)m->last.clips,
		              "loss_pct", num(mic_loss_pct(m)), "jitter_ms", num(m->jitter_ms)));
	}
	pthread_mutex_unlock(&st->lock);

	/* Alarms, on what was just read. */
	floor_live = !(st->has_stats && st->stats.source_lost);
	alarms_set(&st->al, "source_lost", "", st->has_stats && st->stats.source_lost, now,
	           "the room's audio input is lost");
	for (int i = 0; i < st->n_ch; i++) {
		struct chan *c = &st->ch[i];
		bool floor = i == 0, live = floor ? floor_live : live_mics[i] > 0;
		char msg_buf[ALARM_MSG_MAX];

		c->silent_s = alarms_silence(&st->al, i, c->name, live, c->last.peak, now);
		alarms_clipping(&st->al, i, c->name, c->last.clips, now);
		if (PUENTE_HAS(h, clients) && h->clients)
			alarms_drops(&st->al, i, c->name, c->dropped, now);
		snprintf(msg_buf, sizeof(msg_buf), "%s has %d listeners and no live interpreter",
		         c->name, c->listeners);
		alarms_set(&st->al, "no_interpreter", c->name,
		           !floor && c->listeners > 0 && live_mics[i] == 0, now, msg_buf);
		snprintf(msg_buf, sizeof(msg_buf), "%d microphones live on %s", sounding[i],
		         c->name);
		alarms_set(&st->al, "two_mics", c->name, sounding[i] >= 2, now, msg_buf);
		json_array_append_new(
		    chans, json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:i, s:o}",
		                     "name", c->name, "peak", num(c->last.peak), "rms",
		                     num(c->last.rms), "true_peak", num(c->last.true_peak),
		                     "peak_hold", num(c->last.peak_hold), "momentary",
		                     num(c->last.momentary), "short_term", num(c->last.short_term),
		                     "integrated", num(c->last.integrated), "lra", num(c->last.lra),
		                     "clips", (json_int_t)c->last.clips, "listeners", c->listeners,
		                     "silent_s", num(c->silent_s)));
	}
	msg =
	    json_pack("{s:s, s:I, s:o, s:o, s:o, s:o}", "type", NS ".update", "t", (json_int_t)now,
	              "channels", chans, "mics", mics, "health", hl, "alarms", alarm_list(st));
	if (!msg)
		return;
	h->send_json_role(h->ctx, PUENTE_ROLE_TECHNICIAN, msg);
	for (int i = 0; i < st->n_org; i++)
		h->send_json(h->ctx, st->organisers[i], msg);
	st->updates++;
	json_decref(msg);
}

/* ---- messages ---- */

static int levels_message(void *state, puente_client_id from, const char *verb, const json_t *body)
{
	struct levels *st = state;
	const struct puente_host *h = st->host;
	int role = h->client_role(h->ctx, from);

	if (strcmp(verb, "subscribe") && strcmp(verb, "reset"))
		return -ENOENT;
	if (role != PUENTE_ROLE_TECHNICIAN && role != PUENTE_ROLE_ORGANISER)
		return -EPERM; /* a listener asking for levels is refused */
	if (!strcmp(verb, "subscribe")) {
		/* Technicians get every update anyway; organisers ask for them. */
		bool known = false;

		for (int i = 0; i < st->n_org; i++)
			known |= st->organisers[i] == from;
		if (role == PUENTE_ROLE_ORGANISER && !known) {
			if (st->n_org == ORG_MAX)
				return -EBUSY;
			st->organisers[st->n_org++] = from;
		}
		return 0;
	}
	/* reset {"channel": name}: a new integrated loudness and LRA for the channel. */
	{
		const char *name = json_string_value(json_object_get(body, "channel"));
		int ch = name ? h->channel_find(h->ctx, name) : -ENOENT;
		int rc;

		if (ch < 0 || ch >= st->n_ch)
			return -EINVAL;
		pthread_mutex_lock(&st->lock);
		rc = meter_reset_integrated(&st->ch[ch].m);
		pthread_mutex_unlock(&st->lock);
		h->log(h->ctx, PUENTE_LOG_INFO, "integrated loudness of %s reset by client %llu",
		       st->ch[ch].name, (unsigned long long)from);
		return rc ? -EBUSY : 0;
	}
}

/* ---- /levels/metrics ---- */

static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f), fputc(*s, f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void value(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN\n", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf\n" : "-Inf\n", f);
	else if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f\n", v);
	else
		fprintf(f, "%.3f\n", v);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_channel(FILE *f, struct levels *st, const char *name, const char *extra,
                        double (*get)(const struct chan *))
{
	for (int i = 0; i < st->n_ch; i++) {
		fprintf(f, "%s{channel=\"", name);
		label(f, st->ch[i].name);
		fprintf(f, "\"%s} ", extra ? extra : "");
		value(f, get(&st->ch[i]));
	}
}

static double g_peak(const struct chan *c)
{
	return c->last.peak;
}
static double g_mom(const struct chan *c)
{
	return c->last.momentary;
}
static double g_short(const struct chan *c)
{
	return c->last.short_term;
}
static double g_int(const struct chan *c)
{
	return c->last.integrated;
}
static double g_clips(const struct chan *c)
{
	return (double)c->last.clips;
}
static double g_listeners(const struct chan *c)
{
	return c->listeners;
}

/* CPU seconds and resident bytes of this process; 0 when /proc says nothing. */
static void process_usage(double *cpu_s, double *rss)
{
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	unsigned long ut = 0, stt = 0, pages = 0, total = 0;

	*cpu_s = *rss = 0;
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		char *p;

		buf[n] = 0;
		fclose(f);
		/* Fields after the command (which may hold spaces): state is field 3, utime 14. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
		                &stt) == 2)
			*cpu_s = (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%lu %lu", &total, &pages) == 2)
			*rss = (double)pages * (double)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
}

/* The metrics text; malloc'd. */
static char *metrics_text(struct levels *st, size_t *len)
{
	char *out = NULL;
	FILE *f = open_memstream(&out, len);
	double cpu, rss;

	if (!f)
		return NULL;
	head(f, "puente_channel_peak_dbfs", "gauge", "Sample peak of the last meter window, dBFS.");
	per_channel(f, st, "puente_channel_peak_dbfs", NULL, g_peak);
	head(f, "puente_channel_loudness_lufs", "gauge", "EBU R128 loudness, LUFS.");
	per_channel(f, st, "puente_channel_loudness_lufs", ",window=\"momentary\"", g_mom);
	per_channel(f, st, "puente_channel_loudness_lufs", ",window=\"short_term\"", g_short);
	per_channel(f, st, "puente_channel_loudness_lufs", ",window=\"integrated\"", g_int);
	head(f, "puente_channel_clips_total", "counter", "Runs of clipped samples on the channel.");
	per_channel(f, st, "puente_channel_clips_total", NULL, g_clips);
	head(f, "puente_listeners", "gauge", "Clients hearing the channel.");
	per_channel(f, st, "puente_listeners", NULL, g_listeners);
	if (st->has_stats) {
		const struct puente_relay_stats *s = &st->stats;
		static const char *reasons[] = {"audio", "too_big", "fragments", "role"};
		uint64_t refused[] = {s->refused_audio, s->refused_too_big, s->refused_fragments,
		                      s->refused_role};

		head(f, "puente_packets_published_total", "counter",
		     "Packets published into channels.");
		fprintf(f, "puente_packets_published_total %llu\n",
		        (unsigned long long)s->packets_published);
		head(f, "puente_packets_sent_total", "counter", "Audio packets sent to clients.");
		fprintf(f, "puente_packets_sent_total %llu\n", (unsigned long long)s->packets_sent);
		head(f, "puente_packets_dropped_total", "counter",
		     "Packets clients skipped because they fell behind.");
		fprintf(f, "puente_packets_dropped_total %llu\n",
		        (unsigned long long)s->packets_dropped);
		head(f, "puente_refused_total", "counter", "Client frames refused, by reason.");
		for (int i = 0; i < 4; i++)
			fprintf(f, "puente_refused_total{reason=\"%s\"} %llu\n", reasons[i],
			        (unsigned long long)refused[i]);
		if (st->has_access) {
			const struct puente_access_stats *a = &st->access;
			static const char *why[] = {"link", "banned", "handshakes", "sockets",
			                            "duplicate"};
			uint64_t n[] = {a->refused_token, a->refused_banned, a->refused_pending,
			                a->refused_conns, a->refused_duplicate};

			head(f, "puente_door_refused_total", "counter",
			     "Connections refused at the door, by reason.");
			for (int i = 0; i < 5; i++)
				fprintf(f, "puente_door_refused_total{reason=\"%s\"} %llu\n",
				        why[i], (unsigned long long)n[i]);
			head(f, "puente_banned_addresses", "gauge", "Client addresses banned now.");
			fprintf(f, "puente_banned_addresses %llu\n",
			        (unsigned long long)a->banned_now);
			head(f, "puente_taken_over_total", "counter",
			     "Connections replaced by the same link on another device.");
			fprintf(f, "puente_taken_over_total %llu\n",
			        (unsigned long long)a->taken_over);
		}
		head(f, "puente_clients", "gauge", "Clients connected now.");
		fprintf(f, "puente_clients %llu\n", (unsigned long long)s->clients_now);
		head(f, "puente_source_lost", "gauge", "1 while the room's audio input is lost.");
		fprintf(f, "puente_source_lost %d\n", s->source_lost ? 1 : 0);
	}
	head(f, "puente_alarms_active", "gauge", "Alarms raised and not cleared.");
	fprintf(f, "puente_alarms_active %zu\n", alarms_active(&st->al));
	process_usage(&cpu, &rss);
	head(f, "puente_process_cpu_seconds_total", "counter",
	     "User and system CPU time, seconds.");
	fprintf(f, "puente_process_cpu_seconds_total %.2f\n", cpu);
	head(f, "puente_process_resident_memory_bytes", "gauge", "Resident memory, bytes.");
	fprintf(f, "puente_process_resident_memory_bytes %.0f\n", rss);
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

static bool token_equal(const char *secret, size_t secret_len, const char *given, size_t given_len)
{
	volatile unsigned char diff = secret_len != given_len;

	for (size_t i = 0; i < secret_len; i++)
		diff |= (unsigned char)secret[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
	return diff == 0;
}

/* The value of key in a query string (not decoded), or NULL. */
static const char *query_get(const char *q, const char *key, size_t *n)
{
	size_t k = strlen(key);

	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);

		if (len > k && !strncmp(p, key, k) && p[k] == '=') {
			*n = len - k - 1;
			return p + k + 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static void answer(struct puente_http_response *res, int status, const char *text)
{
	res->status = status;
	snprintf(res->content_type, sizeof(res->content_type), "text/plain; charset=utf-8");
	res->body = strdup(text);
	res->body_len = res->body ? strlen(text) : 0;
}

static void levels_http(void *state, const struct puente_http_request *req,
                        struct puente_http_response *res)
{
	struct levels *st = state;
	const char *token;
	size_t n = 0;

	if (strcmp(req->path, METRICS_PATH)) {
		answer(res, 404, "not found\n");
		return;
	}
	if (!st->metrics_open) {
		token = query_get(req->query, "token", &n);
		if (!token || !n) {
			answer(res, 401, "a token is needed: ?token=...\n");
			return;
		}
		if (!token_equal(st->token, st->token_len, token, n)) {
			answer(res, 403, "wrong token\n");
			return;
		}
	}
	if (strcmp(req->method, "GET")) {
		answer(res, 405, "GET here\n");
		return;
	}
	res->body = metrics_text(st, &res->body_len);
	if (!res->body) {
		answer(res, 500, "out of memory\n");
		return;
	}
	res->status = 200;
	snprintf(res->content_type, sizeof(res->content_type), "text/plain; version=0.0.4");
	st->metrics_served++;
}

/* ---- configuration, init, destroy ---- */

static int conf_double(struct levels *st, const char *key, double fallback, double lo, double hi,
                       double *out)
{
	const struct puente_host *h = st->host;
	const char *v = h->config_get(h->ctx, key, NULL);
	char *end;
	double d;

	if (!v || !*v) {
		*out = fallback;
		return 0;
	}
	d = strtod(v, &end);
	while (*end == ' ')
		end++;
	if (end == v || *end || !(d >= lo && d <= hi)) {
		h->log(h->ctx, PUENTE_LOG_ERROR, "%s = %s: a number from %g to %g", key, v, lo, hi);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

static int conf_bool(struct levels *st, const char *key, bool fallback, bool *out)
{
	const struct puente_host *h = st->host;
	const char *v = h->config_get(h->ctx, key, NULL);

	if (!v || !*v)
		*out = fallback;
	else if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else {
		h->log(h->ctx, PUENTE_LOG_ERROR, "%s = %s: yes or no", key, v);
		return -EINVAL;
	}
	return 0;
}

static int set_token(struct levels *st)
{
	const struct puente_host *h = st->host;
	const char *v = h->config_get(h->ctx, "metrics_token", NULL);
	unsigned char raw[16];
	size_t got = 0;

	if (v && *v) {
		size_t n = strlen(v);

		if (n < 16 || n > TOKEN_MAX ||
		    strspn(v,
		           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") !=
		        n) {
			h->log(h->ctx, PUENTE_LOG_ERROR,
			       "metrics_token: 16 to %d characters of A-Z a-z 0-9 - . _ ~",
			       TOKEN_MAX);
			return -EINVAL;
		}
		memcpy(st->token, v, n + 1);
		st->token_len = n;
		st->fixed_token = true;
		return 0;
	}
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			h->log(h->ctx, PUENTE_LOG_ERROR, "getrandom failed: no metrics token");
			return -EIO;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(st->token + 2 * i, 3, "%02x", raw[i]);
	st->token_len = 2 * sizeof(raw);
	return 0;
}

static void levels_destroy(void *state);

static int levels_configure(struct levels *st)
{
	struct alarm_config ac;
	double rate, hold, lag;

	alarm_config_default(&ac);
	if (conf_double(st, "rate_hz", 10, 1, 50, &rate) ||
	    conf_double(st, "silence_s", 10, 1, 3600, &ac.silence_s) ||
	    conf_double(st, "silence_dbfs", -60, -120, 0, &ac.silence_dbfs) ||
	    conf_double(st, "clip_dbfs", -0.1, -20, 0, &st->clip_dbfs) ||
	    conf_double(st, "clip_hold_s", 3, 0.1, 600, &ac.clip_hold_s) ||
	    conf_double(st, "drops_rise", 25, 1, 1e6, &ac.drops_rise) ||
	    conf_double(st, "peak_hold_s", 2, 0, 60, &hold) ||
	    conf_double(st, "lag_packets", 25, 1, 1e6, &lag) ||
	    conf_bool(st, "metrics_open", false, &st->metrics_open))
		return -EINVAL;
	st->rate_hz = (unsigned)rate;
	st->hold_ms = (uint32_t)(hold * 1000);
	st->lag_packets = (uint32_t)lag;
	alarms_init(&st->al, &ac, alarm_changed, st);
	return st->metrics_open ? 0 : set_token(st);
}

static int levels_init(const struct puente_host *host, void **state)
{
	struct levels *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		return -ENOMEM;
	st->host = host;
	st->wall_offset_ms = clock_us(CLOCK_REALTIME) / 1000 - clock_us(CLOCK_MONOTONIC) / 1000;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	*state = st;
	st->q = calloc(MICQ + MAX_MICS, sizeof(*st->q));
	st->clients = calloc(MAX_CLIENTS, sizeof(*st->clients));
	if (!st->q || !st->clients) {
		rc = -ENOMEM;
		goto fail;
	}
	if ((rc = levels_configure(st)))
		goto fail;
	for (const struct puente_channel_info *ci;
	     st->n_ch < PUENTE_MAX_CHANNELS && (ci = host->channel(host->ctx, st->n_ch));) {
		struct chan *c = &st->ch[st->n_ch];

		c->id = ci->id;
		c->name = ci->name;
		c->st = st;
		c->last.peak = c->last.rms = c->last.true_peak = c->last.peak_hold = -INFINITY;
		c->last.momentary = c->last.short_term = c->last.integrated = -INFINITY;
		st->n_ch++;
		if ((rc = meter_init(&c->m, 1, st->clip_dbfs, st->hold_ms)))
			goto fail;
	}
	if ((rc = host->http_route(host->ctx, METRICS_PATH, levels_http)) ||
	    (rc = host->timer_every(host->ctx, 1000 / st->rate_hz)))
		goto fail;
	if ((rc = pthread_create(&st->mic_thread, NULL, mic_main, st))) {
		rc = -rc;
		goto fail;
	}
	st->mic_running = true;
	for (int i = 0; i < st->n_ch; i++) {
		struct chan *c = &st->ch[i];

		if (!host->reader_open || host->reader_open(host->ctx, i, &c->reader) < 0) {
			host->log(host->ctx, PUENTE_LOG_WARN, "channel %s: no reader: not metered",
			          c->name);
			c->reader = NULL;
			continue;
		}
		if (pthread_create(&c->thread, NULL, chan_main, c)) {
			host->reader_close(c->reader);
			c->reader = NULL;
			rc = -EAGAIN;
			goto fail;
		}
		c->running = true;
	}
	if (st->metrics_open)
		host->log(host->ctx, PUENTE_LOG_WARN, "metrics: " METRICS_PATH " open to anyone");
	else if (st->fixed_token)
		host->log(host->ctx, PUENTE_LOG_INFO,
		          "metrics: " METRICS_PATH "?token=<metrics_token of the config>");
	else
		host->log(host->ctx, PUENTE_LOG_INFO,
		          "metrics: " METRICS_PATH "?token=%s (after the relay's http://HOST:PORT)",
		          st->token);
	host->log(host->ctx, PUENTE_LOG_INFO, "%d channels metered at %u Hz", st->n_ch,
	          st->rate_hz);
	return 0;
fail:
	levels_destroy(st);
	*state = NULL;
	return rc;
}

static void levels_destroy(void *state)
{
	struct levels *st = state;

	if (!st)
		return;
	pthread_mutex_lock(&st->lock);
	st->stop = true;
	pthread_cond_broadcast(&st->cond);
	pthread_mutex_unlock(&st->lock);
	for (int i = 0; i < st->n_ch; i++) {
		if (st->ch[i].running)
			pthread_join(st->ch[i].thread, NULL);
		if (st->ch[i].reader)
			st->host->reader_close(st->ch[i].reader);
		meter_free(&st->ch[i].m);
	}
	if (st->mic_running)
		pthread_join(st->mic_thread, NULL);
	for (int i = 0; i < MAX_MICS; i++)
		if (st->mics[i].used) {
			opus_decoder_destroy(st->mics[i].dec);
			meter_free(&st->mics[i].m);
		}
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st->q);
	free(st->clients);
	free(st);
}

const struct puente_plugin levels_plugin = {
    .abi = PUENTE_PLUGIN_ABI,
    .size = sizeof(struct puente_plugin),
    .name = NS,
    .version = "1",
    .init = levels_init,
    .destroy = levels_destroy,
    .client_leave = levels_client_leave,
    .message = levels_message,
    .audio = levels_audio,
    .tick = levels_tick,
};

PUENTE_PLUGIN_DEFINE(levels_plugin)
