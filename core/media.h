/*
 * The media thread: takes the room's input (device ring, file or tone),
 * encodes it once with Opus and publishes it into the floor channel. It is
 * also the capture watchdog: a device that stops delivering is reported
 * lost, replaced by flagged silence on the room clock, and reopened.
 */
#ifndef PUENTE_CORE_MEDIA_H
#define PUENTE_CORE_MEDIA_H

#include <opus.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "audio.h"
#include "config.h"
#include "room.h"

struct puente__media {
	struct puente__room *room;
	struct puente__audio *audio; /* capture device, or NULL */
	enum puente__source_kind kind;
	float *file_pcm;
	size_t file_len;
	size_t file_pos;
	double tone_phase;
	OpusEncoder *enc;
	uint64_t media_time;
	pthread_t thread;
	_Atomic int stop;
};

/*
 * Main thread. audio is the started capture device for PUENTE_SOURCE_DEVICE,
 * else NULL. Loads the file source, creates the encoder, starts the thread.
 * 0 or -errno (logged).
 */
int puente__media_start(struct puente__media *m, struct puente__room *room,
                        const struct puente__config *cfg, enum puente__source_kind kind,
                        struct puente__audio *audio);
void puente__media_stop(struct puente__media *m);

#endif
