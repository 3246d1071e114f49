/*
 * Alarms: conditions evaluated from meter readings and relay counters, each
 * raised once when its condition starts holding and cleared once when it
 * stops, with the time of each change. Pure: the caller passes the time
 * (unix ms) and gets every change through a callback; no host, no lock.
 *
 * Kinds and ids ("<kind>:<channel>", or the kind alone):
 *   silence        a live channel below silence_dbfs for silence_s
 *   clipping       a channel clipped within the last clip_hold_s
 *   no_interpreter a non-floor channel has listeners but no live microphone
 *   two_mics       two interpreter microphones live on one channel
 *   source_lost    the room's audio input is lost
 *   drops          a channel's listeners dropped >= drops_rise packets in 1 s
 */
#ifndef PUENTE_LEVELS_ALARMS_H
#define PUENTE_LEVELS_ALARMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALARMS_MAX      64
#define ALARM_ID_MAX    64
#define ALARM_NAME_MAX  32
#define ALARM_MSG_MAX   160
#define ALARMS_CHANNELS 32

struct alarm_config {
	double silence_s;    /* 10 */
	double silence_dbfs; /* -60: a window below this peak is silent */
	double clip_hold_s;  /* 3: clipping clears after this long without a new clip */
	double drops_rise;   /* 25 packets per second over a channel's listeners */
};

struct alarm {
	bool active;
	char id[ALARM_ID_MAX];
	char kind[ALARM_NAME_MAX];
	char channel[ALARM_NAME_MAX]; /* "" for none */
	uint64_t since_ms;
	char message[ALARM_MSG_MAX];
};

/* A change: raised (true) or cleared (false), at t_ms. */
typedef void (*alarm_fn)(void *user, const struct alarm *a, bool raised, uint64_t t_ms);

struct alarm_channel {
	uint64_t silent_since_ms; /* 0: not silent */
	uint64_t clips;           /* the last clip total seen */
	uint64_t last_clip_ms;
	uint64_t dropped;     /* the last drop total seen */
	uint64_t drops_at_ms; /* when `dropped` was sampled */
	bool has_clips, has_drops;
};

struct alarms {
	struct alarm_config cfg;
	struct alarm list[ALARMS_MAX];
	struct alarm_channel ch[ALARMS_CHANNELS];
	alarm_fn fn;
	void *user;
};

void alarms_init(struct alarms *al, const struct alarm_config *cfg, alarm_fn fn, void *user);
void alarm_config_default(struct alarm_config *cfg);

/*
 * Raises the alarm <kind>[:<channel>] when cond and it is not active, clears
 * it when !cond and it is; message is used when raising. +1 raised, -1
 * cleared, 0 no change.
 */
int alarms_set(struct alarms *al, const char *kind, const char *channel, bool cond, uint64_t now_ms,
               const char *message);

/*
 * Channel ch (index < ALARMS_CHANNELS) named name: one meter window whose
 * peak was peak_dbfs at now_ms. live: whether the channel is expected to
 * carry sound. Returns how long it has been silent, in seconds (0 when not).
 */
double alarms_silence(struct alarms *al, int ch, const char *name, bool live, double peak_dbfs,
                      uint64_t now_ms);
/* The channel's clip total now. */
void alarms_clipping(struct alarms *al, int ch, const char *name, uint64_t clips_total,
                     uint64_t now_ms);
/* The drops of the channel's listeners, summed, now (rate measured over >= 1 s). */
void alarms_drops(struct alarms *al, int ch, const char *name, uint64_t dropped_total,
                  uint64_t now_ms);

size_t alarms_active(const struct alarms *al);
const struct alarm *alarms_find(const struct alarms *al, const char *id);

#endif
