/*
 * Meters on PCM: sample peak, RMS, true peak (dBFS), clip count, peak hold,
 * and EBU R128 loudness (momentary, short-term, integrated, LRA) through
 * libebur128. Pure: no host, no locks, no clock (times are passed in). A
 * meter is fed by one thread at a time; the caller locks when it shares one.
 */
#ifndef PUENTE_LEVELS_METER_H
#define PUENTE_LEVELS_METER_H

#include <stddef.h>
#include <stdint.h>

#include <ebur128.h>

struct meter {
	unsigned channels;
	ebur128_state *ebu;
	double clip_lin; /* a sample with |x| >= clip_lin is clipped */
	/* The window since the last meter_take. */
	double w_peak, w_sumsq, w_true_peak;
	uint64_t w_frames;
	/* Totals. */
	uint64_t clips, frames;
	int in_clip; /* the last sample fed was clipped: a run counts once */
	/* Peak hold. */
	double hold_db;
	uint64_t hold_until_ms;
	uint32_t hold_ms;
};

/* One reading. dB values are -INFINITY for silence or not enough audio yet. */
struct meter_reading {
	double peak, rms, true_peak, peak_hold;        /* dBFS */
	double momentary, short_term, integrated, lra; /* LUFS, LU */
	uint64_t clips;                                /* runs of clipped samples since the start */
	uint64_t frames;
};

/* 0 or -errno. channels 1 or 2 (stereo: L, R interleaved). */
int meter_init(struct meter *m, unsigned channels, double clip_dbfs, uint32_t hold_ms);
void meter_free(struct meter *m);
/* Interleaved float PCM at 48 kHz, full scale 1.0. 0 or -errno. */
int meter_feed(struct meter *m, const float *pcm, size_t frames);
/*
 * The window since the last take (peak, RMS, true peak) and the running
 * loudness; starts a new window. now_ms drives the peak hold.
 */
void meter_take(struct meter *m, uint64_t now_ms, struct meter_reading *out);
/* Forgets the integrated loudness and the loudness range (a new programme). */
int meter_reset_integrated(struct meter *m);

/* 20 log10(lin), -INFINITY for 0. */
double meter_db(double lin);

#endif
