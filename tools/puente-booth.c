/*
 * puente-booth: an interpreter's console on the command line. It joins a
 * booth of the interpretation plugin (README.md, "Interpretation messages"),
 * hears its source (the floor or another booth: relay interpretation),
 * speaks into the booth's output channel from a microphone or a WAV file,
 * and takes the booth's commands (live, release, mute, cough, direction,
 * handover) from standard input. Every state change goes to stderr; one
 * summary line goes to stdout at the end.
 *
 * Threads:
 * - main: the client loop (pcl), control messages, sending the encoded
 *   packets, decoding what it hears into the playback ring;
 * - encoder: PCM from the capture ring or the file (paced in real time on
 *   CLOCK_MONOTONIC absolute deadlines) -> Opus -> packet ring -> main;
 * - stdin: reads commands (lines, or single keys on a terminal) into a
 *   small locked queue for main;
 * - PortAudio callbacks: only copy into or out of an SPSC ring
 *   (<puente/spsc.h>); no lock, allocation or system call there.
 * The encoder and stdin threads wake main with pcl_wake().
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>
#include <portaudio.h>
#include <sndfile.h>

#include "client/pcl.h"
#include "client/player.h"
#include "client/toolkit.h"

#define PROG  "puente-booth"
#define AGENT PROG "/" PUENTE_VERSION

#define SLICE_MS           100   /* longest the loop waits before looking at deadlines */
#define CLOSE_WAIT_MS      1000  /* closing handshake */
#define WELCOME_TIMEOUT_MS 10000 /* a relay greets at once */
#define ANSWER_TIMEOUT_MS  5000  /* core.hello, interpretation.state, join */
#define MAX_SECONDS        (366.0 * 24 * 3600)
#define NAME_LEN           64
#define MAX_BOOTHS         PUENTE_MAX_CHANNELS

/* Opus as the relay encodes the floor: mono 48 kHz, 20 ms, 32 kbit/s, in-band FEC. */
#define FRAME_SAMPLES (PUENTE_SAMPLE_RATE / 50)
#define FRAME_NS      20000000L
#define BITRATE       32000
#define LOSS_PERC     5
/* A file source this late (suspended, overloaded) restarts its schedule. */
#define LATE_RESYNC_NS (10 * FRAME_NS)
/* The microphone encoder looks at the capture ring this often. */
#define CAPTURE_POLL_NS     4000000L
#define CAPTURE_RING_FRAMES (1u << 14) /* 341 ms */
#define PACKET_RING_SLOTS   64         /* 1.28 s of 20 ms packets */

#define PA_TEARDOWN_S 2 /* PortAudio can hang when its server dies */

#define CMD_LEN   128
#define CMD_QUEUE 16

struct options {
	const char *url;
	const char *token, *token_file; /* --token, --token-file */
	struct pcl_target target;       /* --url and the token, resolved */
	const char *output;             /* the channel this interpreter speaks into */
	const char *input;              /* capture device: "default", an index or a name part */
	const char *input_file;         /* or a WAV file, looped */
	const char *booth;              /* NULL: the booth that has --output */
	const char *source;             /* what the interpreter hears */
	const char *play_device;
	double seconds; /* 0: until quit or a signal */
	bool live, play, quiet;
};

/* One encoded packet, encoder thread -> main through an SPSC ring. */
struct enc_packet {
	uint64_t media_time; /* the booth's own clock: samples since start */
	uint32_t len;
	unsigned char data[PUENTE_MAX_OPUS];
};

/* Capture ring first: it wants 64-byte alignment (pcl_alloc_aligned). */
struct capture {
	struct puente_spsc ring;
	float buf[CAPTURE_RING_FRAMES];
	PaStream *stream;
};

struct encoder {
	struct puente_spsc ring; /* of struct enc_packet */
	struct enc_packet *slots;
	OpusEncoder *opus;
	SNDFILE *file;
	int file_channels;
	float *file_buf; /* FRAME_SAMPLES * file_channels */
	struct capture *cap;
	struct enc_packet scratch; /* encoder thread only */
	struct pcl_client *cl;     /* woken after each packet */
	pthread_t thread;
	bool started;
	atomic_bool stop;
	uint64_t media_time;      /* encoder thread only */
	_Atomic uint64_t encoded; /* packets */
	_Atomic uint64_t late;    /* file schedule restarts */
	_Atomic uint64_t loops;   /* times the file wrapped */
	_Atomic uint64_t encode_errors;
	_Atomic int read_error; /* errno of a failed file read; ends the thread */
};

struct cmd_queue {
	pthread_mutex_t lock;
	char lines[CMD_QUEUE][CMD_LEN];
	unsigned head, count;
	uint64_t dropped;
};

struct stdin_reader {
	pthread_t thread;
	bool started;
	atomic_bool stop;
	bool tty; /* single keys; the terminal's settings are restored at exit */
	struct termios saved;
};

/* What the last interpretation.state said about this client's booth. */
struct booth_view {
	bool found;
	bool live_me, pending_me, muted, has_live;
	uint64_t live;
	char direction[NAME_LEN];
};

struct booth {
	struct options opt;
	struct pcl_client *cl;

	bool opened, welcomed, hello_ok, join_sent, joined, closing;
	int64_t opened_ms, hello_sent_ms, join_sent_ms;
	uint64_t my_id;
	char channels[PUENTE_MAX_CHANNELS][NAME_LEN];
	unsigned n_channels;
	char out[NAME_LEN]; /* the channel this booth speaks into now */
	int out_idx;
	char booth_id[NAME_LEN];
	json_t *state; /* the latest interpretation.state, or NULL */
	char state_line[1024];

	/* This client in its booth. */
	bool live, pending_me, relay_muted;
	bool mute, cough; /* local gates: effective at once */
	int64_t live_since_ms;
	double live_s;
	bool skipped;           /* packets meant for the air were lost since the last one sent */
	uint32_t ring_overruns; /* the packet ring's count when last looked at */

	/* What the relay sends this client: its source. */
	int rx_chan;
	uint64_t rx_packets;
	OpusDecoder *dec;
	struct pcl_player *player;
	bool pa_up;

	struct encoder enc;
	struct cmd_queue cmds;
	struct stdin_reader in;

	uint32_t tx_seq;
	uint64_t sent, refused;
	uint64_t held;     /* packets not sent: not live, muted or coughing */
	uint64_t net_full; /* packets dropped: the network took them slower than real time */
	int fatal;         /* exit status an error decided; 0: none */
	bool quit;
};

/* Progress and state for people: silenced by --quiet. */
#define note(b, ...) pcl_note((b)->opt.quiet, __VA_ARGS__)
/* The run cannot go on: it ends with exit status status. */
#define fail(b, status, ...) pcl_fail(&(b)->fatal, status, __VA_ARGS__)

static int channel_index(const struct booth *b, const char *name)
{
	for (unsigned i = 0; i < b->n_channels; i++)
		if (!strcmp(b->channels[i], name))
			return (int)i;
	return -1;
}

static void channel_list(const struct booth *b, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < b->n_channels && used < cap; i++)
		used +=
		    (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", b->channels[i]);
	if (!b->n_channels)
		snprintf(buf, cap, "(none announced)");
}

/* --- capture --- */

/* PortAudio callback thread: one ring write (an overrun is counted there); nothing else. */
static int capture_callback(const void *in, void *out, unsigned long frames,
                            const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags,
                            void *user)
{
	struct capture *c = user;

	(void)out;
	(void)time;
	(void)flags;
	if (in)
		puente_spsc_write(&c->ring, in, (uint32_t)frames);
	return paContinue;
}

static int capture_open(struct booth *b)
{
	PaStreamParameters in = {.channelCount = 1, .sampleFormat = paFloat32};
	struct capture *c;
	PaError err;

	c = pcl_alloc_aligned(sizeof(*c));
	if (!c) {
		fail(b, 1, "out of memory");
		return -ENOMEM;
	}
	puente_spsc_init(&c->ring, c->buf, CAPTURE_RING_FRAMES, sizeof(c->buf[0]));
	b->enc.cap = c;
	if (pcl_pa_start(&b->pa_up, &b->fatal) < 0)
		return -EIO;
	in.device = pcl_pa_find_device(b->opt.input, true, true);
	if (in.device == paNoDevice) {
		if (b->opt.input && strcmp(b->opt.input, "default"))
			fail(b, 1, "no audio input device matching '%s'", b->opt.input);
		else
			fail(b, 1, "no default audio input device");
		pcl_pa_list_devices(true);
		return -ENODEV;
	}
	in.suggestedLatency = Pa_GetDeviceInfo(in.device)->defaultLowInputLatency;
	err = Pa_OpenStream(&c->stream, &in, NULL, PUENTE_SAMPLE_RATE, paFramesPerBufferUnspecified,
	                    paNoFlag, capture_callback, c);
	if (err == paNoError) {
		err = Pa_StartStream(c->stream);
		if (err != paNoError) {
			Pa_CloseStream(c->stream);
			c->stream = NULL;
		}
	}
	if (err != paNoError) {
		fail(b, 1, "cannot capture from '%s' (mono, 48 kHz): %s",
		     Pa_GetDeviceInfo(in.device)->name, Pa_GetErrorText(err));
		return -EIO;
	}
	note(b, "capturing from '%s'", Pa_GetDeviceInfo(in.device)->name);
	return 0;
}

/* --- playback (what the interpreter hears) --- */

static int play_open(struct booth *b)
{
	const char *device;

	b->player = pcl_player_new();
	if (!b->player) {
		fail(b, 1, "out of memory");
		return -ENOMEM;
	}
	if (pcl_pa_start(&b->pa_up, &b->fatal) < 0)
		return -EIO;
	if (pcl_player_open(b->player, b->opt.play_device, true, &device, &b->fatal) < 0)
		return -EIO;
	note(b, "playing the source on '%s'", device);
	return 0;
}

/* main, after the summary and with the encoder stopped: a hung teardown cannot keep us alive. */
static void pa_close(struct booth *b, int status)
{
	pcl_watchdog(PA_TEARDOWN_S, status);
	if (b->enc.cap && b->enc.cap->stream) {
		Pa_StopStream(b->enc.cap->stream);
		Pa_CloseStream(b->enc.cap->stream);
	}
	if (b->player)
		pcl_player_stop(b->player);
	if (b->pa_up)
		Pa_Terminate();
	pcl_watchdog(0, status);
	free(b->enc.cap);
	b->enc.cap = NULL;
	free(b->player);
	b->player = NULL;
}

/* --- encoder thread --- */

static void encode_one(struct encoder *e, const float *pcm)
{
	struct enc_packet *pkt = &e->scratch;
	opus_int32 n;

	n = opus_encode_float(e->opus, pcm, FRAME_SAMPLES, pkt->data, PUENTE_MAX_OPUS);
	if (n > 0) {
		pkt->media_time = e->media_time;
		pkt->len = (uint32_t)n;
		/* A full ring (main stalled) drops the packet; the ring counts it. */
		puente_spsc_write(&e->ring, pkt, 1);
		atomic_fetch_add_explicit(&e->encoded, 1, memory_order_relaxed);
		pcl_wake(e->cl);
	} else {
		atomic_fetch_add_explicit(&e->encode_errors, 1, memory_order_relaxed);
	}
	e->media_time += FRAME_SAMPLES;
}

/* One 20 ms frame of the file, mixed to mono; wraps at the end. 0 or -errno. */
static int file_frame(struct encoder *e, float *mono)
{
	sf_count_t got = 0;
	int ch = e->file_channels;
	bool wrapped = false;

	while (got < FRAME_SAMPLES) {
		sf_count_t n = sf_readf_float(e->file, e->file_buf + got * ch, FRAME_SAMPLES - got);

		if (n > 0) {
			got += n;
			wrapped = false;
			continue;
		}
		if (wrapped || sf_seek(e->file, 0, SEEK_SET) < 0)
			return -EIO; /* an empty or unreadable file */
		wrapped = true;
		atomic_fetch_add_explicit(&e->loops, 1, memory_order_relaxed);
	}
	for (int i = 0; i < FRAME_SAMPLES; i++) {
		float s = 0;

		for (int k = 0; k < ch; k++)
			s += e->file_buf[i * ch + k];
		mono[i] = s / (float)ch;
	}
	return 0;
}

static void ts_add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static int64_t ts_diff_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(a->tv_sec - b->tv_sec) * 1000000000 + (a->tv_nsec - b->tv_nsec);
}

/* A frame every 20 ms on absolute deadlines, so sleeping never accumulates drift. */
static void encoder_file_loop(struct encoder *e)
{
	float mono[FRAME_SAMPLES];
	struct timespec next, now;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
		err = file_frame(e, mono);
		if (err < 0) {
			atomic_store_explicit(&e->read_error, -err, memory_order_release);
			pcl_wake(e->cl);
			return;
		}
		encode_one(e, mono);
		ts_add_ns(&next, FRAME_NS);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ts_diff_ns(&now, &next) > LATE_RESYNC_NS) {
			/* Far behind (stopped, overloaded): start the schedule afresh. */
			next = now;
			atomic_fetch_add_explicit(&e->late, 1, memory_order_relaxed);
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
}

/* The capture ring fills at the device's pace: take every whole frame. */
static void encoder_capture_loop(struct encoder *e)
{
	const struct timespec poll_ts = {.tv_nsec = CAPTURE_POLL_NS};
	float mono[FRAME_SAMPLES];

	while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
		while (puente_spsc_fill(&e->cap->ring) >= FRAME_SAMPLES) {
			puente_spsc_read(&e->cap->ring, mono, FRAME_SAMPLES);
			encode_one(e, mono);
		}
		nanosleep(&poll_ts, NULL);
	}
}

static void *encoder_main(void *arg)
{
	struct encoder *e = arg;

	if (e->file)
		encoder_file_loop(e);
	else
		encoder_capture_loop(e);
	return NULL;
}

static int encoder_init(struct booth *b)
{
	struct encoder *e = &b->enc;
	int err;

	e->slots = pcl_alloc_aligned(sizeof(*e->slots) * PACKET_RING_SLOTS);
	if (!e->slots) {
		fail(b, 1, "out of memory");
		return -ENOMEM;
	}
	puente_spsc_init(&e->ring, e->slots, PACKET_RING_SLOTS, sizeof(*e->slots));
	e->opus = opus_encoder_create(PUENTE_SAMPLE_RATE, 1, OPUS_APPLICATION_AUDIO, &err);
	if (!e->opus) {
		fail(b, 1, "cannot create the Opus encoder: %s", opus_strerror(err));
		return -EIO;
	}
	opus_encoder_ctl(e->opus, OPUS_SET_BITRATE(BITRATE));
	opus_encoder_ctl(e->opus, OPUS_SET_VBR(1));
	opus_encoder_ctl(e->opus, OPUS_SET_INBAND_FEC(1));
	opus_encoder_ctl(e->opus, OPUS_SET_PACKET_LOSS_PERC(LOSS_PERC));
	opus_encoder_ctl(e->opus, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
	atomic_init(&e->stop, false);
	atomic_init(&e->encoded, 0);
	atomic_init(&e->late, 0);
	atomic_init(&e->loops, 0);
	atomic_init(&e->encode_errors, 0);
	atomic_init(&e->read_error, 0);

	if (b->opt.input_file) {
		SF_INFO info = {0};

		e->file = sf_open(b->opt.input_file, SFM_READ, &info);
		if (!e->file) {
			fail(b, 1, "cannot open %s: %s", b->opt.input_file, sf_strerror(NULL));
			return -EIO;
		}
		if (info.samplerate != PUENTE_SAMPLE_RATE) {
			fail(b, 1,
			     "%s is %d Hz; " PROG " needs %d Hz (convert it: sox IN -r 48000 OUT)",
			     b->opt.input_file, info.samplerate, PUENTE_SAMPLE_RATE);
			return -EINVAL;
		}
		if (info.frames <= 0 || info.channels < 1 || info.channels > 64) {
			fail(b, 1, "%s holds no audio", b->opt.input_file);
			return -EINVAL;
		}
		e->file_channels = info.channels;
		e->file_buf = malloc(sizeof(float) * FRAME_SAMPLES * (size_t)info.channels);
		if (!e->file_buf) {
			fail(b, 1, "out of memory");
			return -ENOMEM;
		}
		note(b, "speaking from %s (%.2f s, looped)", b->opt.input_file,
		     (double)info.frames / PUENTE_SAMPLE_RATE);
		return 0;
	}
	return capture_open(b);
}

static int encoder_start(struct booth *b)
{
	int err;

	b->enc.cl = b->cl;
	err = pthread_create(&b->enc.thread, NULL, encoder_main, &b->enc);
	if (err) {
		fail(b, 1, "cannot start the encoder thread: %s", strerror(err));
		return -err;
	}
	b->enc.started = true;
	return 0;
}

static void encoder_stop(struct encoder *e)
{
	if (e->started) {
		atomic_store_explicit(&e->stop, true, memory_order_release);
		pthread_join(e->thread, NULL);
		e->started = false;
	}
}

static void encoder_fini(struct encoder *e)
{
	encoder_stop(e);
	if (e->opus)
		opus_encoder_destroy(e->opus);
	if (e->file)
		sf_close(e->file);
	free(e->file_buf);
	free(e->slots);
}

/* --- commands from stdin --- */

static void cmd_push(struct booth *b, const char *line)
{
	struct cmd_queue *q = &b->cmds;

	pthread_mutex_lock(&q->lock);
	if (q->count < CMD_QUEUE) {
		snprintf(q->lines[(q->head + q->count) % CMD_QUEUE], CMD_LEN, "%s", line);
		q->count++;
	} else {
		q->dropped++;
	}
	pthread_mutex_unlock(&q->lock);
	pcl_wake(b->cl);
}

/* Commands that act on the console alone, not on the booth. */
static bool cmd_is_local(const char *line)
{
	size_t n = strcspn(line, " \t");

	return (n == 4 && (!strncmp(line, "quit", 4) || !strncmp(line, "exit", 4) ||
	                   !strncmp(line, "help", 4))) ||
	       (n == 1 && line[0] == '?');
}

/*
 * The next command, if any; before the booth is joined only a local one, so
 * commands typed or piped early wait for the join instead of being lost.
 */
static bool cmd_pop(struct booth *b, char *line)
{
	struct cmd_queue *q = &b->cmds;
	bool got = false;

	pthread_mutex_lock(&q->lock);
	if (q->count && (b->joined || cmd_is_local(q->lines[q->head]))) {
		memcpy(line, q->lines[q->head], CMD_LEN);
		q->head = (q->head + 1) % CMD_QUEUE;
		q->count--;
		got = true;
	}
	pthread_mutex_unlock(&q->lock);
	return got;
}

/* Single keys on a terminal; ':' opens a typed command line. */
static const char *key_command(int ch)
{
	switch (ch) {
	case 'l':
		return "live";
	case 'r':
		return "release";
	case 'm':
		return "mute-toggle";
	case 'c':
		return "cough";
	case 'h':
		return "handover";
	case 'a':
		return "accept";
	case 'd':
		return "decline";
	case 'q':
	case 4: /* Ctrl-D */
		return "quit";
	case '?':
		return "help";
	default:
		return NULL;
	}
}

static void *stdin_main(void *arg)
{
	struct booth *b = arg;
	struct stdin_reader *r = &b->in;
	char line[CMD_LEN];
	size_t len = 0;
	bool typing = false; /* tty: after ':' */
	bool overlong = false;

	while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		char buf[256];
		ssize_t n;

		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* End of input ends the commands, not the run (--seconds, Ctrl-C). */
			if (len && !r->tty) {
				line[len] = '\0';
				cmd_push(b, line);
			}
			return NULL;
		}
		for (ssize_t i = 0; i < n; i++) {
			int ch = (unsigned char)buf[i];

			if (r->tty && !typing) {
				const char *cmd = key_command(ch);

				if (cmd) {
					cmd_push(b, cmd);
				} else if (ch == ':' || ch == '\r' || ch == '\n') {
					typing = ch == ':';
					len = 0;
					if (typing)
						fputs(":", stderr);
				}
				continue;
			}
			if (ch == '\n' || ch == '\r') {
				if (r->tty)
					fputc('\n', stderr);
				line[len] = '\0';
				if (len && !overlong)
					cmd_push(b, line);
				else if (overlong)
					pcl_warn("command line too long: ignored");
				len = 0;
				typing = overlong = false;
			} else if (r->tty && ch == 27) { /* Esc: never mind */
				fputs(" (cancelled)\n", stderr);
				len = 0;
				typing = false;
			} else if (r->tty && (ch == 127 || ch == 8)) {
				if (len) {
					len--;
					fputs("\b \b", stderr);
				}
			} else if (len + 1 < sizeof(line)) {
				line[len++] = (char)ch;
				if (r->tty)
					fputc(ch, stderr);
			} else {
				overlong = true;
			}
		}
	}
	return NULL;
}

static void stdin_start(struct booth *b)
{
	struct stdin_reader *r = &b->in;
	int err;

	atomic_init(&r->stop, false);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &r->saved) == 0) {
		struct termios raw = r->saved;

		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		r->tty = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	err = pthread_create(&r->thread, NULL, stdin_main, b);
	if (err) {
		pcl_warn("cannot read commands (%s): the console runs without them", strerror(err));
		return;
	}
	r->started = true;
	if (r->tty)
		note(b, "keys: l live, r release, m mute, c cough, h handover, a accept, "
		        "d decline, q quit, ? help; ':' types a command (direction CH, source CH)");
}

static void stdin_stop(struct stdin_reader *r)
{
	if (r->started) {
		atomic_store_explicit(&r->stop, true, memory_order_release);
		pthread_join(r->thread, NULL);
		r->started = false;
	}
	if (r->tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &r->saved);
		r->tty = false;
	}
}

/* --- control messages --- */

static int send_msg(struct booth *b, json_t *msg)
{
	int err = msg ? pcl_send_json(b->cl, msg) : -ENOMEM;

	json_decref(msg);
	if (err < 0)
		pcl_warn("cannot send to the relay: %s", strerror(-err));
	return err;
}

static void send_type(struct booth *b, const char *type)
{
	send_msg(b, json_pack("{s:s}", "type", type));
}

static void send_channel(struct booth *b, const char *type, const char *channel)
{
	send_msg(b, json_pack("{s:s, s:s}", "type", type, "channel", channel));
}

static void send_on(struct booth *b, const char *type, bool on)
{
	send_msg(b, json_pack("{s:s, s:b}", "type", type, "on", on));
}

static void set_output(struct booth *b, const char *name)
{
	int idx = channel_index(b, name);

	if (idx < 0 || !strcmp(b->out, name))
		return;
	snprintf(b->out, sizeof(b->out), "%s", name);
	b->out_idx = idx;
}

/* "#12", with " (you)" for this client. */
static const char *who(const struct booth *b, const json_t *v, char *buf, size_t cap)
{
	if (!json_is_integer(v)) {
		snprintf(buf, cap, "-");
		return buf;
	}
	snprintf(buf, cap, "#%lld%s", (long long)json_integer_value(v),
	         b->my_id && (uint64_t)json_integer_value(v) == b->my_id ? "(you)" : "");
	return buf;
}

/* interpretation.state on one line: floor, suggestion, then every booth. */
static void state_summary(const struct booth *b, const json_t *st, char *out, size_t cap)
{
	const json_t *booths = json_object_get(st, "booths"), *bt, *v;
	char floor[NAME_LEN], sugg[NAME_LEN], s[NAME_LEN], w1[48], w2[48];
	size_t used, i, k;

	pcl_str_field(st, "floor_language", floor, sizeof(floor));
	pcl_str_field(st, "suggested_floor", sugg, sizeof(sugg));
	used = (size_t)snprintf(out, cap, "floor=%s suggested=%s", *floor ? floor : "-",
	                        *sugg ? sugg : "-");
	json_array_foreach(booths, i, bt)
	{
		if (used >= cap)
			break;
		used += (size_t)snprintf(out + used, cap - used,
		                         " | %s:", pcl_str_field(bt, "id", s, sizeof(s)));
		json_array_foreach(json_object_get(bt, "channels"), k, v)
		{
			if (used >= cap)
				break;
			used += (size_t)snprintf(out + used, cap - used, "%s%s", k ? "," : " ",
			                         pcl_sanitize(s, sizeof(s), json_string_value(v)));
		}
		if (used >= cap)
			break;
		used += (size_t)snprintf(out + used, cap - used,
		                         " live=%s dir=%s%s%s pending=%s partners=",
		                         who(b, json_object_get(bt, "live"), w1, sizeof(w1)),
		                         *pcl_str_field(bt, "direction", s, sizeof(s)) ? s : "-",
		                         json_is_true(json_object_get(bt, "muted")) ? " MUTED" : "",
		                         json_is_true(json_object_get(bt, "cough")) ? " COUGH" : "",
		                         who(b, json_object_get(bt, "pending"), w2, sizeof(w2)));
		json_array_foreach(json_object_get(bt, "partners"), k, v)
		{
			if (used >= cap)
				break;
			used += (size_t)snprintf(out + used, cap - used, "%s%s", k ? "," : "",
			                         who(b, v, w1, sizeof(w1)));
		}
	}
}

/* The booth in st with id, or the one whose channels include channel (id NULL). */
static const json_t *find_booth(const json_t *st, const char *id, const char *channel)
{
	const json_t *bt, *v;
	size_t i, k;

	json_array_foreach(json_object_get(st, "booths"), i, bt)
	{
		const char *bid = json_string_value(json_object_get(bt, "id"));

		if (id) {
			if (bid && !strcmp(bid, id))
				return bt;
			continue;
		}
		json_array_foreach(json_object_get(bt, "channels"), k, v)
		{
			if (json_is_string(v) && !strcmp(json_string_value(v), channel))
				return bt;
		}
	}
	return NULL;
}

static bool has_partner(const json_t *bt, uint64_t id)
{
	const json_t *v;
	size_t k;

	json_array_foreach(json_object_get(bt, "partners"), k, v)
	{
		if (json_is_integer(v) && (uint64_t)json_integer_value(v) == id)
			return true;
	}
	return false;
}

static void go_live(struct booth *b, bool live)
{
	int64_t now = pcl_mono_ms();

	if (live == b->live)
		return;
	b->live = live;
	if (live) {
		b->live_since_ms = now;
		b->cough = false;
		note(b, "LIVE into '%s'%s", b->out, b->mute ? " (muted)" : "");
	} else {
		b->live_s += (double)(now - b->live_since_ms) / 1000.0;
		b->cough = false;
		b->mute = false;
		note(b, "off air (%.1f s live in all)", b->live_s);
	}
}

static void join_booth(struct booth *b, const char *id)
{
	snprintf(b->booth_id, sizeof(b->booth_id), "%s", id);
	b->join_sent = true;
	b->join_sent_ms = pcl_mono_ms();
	note(b, "joining booth '%s'", b->booth_id);
	send_msg(b, json_pack("{s:s, s:s}", "type", "interpretation.join", "booth", b->booth_id));
}

/* After hello and after every interpretation.state: join, then follow the booth. */
static void follow_state(struct booth *b)
{
	const json_t *bt, *v;
	char dir[NAME_LEN];
	uint64_t id;
	bool live;

	if (!b->hello_ok || !b->state)
		return;
	if (!b->join_sent) {
		bt = find_booth(b->state, NULL, b->out);
		if (!bt) {
			char line[1024];

			state_summary(b, b->state, line, sizeof(line));
			fail(b, 2,
			     "no booth speaks into '%s' (%s): give --booth or another --output",
			     b->out, line);
			return;
		}
		join_booth(b, json_string_value(json_object_get(bt, "id")));
		return;
	}
	bt = find_booth(b->state, b->booth_id, NULL);
	if (!bt)
		return; /* the answer to join, or an error, is on its way */
	if (!b->joined) {
		if (!has_partner(bt, b->my_id) &&
		    !(pcl_id_field(bt, "live", &id) && id == b->my_id))
			return;
		b->joined = true;
		note(b, "in booth '%s' as #%llu", b->booth_id, (unsigned long long)b->my_id);
		/* Speak into one of the booth's own channels, whatever --output said. */
		if (find_booth(b->state, NULL, b->out) != bt) {
			v = json_array_get(json_object_get(bt, "channels"), 0);
			set_output(b, json_is_string(v) ? json_string_value(v) : b->out);
			pcl_warn("'%s' is not a channel of booth '%s': speaking into '%s'",
			         b->opt.output, b->booth_id, b->out);
		}
		send_channel(b, "interpretation.source", b->opt.source);
		if (b->opt.live)
			send_channel(b, "interpretation.claim", b->out);
	}
	live = pcl_id_field(bt, "live", &id) && id == b->my_id;
	if (live && *pcl_str_field(bt, "direction", dir, sizeof(dir)) && strcmp(dir, b->out)) {
		set_output(b, dir);
		if (b->live)
			note(b, "direction: now into '%s'", b->out);
	}
	if (live) {
		bool muted = json_is_true(json_object_get(bt, "muted"));

		/* The relay's word on mute when it changes; the local gate acts at once. */
		if (!b->live || muted != b->relay_muted)
			b->mute = muted;
		b->relay_muted = muted;
	}
	go_live(b, live);
	b->pending_me = pcl_id_field(bt, "pending", &id) && id == b->my_id;
}

static void on_state(struct booth *b, json_t *msg)
{
	char line[1024];

	json_decref(b->state);
	b->state = json_incref(msg);
	state_summary(b, msg, line, sizeof(line));
	if (strcmp(line, b->state_line)) {
		snprintf(b->state_line, sizeof(b->state_line), "%s", line);
		note(b, "state: %s", line);
	}
	follow_state(b);
}

static void on_handover(struct booth *b, const json_t *msg)
{
	char state[NAME_LEN], from[48], to[48];

	pcl_str_field(msg, "state", state, sizeof(state));
	who(b, json_object_get(msg, "from"), from, sizeof(from));
	who(b, json_object_get(msg, "to"), to, sizeof(to));
	note(b, "handover %s: %s -> %s%s", state, from, to,
	     !strcmp(state, "requested") && b->live ? " (type 'accept' or 'decline')" : "");
}

static void on_welcome(struct booth *b, const json_t *msg)
{
	const json_t *chans = json_object_get(json_object_get(msg, "room"), "channels");
	json_int_t proto = json_integer_value(json_object_get(msg, "protocol"));
	const json_t *audio = json_object_get(msg, "audio");
	const json_t *rate = json_object_get(audio, "sample_rate");
	char list[PUENTE_MAX_CHANNELS * (NAME_LEN + 2)];
	const json_t *ch;
	size_t i;

	if (b->welcomed)
		return;
	b->welcomed = true;
	if (proto != PUENTE_PROTO_VERSION) {
		fail(b, 1, "the relay speaks protocol %lld; " PROG " speaks %d", (long long)proto,
		     PUENTE_PROTO_VERSION);
		return;
	}
	if (rate && json_integer_value(rate) != PUENTE_SAMPLE_RATE) {
		fail(b, 1, "the relay's audio is not 48 kHz");
		return;
	}
	if (!pcl_id_field(msg, "client", &b->my_id)) {
		fail(b, 1, "the relay's core.welcome has no client id");
		return;
	}
	json_array_foreach(chans, i, ch)
	{
		if (b->n_channels == PUENTE_MAX_CHANNELS)
			break;
		pcl_str_field(ch, "name", b->channels[b->n_channels], NAME_LEN);
		b->n_channels++;
	}
	channel_list(b, list, sizeof(list));
	b->out_idx = channel_index(b, b->opt.output);
	if (b->out_idx < 0) {
		fail(b, 2, "the relay has no channel '%s'; its channels: %s", b->opt.output, list);
		return;
	}
	if (channel_index(b, b->opt.source) < 0) {
		fail(b, 2, "the relay has no channel '%s' to hear; its channels: %s", b->opt.source,
		     list);
		return;
	}
	snprintf(b->out, sizeof(b->out), "%s", b->opt.output);
	b->hello_sent_ms = pcl_mono_ms();
	send_msg(b, json_pack("{s:s, s:s, s:s}", "type", "core.hello", "role", "interpreter",
	                      "agent", AGENT));
}

static void on_hello(struct booth *b, const json_t *msg)
{
	char role[NAME_LEN];

	if (b->hello_ok)
		return;
	if (strcmp(pcl_str_field(msg, "role", role, sizeof(role)), "interpreter")) {
		fail(b, 1, "the relay granted role '%s', not interpreter", role);
		return;
	}
	b->hello_ok = true;
	note(b, "connected as interpreter #%llu", (unsigned long long)b->my_id);
	if (b->opt.booth && !b->join_sent)
		join_booth(b, b->opt.booth);
	follow_state(b);
}

static void on_relay_error(struct booth *b, const json_t *msg)
{
	char code[NAME_LEN], text[256], ref[NAME_LEN];

	b->refused++;
	pcl_str_field(msg, "code", code, sizeof(code));
	pcl_str_field(msg, "message", text, sizeof(text));
	pcl_str_field(msg, "ref", ref, sizeof(ref));
	if (!strcmp(ref, "core.hello")) {
		fail(b, 1, "the relay refused the interpreter role: %s: %s", code, text);
	} else if (!strcmp(ref, "interpretation.join") || !strcmp(code, "unknown_type")) {
		if (!strcmp(code, "unknown_type") && !b->joined)
			fail(b, 1,
			     "the relay does not know %s: is the interpretation plugin "
			     "loaded?",
			     *ref ? ref : "interpretation.*");
		else if (!b->joined && !strcmp(code, "bad_field"))
			fail(b, 2, "the relay has no booth '%s': %s", b->booth_id, text);
		else if (!b->joined)
			fail(b, 1, "the relay refused to let this client join booth '%s': %s: %s",
			     b->booth_id, code, text);
		else
			pcl_warn("refused: %s on %s: %s", code, ref, text);
	} else {
		pcl_warn("refused: %s%s%s: %s", code, *ref ? " on " : "", ref, text);
	}
}

static void on_json(void *user, const char *type, json_t *msg)
{
	struct booth *b = user;
	char s1[NAME_LEN], s2[256];

	if (!strcmp(type, "core.welcome")) {
		on_welcome(b, msg);
	} else if (!strcmp(type, "core.hello")) {
		on_hello(b, msg);
	} else if (!strcmp(type, "interpretation.state")) {
		on_state(b, msg);
	} else if (!strcmp(type, "interpretation.handover")) {
		on_handover(b, msg);
	} else if (!strcmp(type, "core.subscribed")) {
		note(b, "hearing '%s'", pcl_str_field(msg, "channel", s1, sizeof(s1)));
	} else if (!strcmp(type, "core.unsubscribed")) {
		note(b, "hearing nothing");
	} else if (!strcmp(type, "core.source")) {
		note(b, "room source %s: %s", pcl_str_field(msg, "state", s1, sizeof(s1)),
		     pcl_str_field(msg, "detail", s2, sizeof(s2)));
	} else if (!strcmp(type, "core.error")) {
		on_relay_error(b, msg);
	}
	/* core.clock, interpretation.listening and other plugins' messages: not ours. */
}

/* --- audio --- */

static void on_audio(void *user, const struct pcl_audio *a)
{
	struct booth *b = user;
	opus_int16 pcm[PCL_MAX_PACKET_SAMPLES];
	int n;

	b->rx_packets++;
	if (!b->player)
		return;
	if (a->hdr.channel != b->rx_chan || (a->hdr.flags & PUENTE_FLAG_DISCONT)) {
		opus_decoder_ctl(b->dec, OPUS_RESET_STATE);
		b->rx_chan = a->hdr.channel;
	}
	n = opus_decode(b->dec, a->payload, (opus_int32)a->len, pcm, PCL_MAX_PACKET_SAMPLES, 0);
	/* A full ring drops the block; puente_spsc counts it. */
	if (n > 0)
		pcl_player_write(b->player, pcm, (uint32_t)n);
}

/* Sends or holds back every packet the encoder made. */
static void drain_packets(struct booth *b)
{
	static struct enc_packet pkt;
	uint32_t over = atomic_load_explicit(&b->enc.ring.overruns, memory_order_relaxed);

	/* Packets the encoder could not hand over (this thread stalled) are lost too. */
	if (over != b->ring_overruns && (b->live || b->pending_me))
		b->skipped = true;
	b->ring_overruns = over;
	while (puente_spsc_fill(&b->enc.ring)) {
		bool speak = (b->live || b->pending_me) && !b->mute && !b->cough;
		struct puente_header h = {
		    .version = PUENTE_PROTO_VERSION,
		    .kind = PUENTE_KIND_OPUS,
		    .channel = (uint8_t)b->out_idx,
		};
		int err;

		puente_spsc_read(&b->enc.ring, &pkt, 1);
		if (!speak || b->closing) {
			b->held++;
			continue;
		}
		/*
		 * DISCONT only for speech this console lost on its way out. A pause
		 * (not live, muted) is the relay's to see: the plugin passes the flag
		 * on to listeners, and a handover must not show them one.
		 */
		h.flags = b->skipped ? PUENTE_FLAG_DISCONT : 0;
		h.seq = b->tx_seq;
		h.media_time = pkt.media_time;
		err = pcl_send_audio(b->cl, &h, pkt.data, pkt.len);
		if (err == 0) {
			b->tx_seq++;
			b->sent++;
			b->skipped = false;
		} else {
			b->net_full++;
			b->skipped = true;
		}
	}
}

/* --- commands --- */

static void print_help(void)
{
	fputs("commands: live | release | mute | unmute | cough (toggle) | direction CHANNEL |\n"
	      "          handover (request) | accept | decline | source CHANNEL | quit\n",
	      stderr);
}

static void run_command(struct booth *b, char *line)
{
	char *cmd = strtok(line, " \t"), *arg = strtok(NULL, " \t"), *extra = strtok(NULL, " \t");
	bool needs_arg;

	if (!cmd)
		return;
	if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
		b->quit = true;
		return;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "?")) {
		print_help();
		return;
	}
	needs_arg = !strcmp(cmd, "direction") || !strcmp(cmd, "source");
	if (needs_arg ? !arg || extra : arg != NULL) {
		pcl_warn("'%s' takes %s", cmd, needs_arg ? "one channel name" : "no argument");
		return;
	}
	if (!strcmp(cmd, "live")) {
		send_channel(b, "interpretation.claim", b->out);
	} else if (!strcmp(cmd, "release")) {
		send_type(b, "interpretation.release");
	} else if (!strcmp(cmd, "mute") || !strcmp(cmd, "unmute") || !strcmp(cmd, "mute-toggle")) {
		bool on = !strcmp(cmd, "mute") || (!strcmp(cmd, "mute-toggle") && !b->mute);

		b->mute = on;
		note(b, "%s", on ? "muted" : "unmuted");
		send_on(b, "interpretation.mute", on);
	} else if (!strcmp(cmd, "cough")) {
		b->cough = !b->cough;
		note(b, "cough %s", b->cough ? "ON (silent)" : "off");
		send_on(b, "interpretation.cough", b->cough);
	} else if (!strcmp(cmd, "direction")) {
		if (channel_index(b, arg) < 0) {
			pcl_warn("no channel '%s'", arg);
		} else if (b->live) {
			send_channel(b, "interpretation.direction", arg);
		} else {
			set_output(b, arg);
			note(b, "output is now '%s' (not live: 'live' claims it)", b->out);
		}
	} else if (!strcmp(cmd, "handover")) {
		send_type(b, "interpretation.handover.request");
	} else if (!strcmp(cmd, "accept")) {
		send_type(b, "interpretation.handover.accept");
	} else if (!strcmp(cmd, "decline")) {
		send_type(b, "interpretation.handover.decline");
	} else if (!strcmp(cmd, "source")) {
		if (channel_index(b, arg) < 0)
			pcl_warn("no channel '%s'", arg);
		else
			send_channel(b, "interpretation.source", arg);
	} else {
		pcl_warn("unknown command '%s'", cmd);
		print_help();
	}
}

/* --- connection --- */

static void on_open(void *user)
{
	struct booth *b = user;

	b->opened = true;
	b->opened_ms = pcl_mono_ms();
	note(b, "connected to %s", b->opt.target.url);
}

static void on_closed(void *user, int code, const char *reason)
{
	struct booth *b = user;

	if (!b->opened)
		fail(b, 1, "cannot connect to %s: %s", b->opt.target.url, reason);
	else if (!b->closing)
		fail(b, 1, "the relay closed the connection: %d %s", code, reason);
}

/* Answers that never came. */
static void check_deadlines(struct booth *b, int64_t now)
{
	if (b->opened && !b->welcomed && now - b->opened_ms > WELCOME_TIMEOUT_MS)
		fail(b, 1, "no core.welcome from %s: is it a puente relay?", b->opt.target.url);
	else if (b->welcomed && !b->hello_ok && now - b->hello_sent_ms > ANSWER_TIMEOUT_MS)
		fail(b, 1, "no answer to core.hello within %d s", ANSWER_TIMEOUT_MS / 1000);
	else if (b->hello_ok && !b->join_sent && now - b->hello_sent_ms > ANSWER_TIMEOUT_MS)
		fail(b, 1,
		     "no interpretation.state within %d s: is the interpretation plugin "
		     "loaded? (--booth ID skips the wait)",
		     ANSWER_TIMEOUT_MS / 1000);
	else if (b->join_sent && !b->joined && now - b->join_sent_ms > ANSWER_TIMEOUT_MS)
		fail(b, 1, "booth '%s' did not list this client (#%llu) within %d s", b->booth_id,
		     (unsigned long long)b->my_id, ANSWER_TIMEOUT_MS / 1000);
}

static void run(struct booth *b)
{
	int64_t start = pcl_mono_ms();
	int64_t end = b->opt.seconds ? start + (int64_t)(b->opt.seconds * 1000) : INT64_MAX;
	char line[CMD_LEN];
	int err;

	while (!pcl_stop && !b->fatal && !b->quit) {
		int64_t now = pcl_mono_ms();

		if (now >= end)
			break;
		check_deadlines(b, now);
		err = atomic_load_explicit(&b->enc.read_error, memory_order_acquire);
		if (err)
			fail(b, 1, "cannot read %s: %s", b->opt.input_file, strerror(err));
		if (b->fatal)
			break;
		while (!b->quit && cmd_pop(b, line))
			run_command(b, line);
		drain_packets(b);
		if (pcl_run_for(b->cl, (uint32_t)(end - now < SLICE_MS ? end - now : SLICE_MS)) < 0)
			break;
	}
	b->closing = true;
	encoder_stop(&b->enc);
	/* Off the air at once: the channel falls back now, not when the socket closes. */
	if (b->live && !b->fatal)
		send_type(b, "interpretation.release");
	pcl_close_wait(b->cl, CLOSE_WAIT_MS, SLICE_MS);
	go_live(b, false);
}

static void report(struct booth *b)
{
	uint64_t ring_full = 0, capture_over = 0, late = 0, enc_err = 0, cmd_drop = 0;
	uint32_t underruns = 0, play_over = 0;

	ring_full = atomic_load_explicit(&b->enc.ring.overruns, memory_order_relaxed);
	late = atomic_load_explicit(&b->enc.late, memory_order_relaxed);
	enc_err = atomic_load_explicit(&b->enc.encode_errors, memory_order_relaxed);
	if (b->enc.cap)
		capture_over =
		    atomic_load_explicit(&b->enc.cap->ring.overruns, memory_order_relaxed);
	if (b->player) {
		underruns = pcl_player_underruns(b->player);
		play_over = pcl_player_overruns(b->player);
	}
	pthread_mutex_lock(&b->cmds.lock);
	cmd_drop = b->cmds.dropped;
	pthread_mutex_unlock(&b->cmds.lock);
	if (b->opened)
		note(b, "held back (not live, muted or coughing): %llu packets; heard %llu packets",
		     (unsigned long long)b->held, (unsigned long long)b->rx_packets);
	/* Nothing is dropped silently, --quiet or not. */
	if (b->net_full || ring_full || capture_over || late || enc_err || cmd_drop || underruns ||
	    play_over)
		pcl_warn("losses: network_full=%llu packet_ring_full=%llu capture_overruns=%llu "
		         "file_late_restarts=%llu encode_errors=%llu commands_dropped=%llu "
		         "play_underruns=%u play_overruns=%u",
		         (unsigned long long)b->net_full, (unsigned long long)ring_full,
		         (unsigned long long)capture_over, (unsigned long long)late,
		         (unsigned long long)enc_err, (unsigned long long)cmd_drop, underruns,
		         play_over);
	printf("sent=%llu refused=%llu live_s=%.1f channel=%s\n", (unsigned long long)b->sent,
	       (unsigned long long)b->refused, b->live_s, *b->out ? b->out : b->opt.output);
	fflush(stdout);
}

/* --- command line --- */

#define SYNOPSIS                                                                                   \
	"Usage: " PROG " [--url URL|LINK] [--token TOKEN | --token-file FILE]\n"                   \
	"                    --output CHANNEL (--input DEVICE | --input-file FILE.wav)\n"          \
	"                    [--booth ID] [--source floor|CHANNEL] [--live] [--play [DEVICE]]\n"   \
	"                    [--seconds N] [--quiet] [--help] [--version]\n"

static void usage(FILE *f)
{
	fputs(SYNOPSIS
	      "\n"
	      "An interpreter's console for a puente relay with the interpretation plugin:\n"
	      "join a booth, hear the floor (or another booth), and speak into the booth's\n"
	      "channel from a microphone or a WAV file, encoded with Opus (mono, 48 kHz,\n"
	      "20 ms, 32 kbit/s, in-band FEC).\n"
	      "\n"
	      "Options:\n"
	      "  --url URL          relay endpoint (default " PCL_DEFAULT_URL "), or an\n"
	      "                     interpreter's personal link,\n"
	      "                     http://HOST:PORT/interpretation/#t=TOKEN: the tool\n"
	      "                     takes its token and connects to ws://HOST:PORT/ws\n"
	      "  --token TOKEN      the token of a personal link (what follows #t=);\n"
	      "                     without it, from --token-file, the --url link or the\n"
	      "                     environment variable PUENTE_TOKEN, in that order\n"
	      "  --token-file F     read the token from the first line of file F (keeps\n"
	      "                     it out of the process list and the shell history)\n"
	      "  --output CHANNEL   the channel to interpret into, e.g. en (required)\n"
	      "  --input DEVICE     speak from this microphone: 'default', a PortAudio\n"
	      "                     device index, or part of a device name\n"
	      "  --input-file FILE  speak from a WAV file (48 kHz; stereo is mixed down),\n"
	      "                     looped and paced in real time; one of --input and\n"
	      "                     --input-file is required\n"
	      "  --booth ID         the booth to join, e.g. es-en (default: the booth whose\n"
	      "                     channels include --output, from interpretation.state)\n"
	      "  --source CHANNEL   what to hear: floor (default) or another booth's\n"
	      "                     channel (relay interpretation)\n"
	      "  --live             go live into --output as soon as the booth is joined\n"
	      "  --play [DEVICE]    play the source on an audio output: the default one, or\n"
	      "                     DEVICE (index or name part; --play=DEVICE if it starts\n"
	      "                     with '-'); without --play the source is not played\n"
	      "  --seconds N        stop after N seconds (default: until 'quit' or Ctrl-C)\n"
	      "  --quiet            only errors, losses and the summary on stderr/stdout\n"
	      "  --help             show this help and exit\n"
	      "  --version          show the version and exit\n"
	      "\n"
	      "Commands, one per line on standard input:\n"
	      "  live               go live into the output channel (if nobody in the booth is)\n"
	      "  release            stop being live; the channel falls back\n"
	      "  mute, unmute       nothing is sent while muted\n"
	      "  cough              toggle a momentary mute (the cough key)\n"
	      "  direction CHANNEL  speak into the booth's other channel (when live: switched\n"
	      "                     by the relay at the next packet; else for the next 'live')\n"
	      "  handover           ask the live partner to hand over; you are on air without\n"
	      "                     a gap when they accept (the console streams while the\n"
	      "                     request is pending; the relay drops that until the swap)\n"
	      "  accept, decline    answer a partner's handover request\n"
	      "  source CHANNEL     hear another channel\n"
	      "  quit               end (releasing the channel if live)\n"
	      "Commands given before the booth is joined wait for the join.\n"
	      "On a terminal single keys work too: l live, r release, m mute/unmute, c cough,\n"
	      "h handover, a accept, d decline, q quit, ? help; ':' types a command line\n"
	      "(e.g. ':direction es', Enter). The end of standard input ends the commands,\n"
	      "not the run.\n"
	      "\n"
	      "Every state change (the booth's state on one line, handovers, refusals) is\n"
	      "printed on stderr. At the end one summary line goes to standard output:\n"
	      "  sent=N refused=N live_s=X channel=C\n"
	      "    sent      audio packets sent to the relay\n"
	      "    refused   requests the relay refused (core.error answers)\n"
	      "    live_s    seconds this console was live\n"
	      "    channel   the channel it spoke into last\n"
	      "\n" PCL_HELP_LINKS "\n"
	      "Examples:\n"
	      "  " PROG " --output en --input default --play --live\n"
	      "  " PROG " --url ws://192.0.2.10:8080/ws --output es --input-file es.wav "
	      "--seconds 60\n"
	      "\n"
	      "Exit status: 0 on a normal end (quit, --seconds, Ctrl-C); 1 if the connection,\n"
	      "the device or the file failed, or the relay refused the role or the booth;\n"
	      "2 on bad usage, or a channel or booth the relay does not have.\n",
	      f);
}

#define bad_usage(...) pcl_bad_usage(SYNOPSIS, __VA_ARGS__)

/* Returns -1 to go on, or an exit status (help, version, bad usage). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_URL = 256,
		OPT_TOKEN,
		OPT_TOKEN_FILE,
		OPT_OUTPUT,
		OPT_INPUT,
		OPT_INPUT_FILE,
		OPT_BOOTH,
		OPT_SOURCE,
		OPT_LIVE,
		OPT_PLAY,
		OPT_SECONDS,
		OPT_QUIET,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, OPT_URL},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"output", required_argument, NULL, OPT_OUTPUT},
	    {"input", required_argument, NULL, OPT_INPUT},
	    {"input-file", required_argument, NULL, OPT_INPUT_FILE},
	    {"booth", required_argument, NULL, OPT_BOOTH},
	    {"source", required_argument, NULL, OPT_SOURCE},
	    {"live", no_argument, NULL, OPT_LIVE},
	    {"play", optional_argument, NULL, OPT_PLAY},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"quiet", no_argument, NULL, OPT_QUIET},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	int c;

	*o = (struct options){.url = PCL_DEFAULT_URL, .source = "floor"};
	opterr = 0;
	/* '+': no argument permutation, so "--play DEVICE" can take the next word. */
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_TOKEN:
			o->token = optarg;
			break;
		case OPT_TOKEN_FILE:
			o->token_file = optarg;
			break;
		case OPT_OUTPUT:
		case OPT_BOOTH:
		case OPT_SOURCE:
			/* Names go into messages and the summary line, split on spaces. */
			if (!pcl_valid_name(optarg, NAME_LEN))
				return bad_usage("bad %s '%s': 1 to 63 characters, no spaces or "
				                 "control characters",
				                 argv[optind - 1], optarg);
			*(c == OPT_OUTPUT  ? &o->output
			  : c == OPT_BOOTH ? &o->booth
			                   : &o->source) = optarg;
			break;
		case OPT_INPUT:
			o->input = optarg;
			break;
		case OPT_INPUT_FILE:
			o->input_file = optarg;
			break;
		case OPT_LIVE:
			o->live = true;
			break;
		case OPT_PLAY:
			o->play = true;
			o->play_device = pcl_optional_value(argc, argv);
			break;
		case OPT_SECONDS:
			if (!pcl_parse_seconds(optarg, MAX_SECONDS, &o->seconds))
				return bad_usage("bad --seconds '%s': a number of seconds above 0",
				                 optarg);
			break;
		case OPT_QUIET:
			o->quiet = true;
			break;
		default:
			return pcl_common_option(c, c == OPT_VERSION, argv, SYNOPSIS, usage,
			                         PUENTE_VERSION);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!o->output)
		return bad_usage("--output CHANNEL is required");
	if (!o->input == !o->input_file)
		return bad_usage("give exactly one of --input DEVICE and --input-file FILE");
	return pcl_target_option(&o->target, o->url, o->token, o->token_file, SYNOPSIS);
}

/* --- main --- */

int main(int argc, char **argv)
{
	static const struct pcl_callbacks cb = {
	    .open = on_open,
	    .json = on_json,
	    .audio = on_audio,
	    .closed = on_closed,
	};
	static struct booth b; /* static: large, and zeroed */
	int status, err;

	pcl_set_prog(PROG);
	status = parse_args(argc, argv, &b.opt);
	if (status >= 0)
		return status;
	b.rx_chan = -1;
	b.out_idx = -1;
	pthread_mutex_init(&b.cmds.lock, NULL);
	pcl_catch_signals();

	b.dec = opus_decoder_create(PUENTE_SAMPLE_RATE, 1, &err);
	if (!b.dec) {
		fprintf(stderr, PROG ": cannot create the Opus decoder: %s\n", opus_strerror(err));
		return 1;
	}
	encoder_init(&b);
	if (!b.fatal && b.opt.play)
		play_open(&b);
	if (!b.fatal) {
		b.cl = pcl_create(b.opt.target.connect, &cb, &b, &err);
		if (!b.cl)
			fail(&b, 1, "cannot start a client for %s: %s", b.opt.target.url,
			     strerror(-err));
	}
	if (b.cl && encoder_start(&b) == 0) {
		stdin_start(&b);
		run(&b);
	}
	encoder_stop(&b.enc);
	stdin_stop(&b.in);
	/* Every run past the command line reports, so scripts always get a line. */
	report(&b);
	status = b.fatal;
	pa_close(&b, status);
	pcl_destroy(b.cl);
	encoder_fini(&b.enc);
	opus_decoder_destroy(b.dec);
	json_decref(b.state);
	pthread_mutex_destroy(&b.cmds.lock);
	return status;
}
