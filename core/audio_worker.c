/*
 * The audio worker process (see audio.h): owns every PortAudio call. Its
 * threads: the main thread opens the streams and then waits for SIGTERM or
 * for the relay to go away; the PortAudio callbacks (real time) only copy
 * between the device buffers and the shared rings, and count.
 */
#include "audio.h"

#include <alsa/error.h>
#include <errno.h>
#include <jack/jack.h>
#include <portaudio.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <puente/protocol.h>

#define CHUNK 256 /* samples per step in the playback callback, on its stack */

static int capture_cb(const void *input, void *output, unsigned long frames,
                      const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user)
{
	struct puente__audio_shm *a = user;

	(void)output;
	(void)ti;
	if (flags & paInputOverflow)
		atomic_fetch_add_explicit(&a->cap_overflows, 1, memory_order_relaxed);
	/* Capture is opened mono: the desk's feed (or its first channel). */
	if (input)
		puente_spsc_write(&a->cap_ring, input, (uint32_t)frames);
	atomic_fetch_add_explicit(&a->cap_callbacks, 1, memory_order_release);
	return paContinue;
}

static int playback_cb(const void *input, void *output, unsigned long frames,
                       const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user)
{
	struct puente__audio_shm *a = user;
	float *out = output;
	float mono[CHUNK];
	uint32_t ch = atomic_load_explicit(&a->play_channels, memory_order_relaxed);

	(void)input;
	(void)ti;
	(void)flags;
	while (frames > 0) {
		unsigned long n = frames < CHUNK ? frames : CHUNK;
		uint32_t got = puente_spsc_read(&a->play_ring, mono, (uint32_t)n);

		if (got < n) {
			atomic_fetch_add_explicit(&a->play_starved, 1, memory_order_relaxed);
			memset(mono + got, 0, (n - got) * sizeof(float));
		}
		for (unsigned long i = 0; i < n; i++)
			for (uint32_t c = 0; c < ch; c++)
				*out++ = mono[i];
		frames -= n;
	}
	atomic_fetch_add_explicit(&a->play_callbacks, 1, memory_order_relaxed);
	return paContinue;
}

/* ALSA and libjack print probing noise for every absent card or server. */
static void alsa_quiet(const char *file, int line, const char *fn, int err, const char *fmt, ...)
{
	(void)file;
	(void)line;
	(void)fn;
	(void)err;
	(void)fmt;
}

static void jack_quiet(const char *msg)
{
	(void)msg;
}

static int pa_up(char *why, size_t cap)
{
	snd_lib_error_set_handler(alsa_quiet);
	jack_set_error_function(jack_quiet);
	jack_set_info_function(jack_quiet);
	/* Never let libjack spawn a server of its own on the show machine. */
	setenv("JACK_NO_START_SERVER", "1", 0);
	PaError e = Pa_Initialize();
	if (e != paNoError) {
		snprintf(why, cap, "PortAudio failed to start: %s", Pa_GetErrorText(e));
		return -ENODEV;
	}
	return 0;
}

/* Device by index ("3") or by case-insensitive part of its name; "default" = default. */
static PaDeviceIndex find_device(const char *spec, bool want_input)
{
	int count = Pa_GetDeviceCount();
	char *end;

	if (!spec[0] || !strcmp(spec, "default"))
		return want_input ? Pa_GetDefaultInputDevice() : Pa_GetDefaultOutputDevice();
	long idx = strtol(spec, &end, 10);
	if (!*end)
		return idx >= 0 && idx < count ? (PaDeviceIndex)idx : paNoDevice;
	for (int i = 0; i < count; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

		if (d && (want_input ? d->maxInputChannels : d->maxOutputChannels) > 0 &&
		    strcasestr(d->name, spec))
			return i;
	}
	return paNoDevice;
}

static int open_capture(struct puente__audio_shm *a, const char *spec, PaStream **out, char *why,
                        size_t cap)
{
	PaDeviceIndex dev = find_device(spec, true);
	const PaDeviceInfo *d = dev == paNoDevice ? NULL : Pa_GetDeviceInfo(dev);

	if (!d || d->maxInputChannels <= 0) {
		snprintf(why, cap, "no input device '%s' (see puente --list-devices)", spec);
		return -ENODEV;
	}
	PaStreamParameters p = {
	    .device = dev,
	    .channelCount = 1,
	    .sampleFormat = paFloat32,
	    .suggestedLatency = d->defaultLowInputLatency,
	};
	/* 48 kHz when the device takes it, else its own rate: the relay resamples. */
	double rate = Pa_IsFormatSupported(&p, NULL, PUENTE_SAMPLE_RATE) == paFormatIsSupported
	                  ? PUENTE_SAMPLE_RATE
	                  : d->defaultSampleRate;
	PaError e = Pa_OpenStream(out, &p, NULL, rate, paFramesPerBufferUnspecified, paClipOff,
	                          capture_cb, a);
	if (e == paNoError) {
		const PaStreamInfo *si = Pa_GetStreamInfo(*out);
		uint32_t period = si ? (uint32_t)(si->inputLatency * rate) : 0;

		atomic_store(&a->cap_rate, (uint32_t)rate);
		atomic_store(&a->cap_period_frames, period > 0 ? period : 1024);
		e = Pa_StartStream(*out);
	}
	if (e != paNoError) {
		snprintf(why, cap, "cannot open input '%s': %s", d->name, Pa_GetErrorText(e));
		return -ENODEV;
	}
	snprintf(why, cap, "capturing from '%s' (%s) at %.0f Hz", d->name,
	         Pa_GetHostApiInfo(d->hostApi)->name, rate);
	return 0;
}

static int open_playback(struct puente__audio_shm *a, const char *spec, PaStream **out, char *why,
                         size_t cap)
{
	PaDeviceIndex dev = find_device(spec, false);
	const PaDeviceInfo *d = dev == paNoDevice ? NULL : Pa_GetDeviceInfo(dev);

	if (!d || d->maxOutputChannels <= 0) {
		snprintf(why, cap, "no output device '%s' (see puente --list-devices)", spec);
		return -ENODEV;
	}
	int channels = d->maxOutputChannels >= 2 ? 2 : 1;
	PaStreamParameters p = {
	    .device = dev,
	    .channelCount = channels,
	    .sampleFormat = paFloat32,
	    .suggestedLatency = d->defaultLowOutputLatency,
	};
	if (Pa_IsFormatSupported(NULL, &p, PUENTE_SAMPLE_RATE) != paFormatIsSupported) {
		snprintf(why, cap, "output '%s' cannot play 48 kHz", d->name);
		return -ENODEV;
	}
	atomic_store(&a->play_channels, (uint32_t)channels);
	PaError e = Pa_OpenStream(out, NULL, &p, PUENTE_SAMPLE_RATE, paFramesPerBufferUnspecified,
	                          paClipOff, playback_cb, a);
	if (e == paNoError)
		e = Pa_StartStream(*out);
	if (e != paNoError) {
		snprintf(why, cap, "cannot open output '%s': %s", d->name, Pa_GetErrorText(e));
		return -ENODEV;
	}
	snprintf(why, cap, "playing to '%s' (%s)", d->name, Pa_GetHostApiInfo(d->hostApi)->name);
	return 0;
}

static void report(struct puente__audio_shm *a, enum puente__worker_status st, const char *msg)
{
	snprintf(a->message, sizeof(a->message), "%s", msg);
	atomic_store_explicit(&a->status, (int)st, memory_order_release);
}

int puente__audio_worker_main(int argc, char **argv)
{
	sigset_t set;
	int sig;
	char why[200] = "", msg[256];
	PaStream *in = NULL, *out = NULL;

	if (argc != 5)
		return 2;
	const char *input = argv[2], *output = argv[3];
	bool capture = !strcmp(argv[4], "1");
	struct puente__audio_shm *a =
	    mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_SHARED, 3, 0);
	if (a == MAP_FAILED)
		return 2;
	/* The worker never outlives the relay. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 2;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (pa_up(why, sizeof(why))) {
		report(a, PUENTE_WORKER_FAILED, why);
		return 1;
	}
	msg[0] = 0;
	if (capture) {
		if (open_capture(a, input, &in, why, sizeof(why))) {
			report(a, PUENTE_WORKER_FAILED, why);
			Pa_Terminate();
			return 1;
		}
		snprintf(msg, sizeof(msg), "%s", why);
	}
	if (output[0]) {
		if (open_playback(a, output, &out, why, sizeof(why))) {
			report(a, PUENTE_WORKER_FAILED, why);
			if (in)
				Pa_CloseStream(in);
			Pa_Terminate();
			return 1;
		}
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, "%s%s", n ? "; " : "", why);
	}
	report(a, PUENTE_WORKER_RUNNING, msg);

	sigwait(&set, &sig);
	if (in)
		Pa_CloseStream(in);
	if (out)
		Pa_CloseStream(out);
	Pa_Terminate();
	return 0;
}

int puente__audio_list_devices(FILE *out)
{
	char why[200];

	if (pa_up(why, sizeof(why))) {
		fprintf(stderr, "puente: %s\n", why);
		return -ENODEV;
	}
	int count = Pa_GetDeviceCount();
	PaDeviceIndex din = Pa_GetDefaultInputDevice();
	PaDeviceIndex dout = Pa_GetDefaultOutputDevice();

	if (count <= 0)
		fprintf(out, "no audio devices found\n");
	for (int i = 0; i < count; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

		fprintf(out, "%3d  %-40s  %-6s  in %2d  out %2d  %6.0f Hz%s%s\n", i, d->name,
		        Pa_GetHostApiInfo(d->hostApi)->name, d->maxInputChannels,
		        d->maxOutputChannels, d->defaultSampleRate,
		        i == din ? "  default-input" : "", i == dout ? "  default-output" : "");
	}
	Pa_Terminate();
	return 0;
}
