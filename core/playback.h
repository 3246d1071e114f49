/*
 * Room playback: a thread follows one channel, decodes it and feeds the
 * audio device's playback ring (for the room's headsets or PA).
 */
#ifndef PUENTE_CORE_PLAYBACK_H
#define PUENTE_CORE_PLAYBACK_H

#include <opus.h>
#include <pthread.h>
#include <stdatomic.h>

#include "audio.h"
#include "room.h"

struct puente__playback {
	struct puente__room *room;
	struct puente__audio *audio;
	int channel;
	OpusDecoder *dec;
	pthread_t thread;
	_Atomic int stop;
};

/* Main thread; audio's playback stream is open. 0 or -errno. */
int puente__playback_start(struct puente__playback *p, struct puente__room *room,
                           struct puente__audio *audio, int channel);
void puente__playback_stop(struct puente__playback *p);

#endif
