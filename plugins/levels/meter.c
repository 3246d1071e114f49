/* The meters of meter.h. */
#include "meter.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <ebur128.h>

#define METER_RATE 48000
#define EBU_MODE                                                                                   \
	(EBUR128_MODE_M | EBUR128_MODE_S | EBUR128_MODE_I | EBUR128_MODE_LRA |                     \
	 EBUR128_MODE_TRUE_PEAK)

double meter_db(double lin)
{
	return lin > 0 ? 20.0 * log10(lin) : -INFINITY;
}

int meter_init(struct meter *m, unsigned channels, double clip_dbfs, uint32_t hold_ms)
{
	memset(m, 0, sizeof(*m));
	if (channels < 1 || channels > 2)
		return -EINVAL;
	m->channels = channels;
	m->clip_lin = pow(10.0, clip_dbfs / 20.0);
	m->hold_db = -INFINITY;
	m->hold_ms = hold_ms;
	m->ebu = ebur128_init(channels, METER_RATE, EBU_MODE);
	if (!m->ebu)
		return -ENOMEM;
	if (channels == 1)
		ebur128_set_channel(m->ebu, 0, EBUR128_CENTER);
	return 0;
}

void meter_free(struct meter *m)
{
	if (m->ebu)
		ebur128_destroy(&m->ebu);
	m->ebu = NULL;
}

int meter_feed(struct meter *m, const float *pcm, size_t frames)
{
	size_t n = frames * m->channels;

	if (!m->ebu)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		double a = fabs((double)pcm[i]);

		if (a > m->w_peak)
			m->w_peak = a;
		m->w_sumsq += (double)pcm[i] * (double)pcm[i];
		if (a >= m->clip_lin) {
			if (!m->in_clip)
				m->clips++;
			m->in_clip = 1;
		} else {
			m->in_clip = 0;
		}
	}
	m->w_frames += frames;
	m->frames += frames;
	if (ebur128_add_frames_float(m->ebu, pcm, frames) != EBUR128_SUCCESS)
		return -ENOMEM;
	for (unsigned c = 0; c < m->channels; c++) {
		double tp = 0;

		if (ebur128_prev_true_peak(m->ebu, c, &tp) == EBUR128_SUCCESS &&
		    tp > m->w_true_peak)
			m->w_true_peak = tp;
	}
	return 0;
}

static double loud(int rc, double v)
{
	return rc == EBUR128_SUCCESS && isfinite(v) && v > -200.0 ? v : -INFINITY;
}

void meter_take(struct meter *m, uint64_t now_ms, struct meter_reading *out)
{
	double v = 0;
	int rc;

	out->peak = meter_db(m->w_peak);
	/* RMS over all samples of all channels of the window. */
	out->rms = m->w_frames ? meter_db(sqrt(m->w_sumsq / (double)(m->w_frames * m->channels)))
	                       : -INFINITY;
	out->true_peak = meter_db(m->w_true_peak > m->w_peak ? m->w_true_peak : m->w_peak);
	if (out->peak >= m->hold_db || now_ms >= m->hold_until_ms) {
		m->hold_db = out->peak;
		m->hold_until_ms = now_ms + m->hold_ms;
	}
	out->peak_hold = m->hold_db;
	out->clips = m->clips;
	out->frames = m->frames;
	out->momentary = out->short_term = out->integrated = -INFINITY;
	out->lra = 0;
	if (m->ebu) {
		rc = ebur128_loudness_momentary(m->ebu, &v);
		out->momentary = m->frames >= METER_RATE * 4 / 10 ? loud(rc, v) : -INFINITY;
		rc = ebur128_loudness_shortterm(m->ebu, &v);
		out->short_term = m->frames >= METER_RATE * 3 ? loud(rc, v) : -INFINITY;
		rc = ebur128_loudness_global(m->ebu, &v);
		out->integrated = loud(rc, v);
		rc = ebur128_loudness_range(m->ebu, &v);
		out->lra = rc == EBUR128_SUCCESS && isfinite(v) ? v : 0;
	}
	m->w_peak = m->w_sumsq = m->w_true_peak = 0;
	m->w_frames = 0;
}

int meter_reset_integrated(struct meter *m)
{
	ebur128_state *fresh = ebur128_init(m->channels, METER_RATE, EBU_MODE);

	if (!fresh)
		return -ENOMEM;
	if (m->channels == 1)
		ebur128_set_channel(fresh, 0, EBUR128_CENTER);
	ebur128_destroy(&m->ebu);
	m->ebu = fresh;
	m->frames = 0;
	return 0;
}
