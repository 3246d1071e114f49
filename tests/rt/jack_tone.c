/*
 * jack_tone: a JACK client that plays a known signal into another client's
 * input port, for the real-time tests (tests/rt). It registers one output
 * port, plays a sine (default 1 kHz at -20 dBFS peak) or a sound file
 * (looped), and connects its port to the target port (default
 * PortAudio:in_0) as soon as that port exists. If the connection goes away
 * (the target client restarted) it connects again.
 *
 * Threads: the JACK process callback (copies samples, nothing else) and the
 * main thread (connection polling, exit). Exit status: 0 after running the
 * requested time with at least one connection made, 2 usage, 3 no JACK
 * server, 4 never connected within --connect-timeout, 5 the server went away.
 */
#include <errno.h>
#include <getopt.h>
#include <jack/jack.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tone {
	jack_port_t *port;
	/* sine: main thread sets before activation */
	double step;
	double amp;
	double phase; /* process callback only */
	/* file: mono samples at the server's rate, looped */
	float *pcm;
	size_t len;
	size_t pos; /* process callback only */
	_Atomic uint64_t frames;
	_Atomic int server_gone;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int process(jack_nframes_t n, void *arg)
{
	struct tone *t = arg;
	float *out = jack_port_get_buffer(t->port, n);

	if (t->pcm) {
		for (jack_nframes_t i = 0; i < n; i++) {
			out[i] = t->pcm[t->pos++];
			if (t->pos == t->len)
				t->pos = 0;
		}
	} else {
		for (jack_nframes_t i = 0; i < n; i++) {
			out[i] = (float)(t->amp * sin(t->phase));
			t->phase += t->step;
			if (t->phase >= 2.0 * M_PI)
				t->phase -= 2.0 * M_PI;
		}
	}
	atomic_fetch_add_explicit(&t->frames, n, memory_order_relaxed);
	return 0;
}

static void on_shutdown(void *arg)
{
	struct tone *t = arg;

	atomic_store(&t->server_gone, 1);
}

/* Loads a sound file as mono; it must already be at the server's rate. */
static int load_file(struct tone *t, const char *path, jack_nframes_t rate)
{
	SF_INFO info = {0};
	SNDFILE *f = sf_open(path, SFM_READ, &info);

	if (!f) {
		fprintf(stderr, "jack_tone: %s: %s\n", path, sf_strerror(NULL));
		return -ENOENT;
	}
	if ((jack_nframes_t)info.samplerate != rate || info.frames <= 0 || info.channels <= 0 ||
	    info.frames > (sf_count_t)rate * 600) {
		fprintf(stderr,
		        "jack_tone: %s: need 1..600 s at %u Hz (file: %d Hz, %lld frames)\n", path,
		        rate, info.samplerate, (long long)info.frames);
		sf_close(f);
		return -EINVAL;
	}
	size_t frames = (size_t)info.frames;
	size_t ch = (size_t)info.channels;
	float *all = malloc(frames * ch * sizeof(float));

	t->pcm = malloc(frames * sizeof(float));
	if (!all || !t->pcm) {
		free(all);
		sf_close(f);
		return -ENOMEM;
	}
	frames = (size_t)sf_readf_float(f, all, (sf_count_t)frames);
	sf_close(f);
	for (size_t i = 0; i < frames; i++) {
		float sum = 0;

		for (size_t c = 0; c < ch; c++)
			sum += all[i * ch + c];
		t->pcm[i] = sum / (float)ch;
	}
	free(all);
	t->len = frames;
	return frames ? 0 : -EINVAL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: jack_tone [OPTION]...\n"
	             "Play a signal into a JACK input port.\n"
	             "\n"
	             "  -f, --freq HZ             sine frequency (default 1000)\n"
	             "  -l, --level DBFS          sine peak level (default -20)\n"
	             "  -w, --wav FILE            play FILE (looped, at the server's rate)\n"
	             "  -t, --target PORT         port to feed (default PortAudio:in_0)\n"
	             "  -s, --seconds N           run N seconds (default 10; 0 = until SIGTERM)\n"
	             "  -c, --connect-timeout N   give up if never connected in N s (default 10)\n"
	             "  -n, --name NAME           JACK client name (default jack_tone)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"freq", required_argument, NULL, 'f'},
	    {"level", required_argument, NULL, 'l'},
	    {"wav", required_argument, NULL, 'w'},
	    {"target", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},
	    {"connect-timeout", required_argument, NULL, 'c'},
	    {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	static struct tone t;
	double freq = 1000, level = -20, seconds = 10, connect_timeout = 10;
	const char *wav = NULL, *target = "PortAudio:in_0", *name = "jack_tone";
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "f:l:w:t:s:c:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			freq = atof(optarg);
			break;
		case 'l':
			level = atof(optarg);
			break;
		case 'w':
			wav = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'c':
			connect_timeout = atof(optarg);
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || freq <= 0 || freq > 20000 || level > 0 || seconds < 0 ||
	    connect_timeout <= 0) {
		usage(stderr);
		return 2;
	}

	jack_status_t status;
	jack_client_t *c = jack_client_open(name, JackNoStartServer, &status);
	if (!c) {
		fprintf(stderr, "jack_tone: no JACK server (status 0x%x)\n", (unsigned)status);
		return 3;
	}
	jack_nframes_t rate = jack_get_sample_rate(c);
	t.step = 2.0 * M_PI * freq / rate;
	t.amp = pow(10.0, level / 20.0);
	if (wav && load_file(&t, wav, rate)) {
		jack_client_close(c);
		return 2;
	}
	t.port = jack_port_register(c, "out", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
	if (!t.port || jack_set_process_callback(c, process, &t)) {
		fprintf(stderr, "jack_tone: cannot register a port\n");
		jack_client_close(c);
		return 3;
	}
	jack_on_shutdown(c, on_shutdown, &t);
	if (jack_activate(c)) {
		fprintf(stderr, "jack_tone: cannot activate\n");
		jack_client_close(c);
		return 3;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "jack_tone: %s at %u Hz, feeding %s\n", wav ? wav : "sine", rate, target);

	double start = now_s();
	bool ever = false;
	unsigned connects = 0;
	const struct timespec tick = {0, 20000000};
	char own[256];

	snprintf(own, sizeof(own), "%s", jack_port_name(t.port));
	while (!stop_flag) {
		double el = now_s() - start;

		if (atomic_load(&t.server_gone)) {
			fprintf(stderr, "jack_tone: the JACK server went away\n");
			rc = 5;
			break;
		}
		if (seconds > 0 && el >= seconds)
			break;
		if (!ever && el >= connect_timeout) {
			fprintf(stderr, "jack_tone: %s did not appear within %.1f s\n", target,
			        connect_timeout);
			rc = 4;
			break;
		}
		/* Existence first: asking about a connection to a missing port logs an error. */
		if (jack_port_by_name(c, target) && !jack_port_connected_to(t.port, target)) {
			int e = jack_connect(c, own, target);

			if (e == 0 || e == EEXIST) {
				connects++;
				ever = true;
				fprintf(stderr, "jack_tone: connected %s -> %s (%u) after %.2f s\n",
				        own, target, connects, el);
			}
		}
		nanosleep(&tick, NULL);
	}
	if (!atomic_load(&t.server_gone)) {
		jack_deactivate(c);
		jack_client_close(c);
	}
	fprintf(stderr, "jack_tone: played %llu frames, %u connection(s)\n",
	        (unsigned long long)atomic_load(&t.frames), connects);
	free(t.pcm);
	if (rc == 0 && !ever)
		rc = 4;
	return rc;
}
