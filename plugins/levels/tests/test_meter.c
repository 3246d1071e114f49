/*
 * Meters on reference signals (EBU Tech 3341 cases generated here) and the
 * alarms driven by hand.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alarms.h"
#include "meter.h"

#define RATE 48000

/* Feeds seconds of a 1 kHz sine at dbfs (peak) on every channel. */
static double phase_samples;
static void sine(struct meter *m, double dbfs, double seconds)
{
	size_t frames = (size_t)llround(seconds * RATE), chunk = 960;
	double a = pow(10.0, dbfs / 20.0);
	float *buf = malloc(chunk * m->channels * sizeof(float));

	assert_non_null(buf);
	for (size_t done = 0; done < frames;) {
		size_t n = frames - done < chunk ? frames - done : chunk;

		for (size_t i = 0; i < n; i++) {
			float v = (float)(a * sin(2.0 * M_PI * 1000.0 *
			                          (phase_samples + (double)i) / RATE));

			for (unsigned c = 0; c < m->channels; c++)
				buf[i * m->channels + c] = v;
		}
		phase_samples += (double)n;
		assert_int_equal(meter_feed(m, buf, n), 0);
		done += n;
	}
	free(buf);
}

static void clipped_sine(struct meter *m, double gain, double seconds)
{
	size_t frames = (size_t)(seconds * RATE);
	float *buf = malloc(frames * sizeof(float));

	assert_non_null(buf);
	for (size_t i = 0; i < frames; i++) {
		double v = gain * sin(2.0 * M_PI * 1000.0 * (double)i / RATE);

		buf[i] = (float)(v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v);
	}
	assert_int_equal(meter_feed(m, buf, frames), 0);
	free(buf);
}

#define near(v, want, tol) assert_true(fabs((v) - (want)) <= (tol) + 1e-9)

static void test_sine_peak_rms(void **unused)
{
	struct meter m;
	struct meter_reading r;

	(void)unused;
	phase_samples = 0;
	assert_int_equal(meter_init(&m, 1, -0.1, 2000), 0);
	sine(&m, -20, 3.0);
	meter_take(&m, 1000, &r);
	near(r.peak, -20.0, 0.1);
	near(r.rms, -23.0, 0.1);
	near(r.true_peak, -20.0, 0.1);
	assert_int_equal(r.clips, 0);
	/* Mono at -20 dBFS: -23.0 LUFS (TESTING.md). */
	near(r.momentary, -23.0, 0.1);
	near(r.short_term, -23.0, 0.1);
	near(r.integrated, -23.0, 0.1);
	near(r.lra, 0.0, 0.1);
	/* An empty window: no peak, no RMS; loudness goes on. */
	meter_take(&m, 1100, &r);
	assert_true(isinf(r.peak) && r.peak < 0);
	assert_true(isinf(r.rms) && r.rms < 0);
	meter_free(&m);
}

/* EBU Tech 3341 cases 1 and 2: stereo 1 kHz sine, 20 s. */
static void case_stereo(double dbfs, double want)
{
	struct meter m;
	struct meter_reading r;

	phase_samples = 0;
	assert_int_equal(meter_init(&m, 2, -0.1, 2000), 0);
	sine(&m, dbfs, 20.0);
	meter_take(&m, 0, &r);
	near(r.momentary, want, 0.1);
	near(r.short_term, want, 0.1);
	near(r.integrated, want, 0.1);
	meter_free(&m);
}

static void test_tech3341_case1(void **unused)
{
	(void)unused;
	case_stereo(-23, -23.0);
}

static void test_tech3341_case2(void **unused)
{
	(void)unused;
	case_stereo(-33, -33.0);
}

/* Cases 3, 4 and 5: changing levels; integrated -23.0 +- 0.1 LUFS. */
static void steps(const double *dbfs, const double *secs, int n)
{
	struct meter m;
	struct meter_reading r;

	phase_samples = 0;
	assert_int_equal(meter_init(&m, 2, -0.1, 2000), 0);
	for (int i = 0; i < n; i++)
		sine(&m, dbfs[i], secs[i]);
	meter_take(&m, 0, &r);
	near(r.integrated, -23.0, 0.1);
	meter_free(&m);
}

static void test_tech3341_case3(void **unused)
{
	static const double d[] = {-36, -23, -36}, s[] = {10, 60, 10};

	(void)unused;
	steps(d, s, 3);
}

static void test_tech3341_case4(void **unused)
{
	static const double d[] = {-72, -36, -23, -36, -72}, s[] = {10, 10, 60, 10, 10};

	(void)unused;
	steps(d, s, 5);
}

static void test_tech3341_case5(void **unused)
{
	static const double d[] = {-26, -20, -26}, s[] = {20, 20.1, 20};

	(void)unused;
	steps(d, s, 3);
}

static void test_clips(void **unused)
{
	struct meter m;
	struct meter_reading r;

	(void)unused;
	assert_int_equal(meter_init(&m, 1, -0.1, 2000), 0);
	clipped_sine(&m, 0.5, 1.0);
	meter_take(&m, 0, &r);
	assert_int_equal(r.clips, 0);
	/* 1 kHz overdriven: every half cycle is one run of clipped samples. */
	clipped_sine(&m, 2.0, 1.0);
	meter_take(&m, 100, &r);
	assert_int_equal(r.clips, 2000);
	near(r.peak, 0.0, 0.01);
	meter_free(&m);
}

static void test_peak_hold_and_reset(void **unused)
{
	struct meter m;
	struct meter_reading r;

	(void)unused;
	phase_samples = 0;
	assert_int_equal(meter_init(&m, 1, -0.1, 2000), 0);
	sine(&m, -6, 0.1);
	meter_take(&m, 1000, &r);
	near(r.peak_hold, -6.0, 0.1);
	sine(&m, -30, 0.1);
	meter_take(&m, 2500, &r);
	near(r.peak, -30.0, 0.1);
	near(r.peak_hold, -6.0, 0.1); /* held for 2 s */
	sine(&m, -30, 0.1);
	meter_take(&m, 3001, &r);
	near(r.peak_hold, -30.0, 0.1); /* released */

	sine(&m, -20, 3.0);
	meter_take(&m, 4000, &r);
	assert_true(isfinite(r.integrated));
	assert_int_equal(meter_reset_integrated(&m), 0);
	meter_take(&m, 4100, &r);
	assert_true(isinf(r.integrated));
	sine(&m, -10, 3.0);
	meter_take(&m, 7100, &r);
	near(r.integrated, -13.0, 0.1);
	meter_free(&m);
}

/* ---- alarms ---- */

struct seen {
	int raised, cleared;
	uint64_t t;
	char id[ALARM_ID_MAX];
};

static void on_alarm(void *user, const struct alarm *a, bool raised, uint64_t t)
{
	struct seen *s = user;

	if (raised)
		s->raised++;
	else
		s->cleared++;
	s->t = t;
	strcpy(s->id, a->id);
}

static void test_silence_alarm(void **unused)
{
	struct alarm_config cfg;
	struct alarms al;
	struct seen s = {0};
	uint64_t t = 1000000;
	double silent = 0;

	(void)unused;
	alarm_config_default(&cfg);
	cfg.silence_s = 10;
	alarms_init(&al, &cfg, on_alarm, &s);
	/* Sound, then silence from t0; every 100 ms a window. */
	alarms_silence(&al, 0, "floor", true, -20, t);
	uint64_t t0 = t + 100;
	for (t = t0; t < t0 + 9900; t += 100) {
		silent = alarms_silence(&al, 0, "floor", true, -INFINITY, t);
		assert_int_equal(s.raised, 0);
	}
	near(silent, 9.8, 0.001);
	alarms_silence(&al, 0, "floor", true, -75, t0 + 10000);
	assert_int_equal(s.raised, 1);
	assert_int_equal(s.t, t0 + 10000);
	assert_string_equal(s.id, "silence:floor");
	assert_non_null(alarms_find(&al, "silence:floor"));
	assert_int_equal(alarms_find(&al, "silence:floor")->since_ms, t0 + 10000);
	assert_string_equal(alarms_find(&al, "silence:floor")->message, "floor silent for 10 s");
	assert_int_equal(alarms_active(&al), 1);
	/* Still silent: no second event. */
	alarms_silence(&al, 0, "floor", true, -INFINITY, t0 + 12000);
	assert_int_equal(s.raised, 1);
	/* Audio returns: cleared at that window's time. */
	silent = alarms_silence(&al, 0, "floor", true, -25, t0 + 12100);
	assert_int_equal(s.cleared, 1);
	assert_int_equal(s.t, t0 + 12100);
	near(silent, 0, 0);
	assert_int_equal(alarms_active(&al), 0);
	/* A channel that is not live is never silent. */
	for (t = t0; t < t0 + 30000; t += 100)
		alarms_silence(&al, 1, "en", false, -INFINITY, t);
	assert_int_equal(s.raised, 1);
}

static void test_clip_and_drop_alarms(void **unused)
{
	struct alarms al;
	struct seen s = {0};

	(void)unused;
	alarms_init(&al, NULL, on_alarm, &s);
	alarms_clipping(&al, 0, "floor", 0, 1000);
	alarms_clipping(&al, 0, "floor", 0, 1100);
	assert_int_equal(s.raised, 0);
	alarms_clipping(&al, 0, "floor", 3, 1200);
	assert_int_equal(s.raised, 1);
	assert_string_equal(s.id, "clipping:floor");
	alarms_clipping(&al, 0, "floor", 3, 4100);
	assert_int_equal(s.cleared, 0);
	alarms_clipping(&al, 0, "floor", 3, 4200); /* clip_hold_s = 3 */
	assert_int_equal(s.cleared, 1);
	assert_int_equal(s.t, 4200);

	alarms_drops(&al, 1, "es", 100, 10000);
	alarms_drops(&al, 1, "es", 110, 11000);
	assert_int_equal(s.raised, 1);
	alarms_drops(&al, 1, "es", 200, 12000);
	assert_int_equal(s.raised, 2);
	assert_string_equal(s.id, "drops:es");
	alarms_drops(&al, 1, "es", 205, 13000);
	assert_int_equal(s.cleared, 2);

	assert_int_equal(alarms_set(&al, "source_lost", "", true, 20000, "lost"), 1);
	assert_int_equal(alarms_set(&al, "source_lost", "", true, 20100, "lost"), 0);
	assert_string_equal(s.id, "source_lost");
	assert_int_equal(alarms_set(&al, "source_lost", "", false, 20200, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sine_peak_rms),  cmocka_unit_test(test_tech3341_case1),
	    cmocka_unit_test(test_tech3341_case2), cmocka_unit_test(test_tech3341_case3),
	    cmocka_unit_test(test_tech3341_case4), cmocka_unit_test(test_tech3341_case5),
	    cmocka_unit_test(test_clips),          cmocka_unit_test(test_peak_hold_and_reset),
	    cmocka_unit_test(test_silence_alarm),  cmocka_unit_test(test_clip_and_drop_alarms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
