/*
 * The host services a plugin gets (struct puente_host in plugin.h). Each
 * plugin's ctx is its slot. Calls meant for the service thread check that
 * they are on it; send_json from other threads goes through the server's
 * inbox.
 */
#include <errno.h>
#include <opus.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "plugins.h"
#include "server.h"

struct puente_reader {
	struct puente__chan_ring *ring;
	struct puente__cursor cur;
	unsigned char frame[PUENTE_MAX_FRAME];
};

static struct puente__plugin_slot *slot_of(void *ctx)
{
	return ctx;
}

static void host_log(void *ctx, enum puente_log_level level, const char *fmt, ...)
{
	char prefix[48];
	va_list ap;

	snprintf(prefix, sizeof(prefix), "plugin %s", slot_of(ctx)->name);
	va_start(ap, fmt);
	puente__logv(level, prefix, fmt, ap);
	va_end(ap);
}

static int host_send_json(void *ctx, puente_client_id to, const json_t *msg)
{
	return puente__server_send(slot_of(ctx)->owner->srv, to, -1, msg);
}

static int host_send_json_role(void *ctx, enum puente_role role, const json_t *msg)
{
	if ((int)role < 0 || role >= PUENTE_ROLE_COUNT)
		return -EINVAL;
	return puente__server_send(slot_of(ctx)->owner->srv, 0, (int)role, msg);
}

static uint64_t host_media_time_now(void *ctx)
{
	struct puente__room *room = slot_of(ctx)->owner->room;
	uint64_t media_time, unix_us;
	uint64_t now = puente__now_unix_us();

	puente__clock_get(&room->clock, &media_time, &unix_us);
	if (now <= unix_us)
		return media_time;
	return media_time + (now - unix_us) * PUENTE_SAMPLE_RATE / 1000000u;
}

static const struct puente_channel_info *host_channel(void *ctx, int index)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (index < 0 || (size_t)index >= p->room->n_channels)
		return NULL;
	return &p->channels[index];
}

static int host_channel_find(void *ctx, const char *name)
{
	int i = name ? puente__config_channel(slot_of(ctx)->owner->cfg, name) : -1;

	return i < 0 ? -ENOENT : i;
}

static int host_reader_open(void *ctx, int channel, struct puente_reader **out)
{
	struct puente__room *room = slot_of(ctx)->owner->room;
	struct puente_reader *r;

	if (channel < 0 || (size_t)channel >= room->n_channels)
		return -ENOENT;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->ring = &room->rings[channel];
	puente__cursor_start(r->ring, &r->cur, 0);
	*out = r;
	return 0;
}

static int host_reader_next(struct puente_reader *r, struct puente_packet *pkt, unsigned char *buf,
                            size_t cap)
{
	struct puente_header h;
	size_t len = puente__chan_read(r->ring, &r->cur, r->frame, sizeof(r->frame));

	if (len == 0)
		return 0;
	if (puente_header_parse(r->frame, len, &h) || len - PUENTE_HEADER_LEN > cap)
		return -EINVAL;
	len -= PUENTE_HEADER_LEN;
	memcpy(buf, r->frame + PUENTE_HEADER_LEN, len);
	int samples = opus_packet_get_nb_samples(buf, (opus_int32)len, PUENTE_SAMPLE_RATE);
	*pkt = (struct puente_packet){
	    .channel = h.channel,
	    .flags = h.flags,
	    .seq = h.seq,
	    .media_time = h.media_time,
	    .samples = samples > 0 ? (uint32_t)samples : 0,
	    .len = (uint32_t)len,
	    .data = buf,
	};
	return 1;
}

/* Polls in 2 ms steps: publishers never wait on a plugin's condition variable. */
static int host_reader_wait(struct puente_reader *r, uint32_t timeout_ms)
{
	const struct timespec step = {0, 2000000};

	for (uint32_t t = 0;; t += 2) {
		if (puente__chan_waiting(r->ring, &r->cur))
			return 1;
		if (t >= timeout_ms)
			return 0;
		nanosleep(&step, NULL);
	}
}

static void host_reader_close(struct puente_reader *r)
{
	free(r);
}

static int host_publish(void *ctx, int channel, const struct puente_packet *pkt)
{
	struct puente__plugins *p = slot_of(ctx)->owner;
	struct puente__room *room = p->room;

	if (!puente__server_on_service_thread(p->srv))
		return -EPERM;
	if (channel < 0 || (size_t)channel >= room->n_channels)
		return -ENOENT;
	if (channel == room->floor)
		return -EPERM;
	if (!pkt || !pkt->data || pkt->len == 0 || pkt->len > PUENTE_MAX_OPUS)
		return -EINVAL;
	int64_t n = puente__chan_publish(&room->rings[channel],
	                                 pkt->flags & (PUENTE_FLAG_DISCONT | PUENTE_FLAG_SILENCE),
	                                 pkt->media_time, pkt->data, pkt->len);
	if (n < 0)
		return (int)n;
	atomic_fetch_add(&room->stats.packets_published, 1);
	puente__room_wake(room);
	return 0;
}

static int host_subscribe(void *ctx, puente_client_id client, int channel)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (!puente__server_on_service_thread(p->srv))
		return -EPERM;
	if (channel < -1 || channel >= (int)p->room->n_channels)
		return -ENOENT;
	return puente__ws_subscribe(p->srv, client, channel);
}

static int host_subscription(void *ctx, puente_client_id client)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (!puente__server_on_service_thread(p->srv))
		return -EPERM;
	return puente__ws_subscription(p->srv, client);
}

static int host_client_role(void *ctx, puente_client_id client)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (!puente__server_on_service_thread(p->srv))
		return -EPERM;
	return puente__ws_role(p->srv, client);
}

static int host_clients(void *ctx, struct puente_client_info *out, size_t cap)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (!puente__server_on_service_thread(p->srv))
		return -EPERM;
	return puente__ws_clients(p->srv, out, cap);
}

static const char *host_client_grant(void *ctx, puente_client_id client, const char *key)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (!puente__server_on_service_thread(p->srv) || !key)
		return NULL;
	return puente__ws_grant(p->srv, client, key);
}

static void host_attendance_note(void *ctx, puente_client_id client, const char *what,
                                 const char *value)
{
	struct puente__plugins *p = slot_of(ctx)->owner;

	if (puente__server_on_service_thread(p->srv) && what)
		puente__ws_attendance_note(p->srv, client, what, value);
}

static void host_access_stats(void *ctx, struct puente_access_stats *o)
{
	struct puente__stats *st = &slot_of(ctx)->owner->room->stats;

#define GET(f) atomic_load_explicit(&st->f, memory_order_relaxed)
	*o = (struct puente_access_stats){
	    .refused_token = GET(refused_token),
	    .refused_banned = GET(refused_banned),
	    .bans = GET(bans),
	    .banned_now = GET(banned_now),
	    .refused_pending = GET(refused_pending),
	    .refused_conns = GET(refused_conns),
	    .refused_duplicate = GET(refused_duplicate),
	    .taken_over = GET(taken_over),
	    .revoked_closed = GET(revoked_closed),
	    .attendance_dropped = GET(attendance_dropped),
	};
#undef GET
}

static void host_relay_stats(void *ctx, struct puente_relay_stats *o)
{
	struct puente__stats *st = &slot_of(ctx)->owner->room->stats;
	struct puente__room *room = slot_of(ctx)->owner->room;

#define GET(f) atomic_load_explicit(&st->f, memory_order_relaxed)
	*o = (struct puente_relay_stats){
	    .packets_published = GET(packets_published),
	    .packets_sent = GET(packets_sent),
	    .packets_dropped = GET(packets_dropped),
	    .clients_now = GET(clients_now),
	    .clients_total = GET(clients_total),
	    .refused_audio = GET(refused_audio),
	    .refused_too_big = GET(refused_too_big),
	    .refused_fragments = GET(refused_fragments),
	    .refused_role = GET(refused_role),
	    .bad_messages = GET(bad_messages),
	    .rate_limited = GET(rate_limited),
	    .text_dropped = GET(text_dropped),
	    .stalled_closed = GET(stalled_closed),
	    .audio_received = GET(audio_received),
	    .audio_dropped = GET(audio_dropped),
	    .audio_invalid = GET(audio_invalid),
	    .source_losses = GET(source_losses),
	    .silence_packets = GET(silence_packets),
	    .source_lost = atomic_load(&room->source_state) == PUENTE_SOURCE_LOST,
	};
#undef GET
}

static const char *host_config_get(void *ctx, const char *key, const char *fallback)
{
	struct puente__plugin_slot *s = slot_of(ctx);
	const struct puente__config *cfg = s->owner->cfg;

	for (size_t i = 0; i < cfg->n_plugin_kv; i++) {
		const struct puente__plugin_kv *kv = &cfg->plugin_kv[i];

		if (!strcmp(kv->section, s->name) && !strcmp(kv->key, key))
			return kv->value;
	}
	return fallback;
}

static int host_http_route(void *ctx, const char *path, puente_http_fn fn)
{
	struct puente__plugin_slot *s = slot_of(ctx);
	struct puente__plugins *p = s->owner;
	size_t n = strlen(s->name);

	if (!s->can_call_init_services)
		return -EPERM;
	/* A plugin routes only under its own name, so two plugins never collide. */
	if (!path || !fn || path[0] != '/' || strncmp(path + 1, s->name, n) ||
	    (path[n + 1] != '/' && path[n + 1] != 0) || strlen(path) >= sizeof(p->routes[0].path))
		return -EINVAL;
	if (p->n_routes == PUENTE_MAX_ROUTES)
		return -ENOSPC;
	struct puente__route *r = &p->routes[p->n_routes++];
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->fn = fn;
	r->slot = s;
	return 0;
}

static int host_timer_every(void *ctx, uint32_t ms)
{
	struct puente__plugin_slot *s = slot_of(ctx);

	if (!s->can_call_init_services)
		return -EPERM;
	if (ms < 10)
		return -EINVAL;
	s->tick_ms = ms;
	return 0;
}

void puente__plugin_host_init(struct puente__plugin_slot *slot)
{
	slot->host = (struct puente_host){
	    .abi = PUENTE_PLUGIN_ABI,
	    .size = sizeof(struct puente_host),
	    .ctx = slot,
	    .log = host_log,
	    .send_json = host_send_json,
	    .send_json_role = host_send_json_role,
	    .media_time_now = host_media_time_now,
	    .channel = host_channel,
	    .channel_find = host_channel_find,
	    .reader_open = host_reader_open,
	    .reader_next = host_reader_next,
	    .reader_wait = host_reader_wait,
	    .reader_close = host_reader_close,
	    .publish = host_publish,
	    .subscribe = host_subscribe,
	    .subscription = host_subscription,
	    .client_role = host_client_role,
	    .config_get = host_config_get,
	    .http_route = host_http_route,
	    .timer_every = host_timer_every,
	    .relay_stats = host_relay_stats,
	    .clients = host_clients,
	    .client_grant = host_client_grant,
	    .attendance_note = host_attendance_note,
	    .access_stats = host_access_stats,
	};
}
