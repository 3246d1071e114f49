/*
 * The room: its channels (each a broadcast ring), the room clock, the state
 * of the room's audio source, and the counters a technician sees. Shared by
 * the media thread, the playback thread and the lws service thread; every
 * shared field is atomic or written before those threads start.
 */
#ifndef PUENTE_CORE_ROOM_H
#define PUENTE_CORE_ROOM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan_ring.h"
#include "config.h"

struct lws_context;

/* Room clock anchor: media time `media_time` was captured at `unix_us`. */
struct puente__clock {
	_Atomic uint64_t seq; /* odd while being written */
	_Atomic uint64_t media_time;
	_Atomic uint64_t unix_us;
};

struct puente__stats {
	_Atomic uint64_t packets_published;
	_Atomic uint64_t encode_errors;
	_Atomic uint64_t silence_packets; /* published while the source was lost */
	_Atomic uint64_t source_losses;
	_Atomic uint64_t clients_now;
	_Atomic uint64_t clients_total;
	_Atomic uint64_t packets_sent;
	_Atomic uint64_t packets_dropped; /* listeners lapped by their channel */
	_Atomic uint64_t refused_audio;   /* binary frames from a role that may not send audio */
	_Atomic uint64_t refused_role;    /* plugin messages refused for the sender's role */
	_Atomic uint64_t audio_received;  /* interpreter packets a plugin took */
	_Atomic uint64_t audio_dropped;   /* interpreter packets no plugin took (not live) */
	_Atomic uint64_t audio_invalid;   /* interpreter packets that failed validation */
	_Atomic uint64_t refused_too_big;
	_Atomic uint64_t refused_fragments;
	_Atomic uint64_t bad_messages; /* bad_json, unknown_type, bad_field, unknown_channel */
	_Atomic uint64_t rate_limited;
	_Atomic uint64_t text_dropped; /* control replies dropped: client queue full */
	_Atomic uint64_t stalled_closed;
	_Atomic uint64_t play_packets;
	/* at the door (struct puente_access_stats) */
	_Atomic uint64_t refused_token;
	_Atomic uint64_t refused_banned;
	_Atomic uint64_t bans;
	_Atomic uint64_t banned_now;
	_Atomic uint64_t refused_pending;
	_Atomic uint64_t refused_conns;
	_Atomic uint64_t refused_duplicate;
	_Atomic uint64_t taken_over;
	_Atomic uint64_t revoked_closed;
	_Atomic uint64_t attendance_dropped;
};

enum puente__source_state {
	PUENTE_SOURCE_OK = 0,
	PUENTE_SOURCE_LOST = 1,
};

struct puente__room {
	const struct puente__config *cfg;
	size_t n_channels;
	struct puente__chan_ring rings[PUENTE_MAX_CHANNELS]; /* index = wire channel id */
	int floor;                                           /* index of "floor" */
	uint32_t frame_samples;                              /* 48 kHz samples per packet */
	struct puente__clock clock;
	_Atomic int source_state;    /* enum puente__source_state */
	_Atomic uint32_t source_gen; /* +1 on every state change */
	_Atomic int wake_pending;
	struct lws_context *_Atomic lws; /* set while the service loop runs */
	struct puente__stats stats;
};

int puente__room_init(struct puente__room *room, const struct puente__config *cfg);
void puente__room_fini(struct puente__room *room);

/* Any thread: wake the service thread; coalesced like uv_async_send. */
void puente__room_wake(struct puente__room *room);

/* Media thread (single writer). */
void puente__clock_set(struct puente__clock *c, uint64_t media_time, uint64_t unix_us);
/* Any thread. */
void puente__clock_get(struct puente__clock *c, uint64_t *media_time, uint64_t *unix_us);

/* Media thread: record a state change and wake the service thread. */
void puente__room_set_source(struct puente__room *room, enum puente__source_state s);

uint64_t puente__now_unix_us(void);
uint64_t puente__now_mono_ns(void);

#endif
