/*
 * Audio devices through PortAudio: room capture into a lock-free ring, and
 * optional playback of one channel from another ring.
 *
 * Every Pa_* call runs on the audio device thread (audio.c), never on the
 * network thread: Pa_StopStream can hang when a JACK server dies. The
 * callbacks only copy between the device buffers and the rings.
 */
#ifndef PUENTE_CORE_AUDIO_H
#define PUENTE_CORE_AUDIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "spsc.h"

#define PUENTE_CAPTURE_RING (1u << 15) /* mono samples, ~0.68 s at 48 kHz */
#define PUENTE_PLAY_RING    (1u << 14) /* mono samples at 48 kHz, ~0.34 s */

struct puente__audio {
	/* capture: callback writes, media thread reads */
	struct puente__spsc cap_ring;
	float cap_buf[PUENTE_CAPTURE_RING];
	_Atomic uint64_t cap_callbacks;     /* grows while the device delivers */
	_Atomic uint32_t cap_rate;          /* sample rate of the current stream */
	_Atomic uint32_t cap_generation;    /* +1 each time a capture stream starts */
	_Atomic uint32_t cap_period_frames; /* frames per callback, for the watchdog */
	_Atomic uint32_t cap_overflows;     /* the device reported lost input */
	_Atomic int reopen_request;         /* set by the watchdog (media thread) */

	/* playback: decoder thread writes 48 kHz mono, callback reads */
	struct puente__spsc play_ring;
	float play_buf[PUENTE_PLAY_RING];
	int play_channels;
	_Atomic uint64_t play_callbacks;
	_Atomic uint32_t play_starved; /* callbacks that found too little audio */

	/* device thread */
	char input[128];  /* device name or index; "default" or "" for the default */
	char output[128]; /* empty: no playback */
	bool capture;
	bool pa_ready;
	void *in_stream;
	void *out_stream;
	pthread_t thread;
	bool thread_started;
	_Atomic int stop;
	_Atomic int thread_done;
};

/*
 * Main thread. Initialises PortAudio and opens the streams asked for
 * (capture when a->capture, playback when a->output[0]), then starts the
 * device thread that reopens a lost capture device with backoff.
 * Returns 0, or -ENODEV when a stream could not be opened (one line logged).
 */
int puente__audio_start(struct puente__audio *a);

/* Main thread. Stops the streams and the device thread; gives up waiting after timeout_ms. */
void puente__audio_stop(struct puente__audio *a, int timeout_ms);

/* Prints every device PortAudio finds. 0 or -errno. */
int puente__audio_list_devices(FILE *out);

#endif
