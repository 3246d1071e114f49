/*
 * Media thread (see media.h). Owns the floor's Opus encoder and is the
 * floor ring's single writer. Never touches sockets.
 */
#include "media.h"

#include <errno.h>
#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "source.h"

#define POLL_NS     5000000ull /* device ring polled every 5 ms */
#define MAX_SAMPLES 960        /* 20 ms at 48 kHz */
#define LOST_MIN_NS 100000000ull
#define RESYNC_NS   200000000ull /* later than this, the paced clock restarts */

static void publish(struct puente__media *m, const float *pcm, uint8_t flags)
{
	struct puente__room *room = m->room;
	unsigned char pkt[PUENTE_MAX_OPUS];
	int n = opus_encode_float(m->enc, pcm, (int)room->frame_samples, pkt, sizeof(pkt));

	if (n <= 0) {
		atomic_fetch_add(&room->stats.encode_errors, 1);
	} else {
		puente__chan_publish(&room->rings[room->floor], flags, m->media_time, pkt,
		                     (size_t)n);
		atomic_fetch_add(&room->stats.packets_published, 1);
		if (flags & PUENTE_FLAG_SILENCE)
			atomic_fetch_add(&room->stats.silence_packets, 1);
	}
	m->media_time += room->frame_samples;
	/* The last sample of this packet exists now: that pins the room clock. */
	puente__clock_set(&room->clock, m->media_time, puente__now_unix_us());
	puente__room_wake(room);
}

static void sleep_until(uint64_t mono_ns)
{
	struct timespec ts = {(time_t)(mono_ns / 1000000000u), (long)(mono_ns % 1000000000u)};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void fill_generated(struct puente__media *m, float *pcm, size_t n)
{
	if (m->kind == PUENTE_SOURCE_TONE) {
		puente__source_tone(pcm, n, &m->tone_phase);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		pcm[i] = m->file_pcm[m->file_pos++];
		if (m->file_pos == m->file_len)
			m->file_pos = 0;
	}
}

/* File and tone: paced by the monotonic clock, one packet per frame time. */
static void run_generated(struct puente__media *m)
{
	uint64_t frame_ns = (uint64_t)m->room->frame_samples * 1000000000u / PUENTE_SAMPLE_RATE;
	uint64_t next = puente__now_mono_ns();
	float pcm[MAX_SAMPLES];

	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		sleep_until(next);
		fill_generated(m, pcm, m->room->frame_samples);
		publish(m, pcm, 0);
		next += frame_ns;
		uint64_t now = puente__now_mono_ns();
		if (now > next + RESYNC_NS)
			next = now;
	}
}

struct device_state {
	SpeexResamplerState *rs;
	uint32_t gen;
	uint32_t rate;
	uint64_t last_callbacks;
	uint64_t last_progress;
	uint64_t next_silence;
	bool lost;
	float pcm[MAX_SAMPLES];
	size_t have;
};

/* A new capture stream started: follow its rate and drop what the old one left. */
static void follow_stream(struct puente__media *m, struct device_state *d)
{
	struct puente__audio *a = m->audio;
	float junk[1024];
	int err;

	d->gen = atomic_load(&a->cap_generation);
	d->rate = atomic_load(&a->shm->cap_rate);
	if (d->rs)
		speex_resampler_destroy(d->rs);
	d->rs = NULL;
	if (d->rate != PUENTE_SAMPLE_RATE) {
		d->rs = speex_resampler_init(1, d->rate, PUENTE_SAMPLE_RATE, 5, &err);
		if (!d->rs)
			log_error("media: no resampler from %u Hz: %s", d->rate,
			          speex_resampler_strerror(err));
	}
	while (puente_spsc_read(&a->shm->cap_ring, junk, 1024) == 1024)
		;
	d->have = 0;
}

static void take_samples(struct puente__media *m, struct device_state *d, const float *in, size_t n)
{
	uint32_t frame = m->room->frame_samples;

	while (n > 0) {
		spx_uint32_t in_len = (spx_uint32_t)n;
		spx_uint32_t out_len = (spx_uint32_t)(frame - d->have);

		if (d->rs) {
			speex_resampler_process_float(d->rs, 0, in, &in_len, d->pcm + d->have,
			                              &out_len);
		} else {
			in_len = out_len = in_len < out_len ? in_len : out_len;
			memcpy(d->pcm + d->have, in, in_len * sizeof(float));
		}
		d->have += out_len;
		in += in_len;
		n -= in_len;
		if (d->have == frame) {
			publish(m, d->pcm, 0);
			d->have = 0;
		}
		if (in_len == 0 && out_len == 0)
			break;
	}
}

/*
 * Device: the callback's ring is drained every 5 ms. No callback for more
 * than two periods (at least 100 ms, so a busy scheduler is not a lost
 * device) marks the source lost; flagged silence then keeps the room clock
 * running until the device thread has reopened it.
 */
static void run_device(struct puente__media *m)
{
	struct puente__audio *a = m->audio;
	struct device_state d = {0};
	float buf[1024];

	follow_stream(m, &d);
	d.last_progress = puente__now_mono_ns();
	while (!atomic_load_explicit(&m->stop, memory_order_relaxed)) {
		uint64_t now = puente__now_mono_ns();
		sleep_until(now + POLL_NS);
		now = puente__now_mono_ns();

		if (atomic_load(&a->cap_generation) != d.gen)
			follow_stream(m, &d);
		uint64_t cb = atomic_load_explicit(&a->shm->cap_callbacks, memory_order_acquire);
		if (cb != d.last_callbacks) {
			d.last_callbacks = cb;
			d.last_progress = now;
			if (d.lost) {
				d.lost = false;
				log_info("media: input is back");
				puente__room_set_source(m->room, PUENTE_SOURCE_OK);
			}
		}
		uint32_t rate = d.rate ? d.rate : PUENTE_SAMPLE_RATE;
		uint64_t lost_after =
		    2ull * atomic_load(&a->shm->cap_period_frames) * 1000000000u / rate;
		if (lost_after < LOST_MIN_NS)
			lost_after = LOST_MIN_NS;
		if (!d.lost && now - d.last_progress > lost_after) {
			d.lost = true;
			d.next_silence = now;
			atomic_fetch_add(&m->room->stats.source_losses, 1);
			log_warn("media: input lost (no audio for %llu ms)",
			         (unsigned long long)((now - d.last_progress) / 1000000u));
			puente__room_set_source(m->room, PUENTE_SOURCE_LOST);
			atomic_store(&a->reopen_request, 1);
		}
		if (d.lost) {
			float zero[MAX_SAMPLES] = {0};
			uint64_t frame_ns =
			    (uint64_t)m->room->frame_samples * 1000000000u / PUENTE_SAMPLE_RATE;

			while (now >= d.next_silence) {
				publish(m, zero, PUENTE_FLAG_SILENCE);
				d.next_silence += frame_ns;
			}
			continue;
		}
		uint32_t n;
		while ((n = puente_spsc_read(&a->shm->cap_ring, buf, 1024)) > 0) {
			take_samples(m, &d, buf, n);
			if (n < 1024)
				break;
		}
	}
	if (d.rs)
		speex_resampler_destroy(d.rs);
}

static void *media_thread(void *arg)
{
	struct puente__media *m = arg;

	if (m->kind == PUENTE_SOURCE_DEVICE)
		run_device(m);
	else
		run_generated(m);
	return NULL;
}

int puente__media_start(struct puente__media *m, struct puente__room *room,
                        const struct puente__config *cfg, enum puente__source_kind kind,
                        struct puente__audio *audio)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->room = room;
	m->kind = kind;
	m->audio = audio;
	if (kind == PUENTE_SOURCE_FILE) {
		rc = puente__source_file_load(cfg->input_file, &m->file_pcm, &m->file_len);
		if (rc)
			return rc;
	}
	m->enc = puente__encoder_create(cfg->bitrate);
	if (!m->enc) {
		free(m->file_pcm);
		return -ENOMEM;
	}
	puente__clock_set(&room->clock, 0, puente__now_unix_us());
	if (pthread_create(&m->thread, NULL, media_thread, m)) {
		opus_encoder_destroy(m->enc);
		free(m->file_pcm);
		return -ENOMEM;
	}
	return 0;
}

void puente__media_stop(struct puente__media *m)
{
	atomic_store(&m->stop, 1);
	pthread_join(m->thread, NULL);
	opus_encoder_destroy(m->enc);
	free(m->file_pcm);
	m->enc = NULL;
	m->file_pcm = NULL;
}
