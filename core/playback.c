/*
 * Playback thread (see playback.h): a reader of one channel ring, like any
 * listener, so a stalled device never slows the channel's writer.
 */
#include "playback.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "codec.h"

/* More queued than this (100 ms) and the oldest audio is dropped: delay stays bounded. */
#define MAX_QUEUED (PUENTE_SAMPLE_RATE / 10)

static void *playback_thread(void *arg)
{
	struct puente__playback *p = arg;
	struct puente__chan_ring *ring = &p->room->rings[p->channel];
	struct puente__cursor cur = {0};
	unsigned char frame[PUENTE_MAX_FRAME];
	float pcm[5760];
	const struct timespec poll = {0, 5000000};

	puente__cursor_start(ring, &cur, 0);
	while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		size_t len = puente__chan_read(ring, &cur, frame, sizeof(frame));

		if (len == 0) {
			nanosleep(&poll, NULL);
			continue;
		}
		int n = opus_decode_float(p->dec, frame + PUENTE_HEADER_LEN,
		                          (opus_int32)(len - PUENTE_HEADER_LEN), pcm, 5760, 0);
		if (n <= 0)
			continue;
		if (puente_spsc_fill(&p->audio->shm->play_ring) > MAX_QUEUED)
			continue;
		puente_spsc_write(&p->audio->shm->play_ring, pcm, (uint32_t)n);
		atomic_fetch_add(&p->room->stats.play_packets, 1);
	}
	return NULL;
}

int puente__playback_start(struct puente__playback *p, struct puente__room *room,
                           struct puente__audio *audio, int channel)
{
	memset(p, 0, sizeof(*p));
	p->room = room;
	p->audio = audio;
	p->channel = channel;
	p->dec = puente__decoder_create();
	if (!p->dec)
		return -ENOMEM;
	if (pthread_create(&p->thread, NULL, playback_thread, p)) {
		opus_decoder_destroy(p->dec);
		return -ENOMEM;
	}
	return 0;
}

void puente__playback_stop(struct puente__playback *p)
{
	if (!p->dec)
		return;
	atomic_store(&p->stop, 1);
	pthread_join(p->thread, NULL);
	opus_decoder_destroy(p->dec);
	p->dec = NULL;
}
