/*
 * Audio devices, relay side (see audio.h): the shared mapping, the worker
 * process, and the supervisor thread that replaces a worker whose device
 * stopped delivering. No PortAudio call is made in the relay process except
 * for --list-devices.
 */
#include "audio.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

extern char **environ;

#define OPEN_TIMEOUT_MS 5000

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Ends the worker: SIGTERM lets it close its streams; SIGKILL if it hangs in a driver. */
static void stop_worker(struct puente__audio *a, int timeout_ms, bool gentle)
{
	int status;

	if (a->worker <= 0)
		return;
	kill(a->worker, gentle ? SIGTERM : SIGKILL);
	for (int t = 0; t <= timeout_ms; t += 10) {
		if (waitpid(a->worker, &status, WNOHANG) == a->worker) {
			a->worker = 0;
			return;
		}
		sleep_ms(10);
	}
	log_warn("audio: worker %d did not stop within %d ms; killing it", (int)a->worker,
	         timeout_ms);
	kill(a->worker, SIGKILL);
	waitpid(a->worker, &status, 0);
	a->worker = 0;
}

/* Starts a worker and waits until its streams run. 0 or -ENODEV with why filled. */
static int start_worker(struct puente__audio *a, char *why, size_t cap)
{
	struct puente__audio_shm *shm = a->shm;
	posix_spawn_file_actions_t fa;
	char *argv[] = {a->exe,    "--audio-worker",       a->input,
	                a->output, a->capture ? "1" : "0", NULL};
	int rc;

	atomic_store(&shm->status, PUENTE_WORKER_STARTING);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, a->shm_fd, 3);
	rc = posix_spawn(&a->worker, a->exe, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		snprintf(why, cap, "cannot start the audio worker: %s", strerror(rc));
		a->worker = 0;
		return -ENODEV;
	}
	for (int t = 0; t < OPEN_TIMEOUT_MS; t += 10) {
		int st = atomic_load_explicit(&shm->status, memory_order_acquire);
		int status;

		if (st == PUENTE_WORKER_RUNNING) {
			snprintf(why, cap, "%s", shm->message);
			return 0;
		}
		if (st == PUENTE_WORKER_FAILED) {
			snprintf(why, cap, "%s", shm->message);
			stop_worker(a, 1000, false);
			return -ENODEV;
		}
		if (waitpid(a->worker, &status, WNOHANG) == a->worker) {
			snprintf(why, cap, "the audio worker exited while opening the device");
			a->worker = 0;
			return -ENODEV;
		}
		sleep_ms(10);
	}
	snprintf(why, cap, "the audio device did not open within %d ms", OPEN_TIMEOUT_MS);
	stop_worker(a, 0, false);
	return -ENODEV;
}

/*
 * Supervisor thread: when the media thread's watchdog asks, kill the worker
 * (its driver may be hung on a dead server) and start fresh ones with
 * backoff 0.5 s doubling to 8 s. A fresh process rescans the devices, so a
 * JACK server that came back is found.
 */
static void *supervisor(void *arg)
{
	struct puente__audio *a = arg;
	char why[256];
	int backoff = 500;

	while (!atomic_load(&a->stop)) {
		if (!atomic_load(&a->reopen_request)) {
			sleep_ms(50);
			continue;
		}
		log_warn("audio: input stopped delivering; restarting the audio worker");
		stop_worker(a, 0, false);
		for (;;) {
			for (int t = 0; t < backoff && !atomic_load(&a->stop); t += 50)
				sleep_ms(50);
			if (atomic_load(&a->stop))
				return NULL;
			if (start_worker(a, why, sizeof(why)) == 0)
				break;
			backoff = backoff < 8000 ? backoff * 2 : 8000;
			log_info("audio: %s; next attempt in %d ms", why, backoff);
		}
		log_info("audio: %s", why);
		atomic_fetch_add(&a->cap_generation, 1);
		backoff = 500;
		atomic_store(&a->reopen_request, 0);
	}
	return NULL;
}

int puente__audio_start(struct puente__audio *a)
{
	char why[256];
	ssize_t n = readlink("/proc/self/exe", a->exe, sizeof(a->exe) - 1);

	if (n <= 0)
		return -ENODEV;
	a->exe[n] = 0;
	a->shm_fd = memfd_create("puente-audio", MFD_CLOEXEC);
	if (a->shm_fd < 0 || ftruncate(a->shm_fd, sizeof(*a->shm)))
		return -ENOMEM;
	a->shm = mmap(NULL, sizeof(*a->shm), PROT_READ | PROT_WRITE, MAP_SHARED, a->shm_fd, 0);
	if (a->shm == MAP_FAILED) {
		a->shm = NULL;
		close(a->shm_fd);
		return -ENOMEM;
	}
	puente_spsc_init(&a->shm->cap_ring, a->shm->cap_buf, PUENTE_CAPTURE_RING, sizeof(float));
	puente_spsc_init(&a->shm->play_ring, a->shm->play_buf, PUENTE_PLAY_RING, sizeof(float));
	if (start_worker(a, why, sizeof(why))) {
		/* The default device missing is reported by the caller's fallback. */
		if (!a->capture || strcmp(a->input, "default"))
			log_error("audio: %s", why);
		goto fail;
	}
	log_info("audio: %s", why);
	atomic_fetch_add(&a->cap_generation, 1);
	if (pthread_create(&a->thread, NULL, supervisor, a)) {
		stop_worker(a, 1000, true);
		goto fail;
	}
	a->thread_started = true;
	return 0;
fail:
	munmap(a->shm, sizeof(*a->shm));
	a->shm = NULL;
	close(a->shm_fd);
	return -ENODEV;
}

void puente__audio_stop(struct puente__audio *a, int timeout_ms)
{
	if (!a->shm)
		return;
	atomic_store(&a->stop, 1);
	if (a->thread_started)
		pthread_join(a->thread, NULL);
	a->thread_started = false;
	stop_worker(a, timeout_ms, true);
	munmap(a->shm, sizeof(*a->shm));
	a->shm = NULL;
	close(a->shm_fd);
}
