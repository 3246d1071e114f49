/*
 * puente-m2e-click: a JACK client that plays clicks into the relay's capture
 * port and says, in CLOCK_REALTIME, when each click would have reached a
 * real sound card's converter. tools/bench/mouth-to-ear.mjs pairs those
 * instants with the ones the listener page hears the clicks at.
 *
 * The instant of a click: in the JACK cycle that carries it, the capture
 * client (the relay's PortAudio stream) gets the whole period at once,
 * right after this client's process callback. A real card delivers a
 * period whose last sample was converted at the cycle's start, so sample i
 * of the period was converted at  start - (period - i) / rate.  The start
 * is clock_gettime(CLOCK_REALTIME) in the callback, the clock Chromium's
 * Date.now() and performance.timeOrigin follow, less how long after JACK's
 * estimate of the cycle's start the callback ran. The delay
 * measured from there includes the card's capture buffering (one period at
 * most) as a listener in the room would suffer it.
 *
 * Every click is a 2 ms burst of 1.5 kHz starting at phase 0: its onset is
 * sharp, and a tone burst survives Opus at 32 kb/s with its level (a single
 * sample impulse is smeared across the codec's window). The reported
 * instant is that of the first sample at or above half the burst's peak,
 * the same rule the page's detector applies to what it plays.
 *
 * Threads: the JACK process callback (writes samples, stamps clicks in a
 * fixed array) and the main thread (connects, waits, prints). Output on
 * stdout, one line per click once all are played:
 *   click n=<k> unix_us=<instant> offset=<sample in period> period=<frames>
 *         late_us=<callback start after the cycle's start, -1 unknown>
 * Exit status: 0 all clicks played, 2 usage, 3 no JACK server, 4 the
 * target port never appeared, 5 the server went away, 6 timed out.
 */
#include <errno.h>
#include <getopt.h>
#include <jack/jack.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CLICKS 1000
#define BURST_HZ   1500.0
#define BURST_MS   2.0
#define UNARMED    UINT64_MAX

struct clicker {
	jack_client_t *client;
	jack_port_t *port;
	/* Set by the main thread before activation. */
	unsigned clicks;
	uint64_t interval; /* frames between click onsets */
	float *burst;
	uint32_t burst_len;
	uint32_t mark; /* first sample of the burst at or above half its peak */
	double rate_hz;
	/* Frame of the first onset; the main thread arms it once connected. */
	_Atomic uint64_t first;
	/* Process callback only. */
	uint64_t frames;
	uint64_t playing_from; /* onset frame of the burst being played, or UNARMED */
	/* Written by the callback, read by the main thread after `done`. */
	double unix_us[MAX_CLICKS];
	int64_t late_us[MAX_CLICKS]; /* callback start after JACK's cycle start */
	uint32_t offset[MAX_CLICKS];
	uint32_t period[MAX_CLICKS];
	_Atomic uint64_t now_frames;
	_Atomic unsigned done;
	_Atomic int server_gone;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int process(jack_nframes_t n, void *arg)
{
	struct clicker *c = arg;
	float *out = jack_port_get_buffer(c->port, n);
	uint64_t first = atomic_load_explicit(&c->first, memory_order_acquire);
	unsigned done = atomic_load_explicit(&c->done, memory_order_relaxed);
	double start_us = realtime_us();

	for (jack_nframes_t i = 0; i < n; i++) {
		uint64_t f = c->frames + i;
		float v = 0;

		if (first != UNARMED && done < c->clicks &&
		    f == first + (uint64_t)done * c->interval)
			c->playing_from = f;
		if (c->playing_from != UNARMED) {
			uint64_t k = f - c->playing_from;

			v = c->burst[k];
			if (k == c->mark) {
				jack_nframes_t cur_frames;
				jack_time_t cur_us, next_us;
				float period_us;

				/*
				 * A busy machine runs this callback late after the cycle
				 * began (by over a millisecond here); the card's period
				 * ended at the cycle's start. JACK estimates that start
				 * on its own clock: how long ago it was corrects the
				 * stamp. Its estimate is missing right after an xrun:
				 * then the stamp is the callback's own time.
				 */
				c->late_us[done] =
				    jack_get_cycle_times(c->client, &cur_frames, &cur_us, &next_us,
				                         &period_us) == 0
				        ? (int64_t)(jack_get_time() - cur_us)
				        : -1;
				c->offset[done] = i;
				c->period[done] = n;
				c->unix_us[done] =
				    start_us -
				    (double)(c->late_us[done] > 0 ? c->late_us[done] : 0) -
				    (double)(n - i) * 1e6 / c->rate_hz;
			}
			if (k + 1 == c->burst_len) {
				c->playing_from = UNARMED;
				done++;
			}
		}
		out[i] = v;
	}
	c->frames += n;
	atomic_store_explicit(&c->now_frames, c->frames, memory_order_relaxed);
	atomic_store_explicit(&c->done, done, memory_order_release);
	return 0;
}

static void on_shutdown(void *arg)
{
	struct clicker *c = arg;

	atomic_store(&c->server_gone, 1);
}

/* The burst at the server's rate, and where it first reaches half its peak. */
static int make_burst(struct clicker *c, double level_db)
{
	double amp = pow(10.0, level_db / 20.0);

	c->burst_len = (uint32_t)(BURST_MS * c->rate_hz / 1000.0);
	c->burst = calloc(c->burst_len, sizeof(float));
	if (!c->burst)
		return -ENOMEM;
	c->mark = UINT32_MAX;
	for (uint32_t k = 0; k < c->burst_len; k++) {
		c->burst[k] = (float)(amp * sin(2.0 * M_PI * BURST_HZ * k / c->rate_hz));
		if (c->mark == UINT32_MAX && fabs(c->burst[k]) >= amp / 2)
			c->mark = k;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: puente-m2e-click [OPTION]...\n"
	        "Play clicks into a JACK input port; print when each was played.\n"
	        "\n"
	        "  -n, --clicks N            clicks to play (default 10, at most 1000)\n"
	        "  -i, --interval-ms MS      between click onsets (default 1000)\n"
	        "  -l, --level DBFS          burst peak level (default -6)\n"
	        "  -d, --lead-ms MS          wait after connecting, before the first click,\n"
	        "                            100..10000 (default 1000)\n"
	        "  -t, --target PORT         port to feed (default PortAudio:in_0)\n"
	        "  -c, --connect-timeout S   give up if the port never appears (default 10)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"clicks", required_argument, NULL, 'n'},
	    {"interval-ms", required_argument, NULL, 'i'},
	    {"level", required_argument, NULL, 'l'},
	    {"lead-ms", required_argument, NULL, 'd'},
	    {"target", required_argument, NULL, 't'},
	    {"connect-timeout", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static struct clicker c;
	double interval_ms = 1000, level = -6, lead_ms = 1000, connect_timeout = 10;
	const char *target = "PortAudio:in_0";
	int opt, rc = 0;
	long clicks = 10;

	while ((opt = getopt_long(argc, argv, "n:i:l:d:t:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			clicks = strtol(optarg, NULL, 10);
			break;
		case 'i':
			interval_ms = atof(optarg);
			break;
		case 'l':
			level = atof(optarg);
			break;
		case 'd':
			lead_ms = atof(optarg);
			break;
		case 't':
			target = optarg;
			break;
		case 'c':
			connect_timeout = atof(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || clicks < 1 || clicks > MAX_CLICKS || interval_ms < 50 ||
	    interval_ms > 10000 || level > 0 || level < -40 || lead_ms < 100 || lead_ms > 10000 ||
	    connect_timeout <= 0) {
		usage(stderr);
		return 2;
	}

	jack_status_t status;
	jack_client_t *jc = jack_client_open("puente-m2e-click", JackNoStartServer, &status);
	if (!jc) {
		fprintf(stderr, "puente-m2e-click: no JACK server (status 0x%x)\n",
		        (unsigned)status);
		return 3;
	}
	c.client = jc;
	c.rate_hz = jack_get_sample_rate(jc);
	c.clicks = (unsigned)clicks;
	/*
	 * Not a whole number of periods or Opus frames: the clicks then fall at
	 * every position in both, so the figures cover the whole spread rather
	 * than one lucky or unlucky alignment.
	 */
	c.interval = (uint64_t)(interval_ms * c.rate_hz / 1000.0) + 101;
	c.playing_from = UNARMED;
	atomic_store(&c.first, UNARMED);
	if (make_burst(&c, level)) {
		jack_client_close(jc);
		return 3;
	}
	c.port = jack_port_register(jc, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
	if (!c.port || jack_set_process_callback(jc, process, &c)) {
		fprintf(stderr, "puente-m2e-click: cannot register a port\n");
		jack_client_close(jc);
		free(c.burst);
		return 3;
	}
	jack_on_shutdown(jc, on_shutdown, &c);
	if (jack_activate(jc)) {
		fprintf(stderr, "puente-m2e-click: cannot activate\n");
		jack_client_close(jc);
		free(c.burst);
		return 3;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	const struct timespec tick = {0, 10000000};
	double start = now_s();
	/* Playing time plus generous slack for a loaded machine. */
	double limit = connect_timeout + (lead_ms + interval_ms * (double)clicks) / 1000.0 + 10;
	bool armed = false;

	while (!stop_flag) {
		double el = now_s() - start;

		if (atomic_load(&c.server_gone)) {
			fprintf(stderr, "puente-m2e-click: the JACK server went away\n");
			rc = 5;
			break;
		}
		if (atomic_load_explicit(&c.done, memory_order_acquire) == c.clicks)
			break;
		if (el >= limit) {
			fprintf(stderr, "puente-m2e-click: timed out after %.1f s\n", el);
			rc = 6;
			break;
		}
		if (!armed) {
			if (el >= connect_timeout) {
				fprintf(stderr,
				        "puente-m2e-click: %s did not appear within %.1f s\n",
				        target, connect_timeout);
				rc = 4;
				break;
			}
			/* Existence first: asking to connect to a missing port logs an error. */
			int e = jack_port_by_name(jc, target)
			            ? jack_connect(jc, jack_port_name(c.port), target)
			            : ENOENT;
			if (e == 0 || e == EEXIST) {
				uint64_t at = atomic_load(&c.now_frames) +
				              (uint64_t)(lead_ms * c.rate_hz / 1000.0);

				atomic_store_explicit(&c.first, at, memory_order_release);
				armed = true;
				fprintf(stderr,
				        "puente-m2e-click: feeding %s at %.0f Hz, %ld clicks every "
				        "%.2f ms\n",
				        target, c.rate_hz, clicks,
				        (double)c.interval * 1000 / c.rate_hz);
			}
		}
		nanosleep(&tick, NULL);
	}
	unsigned done = atomic_load_explicit(&c.done, memory_order_acquire);

	if (!atomic_load(&c.server_gone)) {
		jack_deactivate(jc);
		jack_client_close(jc);
	}
	for (unsigned k = 0; k < done; k++)
		printf("click n=%u unix_us=%.1f offset=%u period=%u late_us=%lld\n", k,
		       c.unix_us[k], c.offset[k], c.period[k], (long long)c.late_us[k]);
	fflush(stdout);
	free(c.burst);
	if (rc == 0 && done < c.clicks)
		rc = 6;
	return rc;
}
