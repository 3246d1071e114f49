/* Opus with the room's settings: a tone survives encode + decode; FEC decodes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include <puente/protocol.h>

#include "codec.h"
#include "source.h"

#define SECONDS 2

/* Decoded RMS error against the input, aligned by the codec's lookahead. */
static void round_trip(int frame_ms, double *snr_db, double *kbps)
{
	OpusEncoder *enc = puente__encoder_create(32000);
	OpusDecoder *dec = puente__decoder_create();
	int frame = 48 * frame_ms;
	int total = PUENTE_SAMPLE_RATE * SECONDS;
	static float in[PUENTE_SAMPLE_RATE * SECONDS], out[PUENTE_SAMPLE_RATE * SECONDS];
	unsigned char pkt[PUENTE_MAX_OPUS];
	double phase = 0, bytes = 0, sig = 0, err = 0;
	opus_int32 lookahead;

	assert_non_null(enc);
	assert_non_null(dec);
	opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
	puente__source_tone(in, (size_t)total, &phase);
	for (int pos = 0; pos < total; pos += frame) {
		int n = opus_encode_float(enc, in + pos, frame, pkt, sizeof(pkt));

		assert_true(n > 0);
		assert_int_equal(opus_packet_get_nb_samples(pkt, n, PUENTE_SAMPLE_RATE), frame);
		bytes += n;
		assert_int_equal(opus_decode_float(dec, pkt, n, out + pos, frame, 0), frame);
	}
	/* Skip the first 100 ms while the codec settles. */
	for (int i = 4800; i < total - lookahead; i++) {
		double d = out[i + lookahead] - in[i];

		sig += (double)in[i] * in[i];
		err += d * d;
	}
	*snr_db = 10 * log10(sig / err);
	*kbps = bytes * 8 / SECONDS / 1000;
	opus_encoder_destroy(enc);
	opus_decoder_destroy(dec);
}

static void test_20ms_round_trip(void **state)
{
	double snr, kbps;

	(void)state;
	round_trip(20, &snr, &kbps);
	assert_true(snr > 15.0);
	assert_true(kbps > 20 && kbps < 45);
}

static void test_10ms_round_trip(void **state)
{
	double snr, kbps;

	(void)state;
	round_trip(10, &snr, &kbps);
	assert_true(snr > 15.0);
	assert_true(kbps > 20 && kbps < 50);
}

static void test_fec_recovers_a_lost_packet(void **state)
{
	OpusEncoder *enc = puente__encoder_create(32000);
	OpusDecoder *dec = puente__decoder_create();
	float in[960], out[960];
	unsigned char pkt[PUENTE_MAX_OPUS];
	double phase = 0;
	opus_int32 fec = 0;

	(void)state;
	opus_encoder_ctl(enc, OPUS_GET_INBAND_FEC(&fec));
	assert_int_equal(fec, 1);
	for (int i = 0; i < 20; i++) {
		puente__source_tone(in, 960, &phase);
		int n = opus_encode_float(enc, in, 960, pkt, sizeof(pkt));
		assert_true(n > 0);
		/* Decode the previous (lost) frame from this packet's redundancy. */
		if (i == 10)
			assert_int_equal(opus_decode_float(dec, pkt, n, out, 960, 1), 960);
		assert_int_equal(opus_decode_float(dec, pkt, n, out, 960, 0), 960);
	}
	opus_encoder_destroy(enc);
	opus_decoder_destroy(dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_20ms_round_trip),
	    cmocka_unit_test(test_10ms_round_trip),
	    cmocka_unit_test(test_fec_recovers_a_lost_packet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
