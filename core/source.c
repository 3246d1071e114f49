/* Room input from a file (libsndfile + speexdsp) or a generated tone. */
#include "source.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>
#include <stdlib.h>
#include <string.h>

#include <puente/protocol.h>

#include "log.h"

static int resample(float **pcm, size_t *len, int rate)
{
	int err;
	SpeexResamplerState *rs =
	    speex_resampler_init(1, (spx_uint32_t)rate, PUENTE_SAMPLE_RATE, 8, &err);
	if (!rs)
		return -ENOMEM;
	size_t cap = (size_t)((double)*len * PUENTE_SAMPLE_RATE / rate) + 1024;
	float *out = malloc(cap * sizeof(float));
	if (!out) {
		speex_resampler_destroy(rs);
		return -ENOMEM;
	}
	spx_uint32_t in_len = (spx_uint32_t)*len;
	spx_uint32_t out_len = (spx_uint32_t)cap;
	speex_resampler_process_float(rs, 0, *pcm, &in_len, out, &out_len);
	speex_resampler_destroy(rs);
	free(*pcm);
	*pcm = out;
	*len = out_len;
	return 0;
}

int puente__source_file_load(const char *path, float **pcm, size_t *len)
{
	SF_INFO info = {0};
	SNDFILE *f = sf_open(path, SFM_READ, &info);

	if (!f) {
		log_error("input file %s: %s", path, sf_strerror(NULL));
		return -ENOENT;
	}
	if (info.frames <= 0 || info.channels <= 0 || info.samplerate < 8000 ||
	    info.frames > (sf_count_t)info.samplerate * PUENTE_FILE_MAX_SECONDS) {
		log_error("input file %s: empty or longer than %d s", path,
		          PUENTE_FILE_MAX_SECONDS);
		sf_close(f);
		return -EINVAL;
	}
	size_t frames = (size_t)info.frames;
	float *all = malloc(frames * (size_t)info.channels * sizeof(float));
	float *mono = malloc(frames * sizeof(float));
	if (!all || !mono) {
		free(all);
		free(mono);
		sf_close(f);
		return -ENOMEM;
	}
	frames = (size_t)sf_readf_float(f, all, (sf_count_t)frames);
	sf_close(f);
	for (size_t i = 0; i < frames; i++) {
		float sum = 0;

		for (int c = 0; c < info.channels; c++)
			sum += all[i * (size_t)info.channels + (size_t)c];
		mono[i] = sum / (float)info.channels;
	}
	free(all);
	*pcm = mono;
	*len = frames;
	if (info.samplerate != PUENTE_SAMPLE_RATE) {
		int rc = resample(pcm, len, info.samplerate);
		if (rc) {
			free(*pcm);
			return rc;
		}
	}
	if (*len == 0) {
		free(*pcm);
		log_error("input file %s: no audio", path);
		return -EINVAL;
	}
	log_info("input file %s: %.1f s, %d Hz, %d channel(s), looped", path,
	         (double)*len / PUENTE_SAMPLE_RATE, info.samplerate, info.channels);
	return 0;
}

void puente__source_tone(float *out, size_t n, double *phase)
{
	const double step = 2.0 * M_PI * 1000.0 / PUENTE_SAMPLE_RATE;

	for (size_t i = 0; i < n; i++) {
		out[i] = (float)(0.1 * sin(*phase));
		*phase += step;
		if (*phase >= 2.0 * M_PI)
			*phase -= 2.0 * M_PI;
	}
}
