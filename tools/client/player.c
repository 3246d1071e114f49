/* Decoded PCM -> SPSC ring -> PortAudio output callback, and device helpers. */
#include "client/player.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/toolkit.h"

void *pcl_alloc_aligned(size_t size)
{
	/* Rounded up to the alignment, as aligned_alloc requires. */
	void *p = aligned_alloc(64, (size + 63) & ~(size_t)63);

	if (p)
		memset(p, 0, size);
	return p;
}

int pcl_pa_start(bool *up, int *fatal)
{
	PaError err;

	if (*up)
		return 0;
	err = Pa_Initialize();
	if (err != paNoError) {
		pcl_fail(fatal, 1, "cannot start PortAudio: %s", Pa_GetErrorText(err));
		return -EIO;
	}
	*up = true;
	return 0;
}

static int has_channels(const PaDeviceInfo *d, bool input)
{
	return input ? d->maxInputChannels : d->maxOutputChannels;
}

void pcl_pa_list_devices(bool input)
{
	int n = Pa_GetDeviceCount();

	pcl_warn("%s devices:", input ? "input" : "output");
	for (int i = 0; i < n; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

		if (d && has_channels(d, input) > 0)
			fprintf(stderr, "  %d: %s (%s)\n", i, d->name,
			        Pa_GetHostApiInfo(d->hostApi)->name);
	}
}

PaDeviceIndex pcl_pa_find_device(const char *spec, bool input, bool default_word)
{
	int n = Pa_GetDeviceCount();
	char *end;
	long idx;

	if (!spec || (default_word && !strcmp(spec, "default")))
		return input ? Pa_GetDefaultInputDevice() : Pa_GetDefaultOutputDevice();
	idx = strtol(spec, &end, 10);
	if (*spec && !*end) {
		const PaDeviceInfo *d = idx >= 0 && idx < n ? Pa_GetDeviceInfo((int)idx) : NULL;

		return d && has_channels(d, input) > 0 ? (PaDeviceIndex)idx : paNoDevice;
	}
	for (int i = 0; i < n; i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

		if (d && has_channels(d, input) > 0 && strcasestr(d->name, spec))
			return i;
	}
	return paNoDevice;
}

/* PortAudio callback thread: ring reads, memset and one atomic; nothing else. */
static int play_callback(const void *in, void *out, unsigned long frames,
                         const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags,
                         void *user)
{
	struct pcl_player *p = user;
	int16_t *o = out;
	uint32_t got = 0;

	(void)in;
	(void)time;
	(void)flags;
	/* Start (and restart after running dry) only with a cushion buffered. */
	if (!p->primed && puente_spsc_fill(&p->ring) >= PCL_PLAY_PREBUFFER)
		p->primed = true;
	if (p->primed) {
		got = puente_spsc_read(&p->ring, o, (uint32_t)frames);
		if (got < frames) {
			p->primed = false;
			atomic_fetch_add_explicit(&p->underruns, 1, memory_order_relaxed);
		}
	}
	memset(o + got, 0, (frames - got) * sizeof(*o));
	return paContinue;
}

struct pcl_player *pcl_player_new(void)
{
	struct pcl_player *p = pcl_alloc_aligned(sizeof(*p));

	if (!p)
		return NULL;
	puente_spsc_init(&p->ring, p->buf, PCL_PLAY_RING_SAMPLES, sizeof(p->buf[0]));
	atomic_init(&p->underruns, 0);
	return p;
}

int pcl_player_open(struct pcl_player *p, const char *spec, bool default_word, const char **device,
                    int *fatal)
{
	PaStreamParameters out = {.channelCount = 1, .sampleFormat = paInt16};
	PaError err;

	out.device = pcl_pa_find_device(spec, false, default_word);
	if (out.device == paNoDevice) {
		if (spec)
			pcl_fail(fatal, 1, "no audio output device matching '%s'", spec);
		else
			pcl_fail(fatal, 1, "no default audio output device");
		pcl_pa_list_devices(false);
		return -ENODEV;
	}
	out.suggestedLatency = Pa_GetDeviceInfo(out.device)->defaultLowOutputLatency;
	err = Pa_OpenStream(&p->stream, NULL, &out, PUENTE_SAMPLE_RATE,
	                    paFramesPerBufferUnspecified, paNoFlag, play_callback, p);
	if (err == paNoError) {
		err = Pa_StartStream(p->stream);
		if (err != paNoError) {
			Pa_CloseStream(p->stream);
			p->stream = NULL;
		}
	}
	if (err != paNoError) {
		pcl_fail(fatal, 1, "cannot play on '%s' (mono, 48 kHz, 16 bit): %s",
		         Pa_GetDeviceInfo(out.device)->name, Pa_GetErrorText(err));
		return -EIO;
	}
	*device = Pa_GetDeviceInfo(out.device)->name;
	return 0;
}

void pcl_player_write(struct pcl_player *p, const int16_t *pcm, uint32_t n)
{
	puente_spsc_write(&p->ring, pcm, n);
}

uint32_t pcl_player_underruns(const struct pcl_player *p)
{
	return atomic_load_explicit(&p->underruns, memory_order_relaxed);
}

uint32_t pcl_player_overruns(const struct pcl_player *p)
{
	return atomic_load_explicit(&p->ring.overruns, memory_order_relaxed);
}

void pcl_player_stop(struct pcl_player *p)
{
	if (p->stream) {
		Pa_StopStream(p->stream);
		Pa_CloseStream(p->stream);
		p->stream = NULL;
	}
}
