/* The room: channel rings, room clock and source state (see room.h). */
#include "room.h"

#include <errno.h>
#include <libwebsockets.h>
#include <string.h>
#include <time.h>

int puente__room_init(struct puente__room *room, const struct puente__config *cfg)
{
	memset(room, 0, sizeof(*room));
	room->cfg = cfg;
	room->n_channels = cfg->n_channels;
	room->floor = puente__config_channel(cfg, "floor");
	room->frame_samples = (uint32_t)(PUENTE_SAMPLE_RATE / 1000 * cfg->frame_ms);
	for (size_t i = 0; i < room->n_channels; i++) {
		int rc =
		    puente__chan_ring_init(&room->rings[i], (uint8_t)i, (uint32_t)cfg->ring_slots);
		if (rc) {
			while (i-- > 0)
				puente__chan_ring_fini(&room->rings[i]);
			return rc;
		}
	}
	return 0;
}

void puente__room_fini(struct puente__room *room)
{
	for (size_t i = 0; i < room->n_channels; i++)
		puente__chan_ring_fini(&room->rings[i]);
}

void puente__room_wake(struct puente__room *room)
{
	struct lws_context *ctx = atomic_load_explicit(&room->lws, memory_order_acquire);

	if (ctx && !atomic_exchange_explicit(&room->wake_pending, 1, memory_order_acq_rel))
		lws_cancel_service(ctx);
}

void puente__clock_set(struct puente__clock *c, uint64_t media_time, uint64_t unix_us)
{
	uint64_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);

	atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
	atomic_store_explicit(&c->media_time, media_time, memory_order_release);
	atomic_store_explicit(&c->unix_us, unix_us, memory_order_release);
	atomic_store_explicit(&c->seq, s + 2, memory_order_release);
}

void puente__clock_get(struct puente__clock *c, uint64_t *media_time, uint64_t *unix_us)
{
	for (;;) {
		uint64_t s = atomic_load_explicit(&c->seq, memory_order_acquire);

		if (s & 1)
			continue;
		*media_time = atomic_load_explicit(&c->media_time, memory_order_acquire);
		*unix_us = atomic_load_explicit(&c->unix_us, memory_order_acquire);
		if (atomic_load_explicit(&c->seq, memory_order_relaxed) == s)
			return;
	}
}

void puente__room_set_source(struct puente__room *room, enum puente__source_state s)
{
	if (atomic_exchange(&room->source_state, (int)s) != (int)s) {
		atomic_fetch_add(&room->source_gen, 1);
		puente__room_wake(room);
	}
}

uint64_t puente__now_unix_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t puente__now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
