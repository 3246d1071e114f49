/*
 * noblock_bad_cb: a PortAudio program whose capture callback breaks the
 * real-time rules on purpose (it allocates and frees, and takes a mutex, in
 * every call). Run under noblock_preload it must be reported, which shows
 * that the detector sees calls a program's own callback makes, the way the
 * relay's would be seen.
 *
 * Usage: noblock_bad_cb DEVICE SECONDS. DEVICE: part of an input device's
 * name (as puente --input). Exit status 0 once it ran, 1 on a PortAudio
 * error, 2 usage.
 */
#include <pthread.h>
#include <portaudio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic unsigned long calls;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *volatile keep;

static int bad_cb(const void *in, void *out, unsigned long frames,
                  const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags flags, void *user)
{
	(void)in;
	(void)out;
	(void)ti;
	(void)flags;
	(void)user;
	keep = malloc(frames * sizeof(float));
	free(keep);
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
	atomic_fetch_add(&calls, 1);
	return paContinue;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: noblock_bad_cb DEVICE SECONDS\n");
		return 2;
	}
	double seconds = atof(argv[2]);
	PaError e = Pa_Initialize();
	if (e != paNoError) {
		fprintf(stderr, "noblock_bad_cb: %s\n", Pa_GetErrorText(e));
		return 1;
	}
	PaDeviceIndex dev = paNoDevice;
	for (int i = 0; i < Pa_GetDeviceCount(); i++) {
		const PaDeviceInfo *d = Pa_GetDeviceInfo(i);

		if (d && d->maxInputChannels > 0 && strcasestr(d->name, argv[1])) {
			dev = i;
			break;
		}
	}
	if (dev == paNoDevice) {
		fprintf(stderr, "noblock_bad_cb: no input device '%s'\n", argv[1]);
		Pa_Terminate();
		return 1;
	}
	PaStreamParameters p = {
	    .device = dev,
	    .channelCount = 1,
	    .sampleFormat = paFloat32,
	    .suggestedLatency = Pa_GetDeviceInfo(dev)->defaultLowInputLatency,
	};
	PaStream *s;
	e = Pa_OpenStream(&s, &p, NULL, 48000, paFramesPerBufferUnspecified, paClipOff, bad_cb,
	                  NULL);
	if (e == paNoError)
		e = Pa_StartStream(s);
	if (e != paNoError) {
		fprintf(stderr, "noblock_bad_cb: %s\n", Pa_GetErrorText(e));
		Pa_Terminate();
		return 1;
	}
	struct timespec step = {0, 50000000};
	for (double t = 0; t < seconds; t += 0.05)
		nanosleep(&step, NULL);
	Pa_AbortStream(s);
	Pa_CloseStream(s);
	Pa_Terminate();
	fprintf(stderr, "noblock_bad_cb: %lu callbacks\n", atomic_load(&calls));
	return 0;
}
