/*
 * Audio devices (see audio.h). Threads: the PortAudio callbacks (real time:
 * copy and count only), and the audio device thread that owns every Pa_*
 * call after start-up and reopens a lost capture device with backoff.
 */
#include "audio.h"

#include <alsa/error.h>
#include <jack/jack.h>
#include <ctype.h>
#include <errno.h>
#include <portaudio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <puente/protocol.h>

#include "log.h"

#define CHUNK 256 /* samples mixed per step in a callback, on its stack */

static int capture_cb(const void *input, void *output, unsigned long frames,
                      const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user)
{
	struct puente__audio *a = user;

	(void)output;
	(void)ti;
	if (flags & paInputOverflow)
		atomic_fetch_add_explicit(&a->cap_overflows, 1, memory_order_relaxed);
	/* Capture is opened mono: the desk's feed (or its first channel). */
	if (input)
		puente__spsc_write(&a->cap_ring, input, (uint32_t)frames);
	atomic_fetch_add_explicit(&a->cap_callbacks, 1, memory_order_release);
	return paContinue;
}

static int playback_cb(const void *input, void *output, unsigned long frames,
                       const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user)
{
	struct puente__audio *a = user;
	float *out = output;
	float mono[CHUNK];
	int ch = a->play_channels;

	(void)input;
	(void)ti;
	(void)flags;
	while (frames > 0) {
		unsigned long n = frames < CHUNK ? frames : CHUNK;
		uint32_t got = puente__spsc_read(&a->play_ring, mono, (uint32_t)n);

		if (got < n) {
			atomic_fetch_add_explicit(&a->play_starved, 1, memory_order_relaxed);
			memset(mono + got, 0, (n - got) * sizeof(float));
		}
		for (unsigned long i = 0; i < n; i++)
			for (int c = 0; c < ch; c++)
				*out++ = mono[i];
		frames -= n;
	}
	atomic_fetch_add_explicit(&a->play_callbacks, 1, memory_order_relaxed);
	return paContinue;
}

/* ALSA prints probing noise for every absent card; the relay reports devices itself. */
static void alsa_quiet(const char *file, int line, const char *fn, int err, const char *fmt, ...)
{
	(void)file;
	(void)line;
	(void)fn;
	(void)err;
	(void)fmt;
}

/* libjack reports a missing server on stderr at every probe; so does the relay, once. */
static void jack_quiet(const char *msg)
{
	(void)msg;
}

static int pa_up(struct puente__audio *a)
{
	if (a->pa_ready)
		return 0;
	snd_lib_error_set_handler(alsa_quiet);
	jack_set_error_function(jack_quiet);
	jack_set_info_function(jack_quiet);
	/* Never let libjack spawn a server of its own on the show machine. */
	setenv("JACK_NO_START_SERVER", "1", 0);
	PaError e = Pa_Initialize();
	if (e != paNoError) {
		log_error("audio: PortAudio failed to start: %s", Pa_GetErrorText(e));
		return -ENODEV;
	}
	a->pa_ready = true;
	return 0;
}

static void pa_down(struct puente__audio *a)
{
	if (a->pa_ready) {
		Pa_Terminate();
		a->pa_ready = false;
	}
}

/* Device by index ("3") or by case-insensitive part of its name; "" = default. */
static PaDeviceIndex find_device(const char *spec, bool want_input)
{
	int count = Pa_GetDeviceCount();

	if (!spec[0] || !strcmp(spec, "default"))
		return want_input ? Pa_GetDefaultInputDevice() : Pa_GetDefaultOutputDevice();
	char *end;
	long idx = strtol(spec, &end, 10);
	if (*spec && !*end) {
		if (idx < 0 || idx >= count)
			return paNoDevice;
		return (PaDeviceIndex)idx;
	}
	for (int i = 0; i < count; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

		if (!d || (want_input ? d->maxInputChannels : d->maxOutputChannels) <= 0)
			continue;
		if (strcasestr(d->name, spec))
			return i;
	}
	return paNoDevice;
}

/* 48 kHz when the device takes it, else its own rate (the media thread resamples). */
static double pick_rate(const PaStreamParameters *in, const PaStreamParameters *out,
                        const PaDeviceInfo *d)
{
	if (Pa_IsFormatSupported(in, out, PUENTE_SAMPLE_RATE) == paFormatIsSupported)
		return PUENTE_SAMPLE_RATE;
	return d->defaultSampleRate;
}

static int open_capture(struct puente__audio *a)
{
	PaDeviceIndex dev = find_device(a->input, true);
	const PaDeviceInfo *d = dev == paNoDevice ? NULL : Pa_GetDeviceInfo(dev);

	if (!d || d->maxInputChannels <= 0) {
		/* The default device missing is reported by the caller's fallback. */
		if (a->input[0] && strcmp(a->input, "default"))
			log_error("audio: no input device '%s' (see puente --list-devices)",
			          a->input);
		return -ENODEV;
	}
	PaStreamParameters p = {
	    .device = dev,
	    .channelCount = 1,
	    .sampleFormat = paFloat32,
	    .suggestedLatency = d->defaultLowInputLatency,
	};
	double rate = pick_rate(&p, NULL, d);
	PaStream *s;
	PaError e = Pa_OpenStream(&s, &p, NULL, rate, paFramesPerBufferUnspecified, paClipOff,
	                          capture_cb, a);
	if (e == paNoError) {
		atomic_store(&a->cap_rate, (uint32_t)rate);
		atomic_fetch_add(&a->cap_generation, 1);
		e = Pa_StartStream(s);
		if (e != paNoError)
			Pa_CloseStream(s);
	}
	if (e != paNoError) {
		log_error("audio: cannot open input '%s': %s", d->name, Pa_GetErrorText(e));
		return -ENODEV;
	}
	const PaStreamInfo *si = Pa_GetStreamInfo(s);
	uint32_t period = si ? (uint32_t)(si->inputLatency * rate) : 0;
	atomic_store(&a->cap_period_frames, period > 0 ? period : 1024);
	a->in_stream = s;
	log_info("audio: capturing from '%s' (%s) at %.0f Hz", d->name,
	         Pa_GetHostApiInfo(d->hostApi)->name, rate);
	return 0;
}

static int open_playback(struct puente__audio *a)
{
	PaDeviceIndex dev = find_device(a->output, false);
	const PaDeviceInfo *d = dev == paNoDevice ? NULL : Pa_GetDeviceInfo(dev);

	if (!d || d->maxOutputChannels <= 0) {
		log_error("audio: no output device '%s' (see puente --list-devices)", a->output);
		return -ENODEV;
	}
	a->play_channels = d->maxOutputChannels >= 2 ? 2 : 1;
	PaStreamParameters p = {
	    .device = dev,
	    .channelCount = a->play_channels,
	    .sampleFormat = paFloat32,
	    .suggestedLatency = d->defaultLowOutputLatency,
	};
	if (Pa_IsFormatSupported(NULL, &p, PUENTE_SAMPLE_RATE) != paFormatIsSupported) {
		log_error("audio: output '%s' cannot play 48 kHz", d->name);
		return -ENODEV;
	}
	PaStream *s;
	PaError e = Pa_OpenStream(&s, NULL, &p, PUENTE_SAMPLE_RATE, paFramesPerBufferUnspecified,
	                          paClipOff, playback_cb, a);
	if (e == paNoError) {
		e = Pa_StartStream(s);
		if (e != paNoError)
			Pa_CloseStream(s);
	}
	if (e != paNoError) {
		log_error("audio: cannot open output '%s': %s", d->name, Pa_GetErrorText(e));
		return -ENODEV;
	}
	a->out_stream = s;
	log_info("audio: playing to '%s' (%s)", d->name, Pa_GetHostApiInfo(d->hostApi)->name);
	return 0;
}

static void close_stream(void **stream)
{
	if (*stream) {
		/* Abort, not stop: a dead JACK server never drains a buffer. */
		Pa_AbortStream(*stream);
		Pa_CloseStream(*stream);
		*stream = NULL;
	}
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Sleeps up to ms in small steps; returns true if asked to stop meanwhile. */
static bool wait_or_stop(struct puente__audio *a, int ms)
{
	for (int t = 0; t < ms; t += 50) {
		if (atomic_load(&a->stop))
			return true;
		sleep_ms(50);
	}
	return atomic_load(&a->stop);
}

/*
 * Audio device thread: reopen the capture device when the media thread's
 * watchdog asks, with backoff 0.5 s doubling to 8 s. PortAudio is restarted
 * so it rescans devices (a JACK server that came back is a new host).
 */
static void *device_thread(void *arg)
{
	struct puente__audio *a = arg;
	int backoff = 500;

	while (!atomic_load(&a->stop)) {
		if (!atomic_load(&a->reopen_request)) {
			sleep_ms(50);
			continue;
		}
		log_warn("audio: input stopped delivering; reopening");
		close_stream(&a->in_stream);
		close_stream(&a->out_stream);
		pa_down(a);
		for (;;) {
			if (wait_or_stop(a, backoff))
				goto out;
			if (pa_up(a) == 0 && open_capture(a) == 0)
				break;
			pa_down(a);
			backoff = backoff < 8000 ? backoff * 2 : 8000;
			log_info("audio: next attempt in %d ms", backoff);
		}
		if (a->output[0])
			open_playback(a);
		backoff = 500;
		atomic_store(&a->reopen_request, 0);
	}
out:
	close_stream(&a->in_stream);
	close_stream(&a->out_stream);
	pa_down(a);
	atomic_store(&a->thread_done, 1);
	return NULL;
}

int puente__audio_start(struct puente__audio *a)
{
	puente__spsc_init(&a->cap_ring, a->cap_buf, PUENTE_CAPTURE_RING, sizeof(float));
	puente__spsc_init(&a->play_ring, a->play_buf, PUENTE_PLAY_RING, sizeof(float));
	if (pa_up(a))
		return -ENODEV;
	if ((a->capture && open_capture(a)) || (a->output[0] && open_playback(a))) {
		close_stream(&a->in_stream);
		close_stream(&a->out_stream);
		pa_down(a);
		return -ENODEV;
	}
	if (pthread_create(&a->thread, NULL, device_thread, a)) {
		close_stream(&a->in_stream);
		close_stream(&a->out_stream);
		pa_down(a);
		return -ENOMEM;
	}
	a->thread_started = true;
	return 0;
}

void puente__audio_stop(struct puente__audio *a, int timeout_ms)
{
	if (!a->thread_started)
		return;
	atomic_store(&a->stop, 1);
	for (int t = 0; t < timeout_ms && !atomic_load(&a->thread_done); t += 10)
		sleep_ms(10);
	if (atomic_load(&a->thread_done)) {
		pthread_join(a->thread, NULL);
	} else {
		/* A hung driver keeps its thread; the process exits without it. */
		log_warn("audio: device did not stop within %d ms; leaving it", timeout_ms);
		pthread_detach(a->thread);
	}
	a->thread_started = false;
}

int puente__audio_list_devices(FILE *out)
{
	struct puente__audio probe = {0};

	if (pa_up(&probe))
		return -ENODEV;
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
	pa_down(&probe);
	return 0;
}
