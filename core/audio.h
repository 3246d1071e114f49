/*
 * Audio devices. PortAudio runs in a separate worker process (the relay's
 * own binary started with --audio-worker): a driver that hangs or aborts
 * when its server dies (PortAudio's JACK host does both) can only take the
 * worker with it, and the relay kills it and starts a fresh one.
 *
 * Relay and worker share one memory mapping (struct puente__audio_shm):
 * the capture ring (worker's callback writes, media thread reads), the
 * playback ring (playback thread writes, worker's callback reads) and
 * counters. The rings are lock-free and work across processes.
 */
#ifndef PUENTE_CORE_AUDIO_H
#define PUENTE_CORE_AUDIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <puente/spsc.h>

#define PUENTE_CAPTURE_RING (1u << 15) /* mono samples, ~0.68 s at 48 kHz */
#define PUENTE_PLAY_RING    (1u << 14) /* mono samples at 48 kHz, ~0.34 s */

enum puente__worker_status {
	PUENTE_WORKER_STARTING = 0,
	PUENTE_WORKER_RUNNING = 1,
	PUENTE_WORKER_FAILED = 2,
};

struct puente__audio_shm {
	/* capture: the worker's callback writes, the media thread reads */
	struct puente_spsc cap_ring;
	float cap_buf[PUENTE_CAPTURE_RING];
	_Atomic uint64_t cap_callbacks;     /* grows while the device delivers */
	_Atomic uint32_t cap_rate;          /* sample rate of the current stream */
	_Atomic uint32_t cap_period_frames; /* frames per callback, for the watchdog */
	_Atomic uint32_t cap_overflows;     /* the device reported lost input */

	/* playback: the playback thread writes 48 kHz mono, the worker's callback reads */
	struct puente_spsc play_ring;
	float play_buf[PUENTE_PLAY_RING];
	_Atomic uint32_t play_channels;
	_Atomic uint64_t play_callbacks;
	_Atomic uint32_t play_starved; /* callbacks that found too little audio */

	/* worker -> relay: how opening went; message is written before status */
	_Atomic int status;
	char message[256];
};

struct puente__audio {
	struct puente__audio_shm *shm;
	int shm_fd;
	char input[128];  /* device name part or index; "default" for the default */
	char output[128]; /* empty: no playback */
	bool capture;
	char exe[512]; /* the relay's own binary, run as the worker */
	pid_t worker;

	_Atomic uint32_t cap_generation; /* +1 each time a capture stream starts */
	_Atomic int reopen_request;      /* set by the watchdog (media thread) */

	pthread_t thread; /* supervisor: restarts the worker on request */
	bool thread_started;
	_Atomic int stop;
};

/*
 * Main thread. Maps the shared memory, starts the worker with the streams
 * asked for (capture when a->capture, playback when a->output[0]) and waits
 * until they run, then starts the supervisor thread that replaces a worker
 * whose device stopped delivering, with backoff.
 * Returns 0, or -ENODEV when a stream could not be opened (one line logged).
 */
int puente__audio_start(struct puente__audio *a);

/* Main thread. Stops the worker (SIGTERM, then SIGKILL after timeout_ms) and the supervisor. */
void puente__audio_stop(struct puente__audio *a, int timeout_ms);

/* Prints every device PortAudio finds. 0 or -errno. */
int puente__audio_list_devices(FILE *out);

/* The worker process's main(): argv = exe --audio-worker INPUT OUTPUT CAPTURE(0|1); shm on fd 3. */
int puente__audio_worker_main(int argc, char **argv);

#endif
