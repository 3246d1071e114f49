/*
 * puente-bench: a load client for the relay. N simulated listeners in one
 * process (raw non-blocking sockets, epoll, one thread, a hand-written
 * WebSocket client as in PERFORMANCE.md's ws_load), each doing what a
 * listener page does: upgrade with puente.v1, wait for core.welcome, send
 * core.subscribe (after a core.hello asking for a bundle size with
 * --bundle), keep the room-clock anchor of core.subscribed and core.clock,
 * then count the audio packets, each packet of a bundle on its own with the
 * bundle's arrival time. Over a measuring window (after
 * every listener joined and a warm-up) it accounts delay, gaps and
 * discontinuities per packet, and samples the relay's CPU and RSS from
 * /proc. One key=value summary line on stdout; optionally a CSV row.
 *
 * Loopback only: each socket is bound to 127.0.0.(2 + i % 250) so that the
 * relay's per-address caps (20 WebSockets, 8 handshakes) do not refuse it.
 *
 * Exit status: 0 when every listener joined and received packets in the
 * window, 1 otherwise, 2 for bad usage. One thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <puente/protocol.h>

#include "bench/hist.h"
#include "bench/http_listener.h"
#include "bench/relayproc.h"
#include "bench/wsframe.h"
#include "client/pcl.h"
#include "client/toolkit.h"

#define PROG  "puente-bench"
#define AGENT PROG "/" PUENTE_VERSION

#define MAX_LISTENERS   20000
#define MAX_SECONDS     600.0
#define MAX_WARMUP      60.0
#define MAX_JOIN_RATE   100000.0
#define SRC_ADDRS       250  /* 127.0.0.2 .. 127.0.0.251 */
#define RELAY_CONN_CAP  20   /* the relay's default max_conns_per_address */
#define PENDING_PER_SRC 4    /* our handshakes in flight per source address (relay caps 8) */
#define STARTS_PER_TURN 512  /* connect() calls per loop turn: epoll stays serviced */
#define JOIN_GRACE_S    30   /* after the last connect(), how long joining may take */
#define FD_SPARE        32   /* descriptors besides the listeners' */
#define TX_CAP          1024 /* a listener's pending output: the upgrade, pongs, hello, subscribe */
#define SCRATCH_CAP     (256u << 10)
#define READS_PER_EVENT 8
#define MAX_PAYLOAD     (64u << 10) /* relay messages are at most 16 KiB (README) */
#define HTTP_HEAD_MAX   4096
#define EVENTS_MAX      1024
#define TURN_MS         10
#define MAX_CHANNELS    PUENTE_MAX_CHANNELS
#define CHANNEL_LEN     64
#define DELAY_BUCKET_US 10      /* 10 µs buckets ... */
#define DELAY_BUCKETS   1000000 /* ... up to 10 s */
#define JOIN_BUCKET_US  100     /* 0.1 ms buckets ... */
#define JOIN_BUCKETS    1200000 /* ... up to 120 s */
/* The key in RFC 6455's example: the relay's answer is checked against its accept value. */
#define WS_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

enum cstate {
	C_IDLE, /* not started */
	C_CONNECTING,
	C_UPGRADING,
	C_WELCOME, /* upgraded, waiting for core.welcome */
	C_SUBSCRIBING,
	C_SUBSCRIBED,
	C_DONE, /* failed or closed */
};

struct conn {
	int fd;
	enum cstate state;
	uint16_t src;  /* source address index */
	uint16_t chan; /* index into opt.channels */
	bool joined, have_seq;
	uint8_t frag_op;
	uint32_t last_seq;
	uint32_t frame_samples;
	int64_t start_us; /* monotonic, at connect() */
	uint64_t window_packets;
	struct pcl_clock clock;
	unsigned char *keep; /* bytes of an incomplete frame, carried to the next read */
	size_t keep_len;
	unsigned char *frag; /* a fragmented message being assembled */
	size_t frag_len;
	unsigned char tx[TX_CAP];
	size_t tx_len, tx_off;
};

struct options {
	const char *url, *token, *csv, *http;
	struct pcl_url u;
	int listeners;
	double seconds, warmup, join_rate; /* join_rate 0: as fast as connect() allows */
	double expect_bps;                 /* --http: 0 means measured first */
	int bundle;                        /* --bundle; PCL_BUNDLE_UNSET: no core.hello */
	pid_t pid;
	char channels[MAX_CHANNELS][CHANNEL_LEN];
	int n_channels;
};

struct bench {
	struct options opt;
	bool v6; /* ::1: one source address only */
	char request[TX_CAP];
	size_t request_len;
	char *hello; /* core.hello with --bundle, else NULL */
	int ep;
	struct conn *c;
	int started;
	int pending[SRC_ADDRS];
	bool measuring;
	int joined, failed, dropped;
	uint64_t packets, gaps, discont, bad_audio;
	struct bench_hist delay, join;
	char first_error[160];
	unsigned char scratch[SCRATCH_CAP];
};

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- connections --- */

static void remember_error(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void remember_error(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	if (b->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(b->first_error, sizeof(b->first_error), fmt, ap);
	va_end(ap);
}

/* Ends a listener: before it joined it failed, after it was dropped. */
static void conn_end(struct bench *b, struct conn *c)
{
	if (c->state == C_DONE)
		return;
	if (c->state >= C_CONNECTING && c->state <= C_WELCOME)
		b->pending[c->src]--;
	if (c->joined)
		b->dropped++;
	else
		b->failed++;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->keep);
	free(c->frag);
	c->keep = c->frag = NULL;
	c->keep_len = c->frag_len = 0;
	c->state = C_DONE;
}

static void conn_fail(struct bench *b, struct conn *c, const char *what)
{
	remember_error(b, "%s", what);
	conn_end(b, c);
}

/* Writes what is pending; asks for EPOLLOUT only while something is. */
static void conn_flush(struct bench *b, struct conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	while (c->tx_off < c->tx_len) {
		ssize_t n = write(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_fail(b, c, "write failed");
			return;
		}
		c->tx_off += (size_t)n;
	}
	if (c->tx_off == c->tx_len)
		c->tx_off = c->tx_len = 0;
	ev.events = EPOLLIN | (c->tx_len ? EPOLLOUT : 0);
	epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_send(struct bench *b, struct conn *c, uint8_t op, const void *p, size_t len)
{
	size_t n =
	    bench_ws_build(c->tx + c->tx_len, TX_CAP - c->tx_len, op, p, len, (uint32_t)rand());

	if (!n) {
		conn_fail(b, c, "output buffer full");
		return;
	}
	c->tx_len += n;
	conn_flush(b, c);
}

static void conn_start(struct bench *b, struct conn *c, int i)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	struct sockaddr_storage dst = {0};
	socklen_t dlen;
	int one = 1;

	c->src = (uint16_t)(b->v6 ? 0 : i % SRC_ADDRS);
	c->chan = (uint16_t)(i % b->opt.n_channels);
	c->start_us = pcl_mono_us();
	c->state = C_CONNECTING;
	b->pending[c->src]++;
	c->fd = socket(b->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		remember_error(b, "socket: %s", strerror(errno));
		conn_end(b, c);
		return;
	}
	if (b->v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&dst;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(b->opt.u.port);
		dlen = sizeof(*a);
	} else {
		struct sockaddr_in src = {.sin_family = AF_INET};
		struct sockaddr_in *a = (struct sockaddr_in *)&dst;

		src.sin_addr.s_addr = htonl(0x7F000002u + c->src);
		/* The port is chosen at connect(), per destination: 250 addresses
		 * do not each use up a port of the one ephemeral range. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			remember_error(b, "bind 127.0.0.%u: %s", 2u + c->src, strerror(errno));
			conn_end(b, c);
			return;
		}
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(b->opt.u.port);
		dlen = sizeof(*a);
	}
	if (connect(c->fd, (struct sockaddr *)&dst, dlen) < 0 && errno != EINPROGRESS) {
		remember_error(b, "connect: %s", strerror(errno));
		conn_end(b, c);
		return;
	}
	if (epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		remember_error(b, "epoll: %s", strerror(errno));
		conn_end(b, c);
	}
}

static void on_connected(struct bench *b, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		remember_error(b, "connect: %s", strerror(err ? err : errno));
		conn_end(b, c);
		return;
	}
	memcpy(c->tx, b->request, b->request_len);
	c->tx_len = b->request_len;
	c->state = C_UPGRADING;
	conn_flush(b, c);
}

static void on_text(struct bench *b, struct conn *c, const unsigned char *p, size_t len)
{
	json_t *m = json_loadb((const char *)p, len, 0, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));
	struct pcl_clock clock;

	if (!type) {
		conn_fail(b, c, "a text message that is not a puente JSON message");
	} else if (!strcmp(type, "core.welcome") && c->state == C_WELCOME) {
		json_t *fm = json_object_get(json_object_get(m, "audio"), "frame_ms");
		json_t *sub = json_pack("{s:s, s:s}", "type", "core.subscribe", "channel",
		                        b->opt.channels[c->chan]);
		char *text = json_dumps(sub, JSON_COMPACT);

		if (!json_is_integer(fm) || json_integer_value(fm) < 1 ||
		    json_integer_value(fm) > 120 || !text) {
			conn_fail(b, c, "core.welcome without a valid audio.frame_ms");
		} else {
			c->frame_samples =
			    (uint32_t)json_integer_value(fm) * (PUENTE_SAMPLE_RATE / 1000);
			b->pending[c->src]--;
			c->state = C_SUBSCRIBING;
			if (b->hello)
				conn_send(b, c, BENCH_WS_TEXT, b->hello, strlen(b->hello));
			if (c->state != C_DONE)
				conn_send(b, c, BENCH_WS_TEXT, text, strlen(text));
		}
		free(text);
		json_decref(sub);
	} else if (!strcmp(type, "core.subscribed") && c->state == C_SUBSCRIBING) {
		if (pcl_clock_parse(json_object_get(m, "clock"), &c->clock) < 0) {
			conn_fail(b, c, "core.subscribed without a clock anchor");
		} else {
			c->state = C_SUBSCRIBED;
		}
	} else if (!strcmp(type, "core.clock")) {
		if (pcl_clock_parse(m, &clock) == 0)
			c->clock = clock;
	} else if (!strcmp(type, "core.error")) {
		char code[64], msg[96];

		remember_error(b, "core.error %s: %s", pcl_str_field(m, "code", code, sizeof(code)),
		               pcl_str_field(m, "message", msg, sizeof(msg)));
		conn_end(b, c);
	}
	json_decref(m);
}

/* One packet, a bundle's or a message of its own. */
static void on_audio(struct bench *b, struct conn *c, const unsigned char *p, size_t len,
                     int64_t arrival)
{
	struct puente_header h;

	if (c->state != C_SUBSCRIBED || puente_header_parse(p, len, &h) < 0 ||
	    len == PUENTE_HEADER_LEN) {
		b->bad_audio++;
		return;
	}
	if (!c->joined) {
		c->joined = true;
		b->joined++;
		bench_hist_add(&b->join, pcl_mono_us() - c->start_us);
	}
	/* Continuity is followed all along so that the window's first packet is judged too. */
	if (c->have_seq && b->measuring) {
		if (h.flags & PUENTE_FLAG_DISCONT)
			b->discont++;
		else if (h.seq != c->last_seq + 1)
			b->gaps++;
	}
	c->last_seq = h.seq;
	c->have_seq = true;
	if (b->measuring) {
		b->packets++;
		c->window_packets++;
		bench_hist_add(&b->delay,
		               pcl_delay_us(&c->clock, h.media_time, c->frame_samples, arrival));
	}
}

/*
 * One binary message: a bundle's packets one by one, all with the bundle's
 * arrival time. Anything else, a malformed bundle included, goes whole to
 * on_audio, which refuses what is not a packet: one bad message, one bad_audio.
 */
static void on_binary(struct bench *b, struct conn *c, const unsigned char *p, size_t len,
                      int64_t arrival)
{
	const unsigned char *pkt;
	size_t off = 0, pkt_len;

	if (puente_bundle_check(p, len) < 0) {
		on_audio(b, c, p, len, arrival);
		return;
	}
	while (puente_bundle_next(p, len, &off, &pkt, &pkt_len) == 1)
		on_audio(b, c, pkt, pkt_len, arrival);
}

/* One complete frame. Returns false when the connection ended. */
static bool on_frame(struct bench *b, struct conn *c, const struct bench_ws_frame *f,
                     const unsigned char *p, int64_t arrival)
{
	size_t len = (size_t)f->len;

	switch (f->op) {
	case BENCH_WS_PING:
		conn_send(b, c, BENCH_WS_PONG, p, len);
		return c->state != C_DONE;
	case BENCH_WS_PONG:
		return true;
	case BENCH_WS_CLOSE: {
		char what[64];

		/* Echo the code, as RFC 6455 asks, then hang up: nothing more will come. */
		conn_send(b, c, BENCH_WS_CLOSE, p, len >= 2 ? 2 : 0);
		snprintf(what, sizeof(what), "closed by the relay with code %d",
		         len >= 2 ? p[0] << 8 | p[1] : 1005);
		if (c->state != C_DONE)
			conn_fail(b, c, what);
		return false;
	}
	case BENCH_WS_TEXT:
	case BENCH_WS_BINARY:
	case BENCH_WS_CONT:
		break;
	default:
		conn_fail(b, c, "a frame with an unknown opcode");
		return false;
	}
	if (f->op != BENCH_WS_CONT && c->frag) {
		conn_fail(b, c, "a new message inside a fragmented one");
		return false;
	}
	if (f->op == BENCH_WS_CONT || !f->fin) {
		unsigned char *n;

		if (f->op == BENCH_WS_CONT && !c->frag) {
			conn_fail(b, c, "a continuation frame out of place");
			return false;
		}
		if (c->frag_len + len > MAX_PAYLOAD ||
		    !(n = realloc(c->frag, c->frag_len + len + 1))) {
			conn_fail(b, c, "a fragmented message too large");
			return false;
		}
		if (f->op != BENCH_WS_CONT)
			c->frag_op = f->op;
		memcpy(n + c->frag_len, p, len);
		c->frag = n;
		c->frag_len += len;
		if (!f->fin)
			return true;
		p = c->frag;
		len = c->frag_len;
	}
	if ((f->op == BENCH_WS_CONT ? c->frag_op : f->op) == BENCH_WS_TEXT)
		on_text(b, c, p, len);
	else
		on_binary(b, c, p, len, arrival);
	if (f->op == BENCH_WS_CONT && c->state != C_DONE) {
		free(c->frag);
		c->frag = NULL;
		c->frag_len = 0;
	}
	return c->state != C_DONE;
}

/* The relay's answer to the upgrade. Returns the bytes it took, 0 for more, -1 when over. */
static long on_http(struct bench *b, struct conn *c, const unsigned char *p, size_t len)
{
	const unsigned char *end = NULL;
	int status = 0;

	for (size_t i = 3; i < len && !end; i++)
		if (!memcmp(p + i - 3, "\r\n\r\n", 4))
			end = p + i + 1;
	if (!end) {
		if (len < HTTP_HEAD_MAX)
			return 0;
		conn_fail(b, c, "an HTTP answer too long");
		return -1;
	}
	if (sscanf((const char *)p, "HTTP/1.1 %d", &status) != 1 || status != 101) {
		char why[160];

		remember_error(b, "%s", pcl_refusal_text(status, why, sizeof(why)));
		conn_end(b, c);
		return -1;
	}
	if (!memmem(p, (size_t)(end - p), WS_ACCEPT, strlen(WS_ACCEPT))) {
		conn_fail(b, c, "the relay's Sec-WebSocket-Accept does not match");
		return -1;
	}
	c->state = C_WELCOME;
	return end - p;
}

/* Everything readable on c, frame by frame. */
static void on_readable(struct bench *b, struct conn *c)
{
	for (int r = 0; r < READS_PER_EVENT && c->state != C_DONE; r++) {
		unsigned char *buf = b->scratch;
		size_t len = c->keep_len, off = 0;
		ssize_t n;
		int64_t arrival;

		if (c->keep_len)
			memcpy(buf, c->keep, c->keep_len);
		n = read(c->fd, buf + len, SCRATCH_CAP - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_fail(b, c, n ? "read failed" : "the relay closed the connection");
			return;
		}
		arrival = wall_us(); /* one read: one arrival time for all it holds */
		len += (size_t)n;
		if (c->state == C_UPGRADING) {
			long took = on_http(b, c, buf, len);

			if (took <= 0) {
				if (!took && c->state != C_DONE)
					goto keep;
				return;
			}
			off = (size_t)took;
		}
		while (off < len) {
			struct bench_ws_frame f;
			int got = bench_ws_parse(buf + off, len - off, &f);

			if (got < 0 || (got > 0 && f.len > MAX_PAYLOAD)) {
				conn_fail(b, c, "a frame no server may send");
				return;
			}
			if (!got || f.header_len + f.len > len - off)
				break;
			if (!on_frame(b, c, &f, buf + off + f.header_len, arrival))
				return;
			off += f.header_len + (size_t)f.len;
		}
		len -= off;
		memmove(buf, buf + off, len);
	keep:
		if (len != c->keep_len) {
			unsigned char *k = len ? realloc(c->keep, len) : NULL;

			if (len && !k) {
				conn_fail(b, c, "out of memory");
				return;
			}
			if (!len)
				free(c->keep);
			c->keep = k;
		}
		if (len)
			memcpy(c->keep, buf, len);
		c->keep_len = len;
	}
}

static void on_event(struct bench *b, struct conn *c, uint32_t events)
{
	if (c->state == C_CONNECTING) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(b, c);
		return;
	}
	if (events & EPOLLOUT)
		conn_flush(b, c);
	if (c->state != C_DONE && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		on_readable(b, c);
}

/* --- the run --- */

static int64_t join_due(const struct bench *b, int64_t start)
{
	return b->opt.join_rate > 0
	           ? (int64_t)(b->opt.join_rate * (double)(pcl_mono_us() - start) / 1e6) + 1
	           : b->opt.listeners;
}

static void start_more(struct bench *b, int64_t join_start)
{
	int64_t due = join_due(b, join_start);

	for (int n = 0; n < STARTS_PER_TURN && b->started < b->opt.listeners && b->started < due;
	     n++) {
		int src = b->v6 ? 0 : b->started % SRC_ADDRS;

		/* Keep each source address under the relay's handshake cap. */
		if (b->pending[src] >= PENDING_PER_SRC)
			break;
		conn_start(b, &b->c[b->started], b->started);
		b->started++;
	}
}

static void turn(struct bench *b, int timeout_ms)
{
	struct epoll_event ev[EVENTS_MAX];
	int n = epoll_wait(b->ep, ev, EVENTS_MAX, timeout_ms);

	for (int i = 0; i < n; i++)
		on_event(b, ev[i].data.ptr, ev[i].events);
}

struct window {
	double seconds;
	long long ticks0, ticks1;
	long rss_kb;
	bool interrupted;
};

static void sample_rss(const struct bench *b, struct window *w)
{
	long kb = b->opt.pid ? bench_rss_kb(b->opt.pid) : -1;

	if (kb > w->rss_kb)
		w->rss_kb = kb;
}

static void run(struct bench *b, struct window *w)
{
	int64_t join_start = pcl_mono_us(), deadline, t0, end, next_rss;
	int n = b->opt.listeners;

	deadline = join_start + (int64_t)(b->opt.join_rate > 0 ? n / b->opt.join_rate * 1e6 : 0) +
	           JOIN_GRACE_S * 1000000LL;
	pcl_note(false, "joining %d listener%s on %s", n, n == 1 ? "" : "s", b->opt.url);
	while (!pcl_stop && b->joined + b->failed + b->dropped < n && pcl_mono_us() < deadline) {
		start_more(b, join_start);
		turn(b, b->started < n ? 1 : TURN_MS);
	}
	if (b->joined < n)
		pcl_warn("%d of %d listeners joined (%d failed)%s%s", b->joined, n, b->failed,
		         b->first_error[0] ? ": " : "", b->first_error);
	else
		pcl_note(false, "all %d joined in %.1f s; warm-up %.1f s, then measuring %.1f s", n,
		         (double)(pcl_mono_us() - join_start) / 1e6, b->opt.warmup, b->opt.seconds);
	w->ticks0 = w->ticks1 = w->rss_kb = -1;
	if (!b->joined)
		return; /* nothing to measure */
	t0 = pcl_mono_us() + (int64_t)(b->opt.warmup * 1e6);
	while (!pcl_stop && pcl_mono_us() < t0)
		turn(b, TURN_MS);

	b->measuring = true;
	w->ticks0 = b->opt.pid ? bench_cpu_ticks(b->opt.pid) : -1;
	sample_rss(b, w);
	t0 = pcl_mono_us();
	end = t0 + (int64_t)(b->opt.seconds * 1e6);
	next_rss = t0 + 1000000;
	while (!pcl_stop && pcl_mono_us() < end) {
		turn(b, TURN_MS);
		if (pcl_mono_us() >= next_rss) {
			sample_rss(b, w);
			next_rss += 1000000;
		}
	}
	w->ticks1 = b->opt.pid ? bench_cpu_ticks(b->opt.pid) : -1;
	sample_rss(b, w);
	w->seconds = (double)(pcl_mono_us() - t0) / 1e6;
	w->interrupted = pcl_stop;
	b->measuring = false;
}

/* Says goodbye (1000) where the socket takes it at once, then closes everything. */
static void hang_up(struct bench *b)
{
	static const unsigned char bye[2] = {1000 >> 8, 1000 & 0xFF};

	for (int i = 0; i < b->started; i++) {
		struct conn *c = &b->c[i];

		if (c->state == C_DONE)
			continue;
		if (c->state >= C_WELCOME) {
			c->tx_off = 0;
			c->tx_len = bench_ws_build(c->tx, TX_CAP, BENCH_WS_CLOSE, bye, sizeof(bye),
			                           (uint32_t)rand());
			if (write(c->fd, c->tx, c->tx_len) < 0)
				continue; /* closed below all the same */
		}
		close(c->fd);
		free(c->keep);
		free(c->frag);
	}
}

/* --- output --- */

struct field {
	const char *key;
	char value[32];
};

#define N_FIELDS 20

static void set(struct field *f, int *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set(struct field *f, int *n, const char *key, const char *fmt, ...)
{
	va_list ap;

	f[*n].key = key;
	va_start(ap, fmt);
	vsnprintf(f[*n].value, sizeof(f[*n].value), fmt, ap);
	va_end(ap);
	(*n)++;
}

static void set_ms(struct field *f, int *n, const char *key, double ms)
{
	if (ms < 0)
		set(f, n, key, "na");
	else
		set(f, n, key, "%.2f", ms);
}

static int summarise(const struct bench *b, const struct window *w, struct field *f)
{
	int n = 0, starved = 0;
	uint64_t least = UINT64_MAX;
	long tck = sysconf(_SC_CLK_TCK);

	for (int i = 0; i < b->started; i++) {
		if (!b->c[i].joined)
			continue;
		starved += !b->c[i].window_packets;
		if (b->c[i].window_packets < least)
			least = b->c[i].window_packets;
	}
	set(f, &n, "listeners", "%d", b->opt.listeners);
	set(f, &n, "joined", "%d", b->joined);
	set(f, &n, "failed", "%d", b->failed);
	set(f, &n, "dropped", "%d", b->dropped);
	set(f, &n, "starved", "%d", starved);
	set(f, &n, "packets", "%llu", (unsigned long long)b->packets);
	set(f, &n, "packets_min", "%llu", least == UINT64_MAX ? 0ULL : (unsigned long long)least);
	set(f, &n, "gaps", "%llu", (unsigned long long)b->gaps);
	set(f, &n, "discont", "%llu", (unsigned long long)b->discont);
	set(f, &n, "bad_audio", "%llu", (unsigned long long)b->bad_audio);
	set_ms(f, &n, "delay_ms_p50", bench_hist_ms(&b->delay, 50));
	set_ms(f, &n, "delay_ms_p99", bench_hist_ms(&b->delay, 99));
	set_ms(f, &n, "delay_ms_max", bench_hist_ms(&b->delay, 100));
	set_ms(f, &n, "join_ms_p50", bench_hist_ms(&b->join, 50));
	set_ms(f, &n, "join_ms_p99", bench_hist_ms(&b->join, 99));
	set_ms(f, &n, "join_ms_max", bench_hist_ms(&b->join, 100));
	set(f, &n, "relay_pid", "%d", (int)b->opt.pid);
	if (w->ticks0 >= 0 && w->ticks1 >= w->ticks0 && tck > 0 && w->seconds > 0)
		set(f, &n, "relay_cpu_pct", "%.1f",
		    (double)(w->ticks1 - w->ticks0) / (w->seconds * (double)tck) * 100.0);
	else
		set(f, &n, "relay_cpu_pct", "na");
	if (w->rss_kb >= 0)
		set(f, &n, "relay_rss_kb", "%ld", w->rss_kb);
	else
		set(f, &n, "relay_rss_kb", "na");
	set(f, &n, "seconds", "%.2f", w->seconds);
	return n;
}

static int append_csv(const char *path, const struct field *f, int n)
{
	struct stat st;
	bool fresh = stat(path, &st) < 0 || st.st_size == 0;
	FILE *out = fopen(path, "a");

	if (!out)
		return -errno;
	for (int i = 0; fresh && i < n; i++)
		fprintf(out, "%s%s", f[i].key, i + 1 < n ? "," : "\n");
	for (int i = 0; i < n; i++)
		fprintf(out, "%s%s", f[i].value, i + 1 < n ? "," : "\n");
	return fclose(out) ? -errno : 0;
}

/* --- command line --- */

#define SYNOPSIS                                                                                   \
	"Usage: " PROG " [--url ws://127.0.0.1:PORT/ws] --listeners N --seconds S\n"               \
	"                    [--channel C[,C...]] [--join-rate R] [--warmup S] [--token T]\n"      \
	"                    [--bundle N|auto] [--pid PID] [--csv FILE] [--help] [--version]\n"    \
	"       " PROG " --http http://127.0.0.1:PORT/MOUNT --listeners N --seconds S\n"           \
	"                    [--join-rate R] [--warmup S] [--expect-bps B] [--pid PID]\n"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    SYNOPSIS
	    "\n"
	    "Load a puente relay on this machine with N simulated listeners (one process,\n"
	    "one thread, epoll) and measure what they get. Each listener upgrades to a\n"
	    "WebSocket (puente.v1), waits for core.welcome, subscribes to its channel and\n"
	    "counts the audio packets. Once all joined and after the warm-up, a window of\n"
	    "S seconds measures every packet's delay on the room clock, gaps and\n"
	    "discontinuities, and the relay's CPU and memory. One line on stdout:\n"
	    "  listeners=200 joined=200 failed=0 dropped=0 starved=0 packets=... gaps=0\n"
	    "  discont=0 bad_audio=0 delay_ms_p50=... delay_ms_p99=... delay_ms_max=...\n"
	    "  join_ms_p50=... join_ms_p99=... join_ms_max=... relay_pid=... relay_cpu_pct=...\n"
	    "  relay_rss_kb=... seconds=...\n"
	    "\n"
	    "Options:\n"
	    "  --url URL        the relay (default " PCL_DEFAULT_URL "); loopback only:\n"
	    "                   127.0.0.1, localhost or [::1]\n"
	    "  --listeners N    simulated listeners, 1..%d\n"
	    "  --seconds S      the measuring window, above 0 and at most %.0f\n"
	    "  --channel C      channel to subscribe to (default floor); a comma list\n"
	    "                   spreads the listeners round-robin over the channels\n"
	    "  --join-rate R    new connections per second (default: all at once)\n"
	    "  --warmup S       seconds between the last join and the window (default 2)\n"
	    "  --token T        connect with ?t=T; one token admits one connection, so\n"
	    "                   more than one listener needs a relay started with\n"
	    "                   --anonymous-listeners yes (and no token)\n"
	    "  --bundle N|auto  each listener says core.hello with \"bundle\": N (1, 2 or 3\n"
	    "                   20 ms packets per message; 1: never bundled) or \"auto\"\n"
	    "                   (the relay bundles above its bundle_above listeners)\n"
	    "                   before subscribing; default: no core.hello, which the\n"
	    "                   relay takes as auto. Every packet of a bundle is counted\n"
	    "                   and its delay measured on its own; a malformed bundle\n"
	    "                   counts once in bad_audio\n"
	    "  --pid PID        the relay's process for CPU and RSS (default: the process\n"
	    "                   listening on the URL's port, found through /proc/net/tcp\n"
	    "                   and /proc/*/fd)\n"
	    "  --csv FILE       also append the figures as a CSV row (a header line first\n"
	    "                   when the file is new)\n"
	    "  --http URL       instead of the relay, load an HTTP stream such as an\n"
	    "                   Icecast mount: each listener GETs URL (Connection:\n"
	    "                   close) and counts body bytes. One line on stdout:\n"
	    "                   listeners joined failed dropped bytes rate_min rate_p50\n"
	    "                   (B/s per listener in the window) expect_bps full_rate\n"
	    "                   (listeners at >= 95%% of it) ttfb_ms_p50 ttfb_ms_p99\n"
	    "                   relay_pid relay_cpu_pct relay_rss_kb seconds\n"
	    "  --expect-bps B   with --http, the stream's byte rate (default: measured\n"
	    "                   by one reference listener for 4 s before the load)\n"
	    "  -h, --help       show this help and exit\n"
	    "  --version        show the version and exit\n"
	    "\n"
	    "Each listener's socket is bound to 127.0.0.(2 + i %% 250) so that the relay's\n"
	    "per-address caps (20 WebSockets, 8 handshakes by default) admit up to 5000.\n"
	    "Exit status: 0 when every listener joined and received packets in the\n"
	    "window, 1 otherwise, 2 for bad usage.\n",
	    MAX_LISTENERS, MAX_SECONDS);
}

#define bad_usage(...) pcl_bad_usage(SYNOPSIS, __VA_ARGS__)

static bool parse_number(const char *arg, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(arg, &end);
	return !(errno || end == arg || *end || !(*v >= lo) || *v > hi);
}

static int parse_channels(struct options *o, const char *arg)
{
	const char *p = arg;

	o->n_channels = 0;
	for (int i = 0; i <= MAX_CHANNELS; i++) {
		size_t n = strcspn(p, ",");

		if (i == MAX_CHANNELS || n >= CHANNEL_LEN)
			return bad_usage(
			    "bad --channel '%s': at most %d names of at most %d characters", arg,
			    MAX_CHANNELS, CHANNEL_LEN - 1);
		memcpy(o->channels[i], p, n);
		o->channels[i][n] = '\0';
		if (!pcl_valid_name(o->channels[i], CHANNEL_LEN))
			return bad_usage("bad --channel '%s': an empty name or one with spaces",
			                 arg);
		o->n_channels++;
		if (!p[n])
			break;
		p += n + 1;
	}
	return -1;
}

static int check_url(struct options *o)
{
	const char *h = o->u.host;

	if (pcl_url_parse(o->url, &o->u) < 0)
		return bad_usage("bad --url '%s': expected ws://127.0.0.1:PORT/ws", o->url);
	if (o->u.tls)
		return bad_usage("bad --url '%s': the bench speaks ws:// only", o->url);
	if (strcmp(h, "127.0.0.1") && strcmp(h, "localhost") && strcmp(h, "::1"))
		return bad_usage("bad --url '%s': the bench loads a relay on this machine only "
		                 "(127.0.0.1, localhost or [::1])",
		                 o->url);
	return -1;
}

/* Returns -1 to go on, or an exit status (help, version, bad usage). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_URL = 256,
		OPT_LISTENERS,
		OPT_SECONDS,
		OPT_CHANNEL,
		OPT_JOIN_RATE,
		OPT_TOKEN,
		OPT_CSV,
		OPT_WARMUP,
		OPT_PID,
		OPT_HTTP,
		OPT_EXPECT_BPS,
		OPT_BUNDLE,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, OPT_URL},
	    {"listeners", required_argument, NULL, OPT_LISTENERS},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"channel", required_argument, NULL, OPT_CHANNEL},
	    {"join-rate", required_argument, NULL, OPT_JOIN_RATE},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"csv", required_argument, NULL, OPT_CSV},
	    {"warmup", required_argument, NULL, OPT_WARMUP},
	    {"pid", required_argument, NULL, OPT_PID},
	    {"http", required_argument, NULL, OPT_HTTP},
	    {"expect-bps", required_argument, NULL, OPT_EXPECT_BPS},
	    {"bundle", required_argument, NULL, OPT_BUNDLE},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	int c, status;
	double v;

	*o = (struct options){
	    .url = PCL_DEFAULT_URL, .warmup = 2.0, .n_channels = 1, .bundle = PCL_BUNDLE_UNSET};
	strcpy(o->channels[0], "floor");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_URL:
			o->url = optarg;
			break;
		case OPT_LISTENERS:
			if (!parse_number(optarg, 1, MAX_LISTENERS, &v) || v != floor(v))
				return bad_usage(
				    "bad --listeners '%s': a whole number from 1 to %d", optarg,
				    MAX_LISTENERS);
			o->listeners = (int)v;
			break;
		case OPT_SECONDS:
			if (!pcl_parse_seconds(optarg, MAX_SECONDS, &o->seconds))
				return bad_usage("bad --seconds '%s': above 0 and at most %.0f",
				                 optarg, MAX_SECONDS);
			break;
		case OPT_CHANNEL:
			if ((status = parse_channels(o, optarg)) >= 0)
				return status;
			break;
		case OPT_JOIN_RATE:
			if (!pcl_parse_seconds(optarg, MAX_JOIN_RATE, &o->join_rate))
				return bad_usage(
				    "bad --join-rate '%s': connections per second, above "
				    "0 and at most %.0f",
				    optarg, MAX_JOIN_RATE);
			break;
		case OPT_TOKEN:
			if (!pcl_token_valid(optarg))
				return bad_usage(
				    "bad --token: not a token (letters, digits, '-', '_')");
			o->token = optarg;
			break;
		case OPT_CSV:
			o->csv = optarg;
			break;
		case OPT_WARMUP:
			if (!parse_number(optarg, 0, MAX_WARMUP, &o->warmup))
				return bad_usage("bad --warmup '%s': 0 to %.0f seconds", optarg,
				                 MAX_WARMUP);
			break;
		case OPT_PID:
			if (!parse_number(optarg, 1, 1 << 30, &v) || v != floor(v))
				return bad_usage("bad --pid '%s': a process id", optarg);
			o->pid = (pid_t)v;
			break;
		case OPT_HTTP:
			o->http = optarg;
			break;
		case OPT_EXPECT_BPS:
			if (!parse_number(optarg, 1, 1e9, &o->expect_bps))
				return bad_usage("bad --expect-bps '%s': bytes per second", optarg);
			break;
		case OPT_BUNDLE:
			if (!pcl_parse_bundle(optarg, &o->bundle))
				return bad_usage("bad --bundle '%s': packets per message, 1 to %d, "
				                 "or auto",
				                 optarg, PUENTE_MAX_BUNDLE);
			break;
		default:
			return pcl_common_option(c, c == OPT_VERSION || c == 'V', argv, SYNOPSIS,
			                         usage, PUENTE_VERSION);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!o->listeners || !o->seconds)
		return bad_usage("--listeners and --seconds are required");
	if (o->http && (o->token || o->csv || o->bundle != PCL_BUNDLE_UNSET))
		return bad_usage("--http takes neither --token, --csv nor --bundle");
	return o->http ? -1 : check_url(o);
}

/* Room for every listener's descriptor: the soft limit up to the hard one. */
static int raise_fd_limit(int listeners)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)listeners + FD_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		pcl_warn("%d listeners need %llu open files, but this shell allows at most %llu "
		         "(ulimit -Hn): use fewer listeners or raise the hard limit",
		         listeners, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return -EMFILE;
	}
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : rl.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

static int build_request(struct bench *b)
{
	const struct pcl_url *u = &b->opt.u;
	const char *sep = strchr(u->path, '?') ? "&" : "?";
	int n = snprintf(b->request, sizeof(b->request),
	                 "GET %s%s%s%s HTTP/1.1\r\n"
	                 "Host: %s%s%s:%u\r\n"
	                 "Upgrade: websocket\r\n"
	                 "Connection: Upgrade\r\n"
	                 "Sec-WebSocket-Key: " WS_KEY "\r\n"
	                 "Sec-WebSocket-Version: 13\r\n"
	                 "Sec-WebSocket-Protocol: " PUENTE_WS_SUBPROTOCOL "\r\n\r\n",
	                 u->path, b->opt.token ? sep : "", b->opt.token ? "t=" : "",
	                 b->opt.token ? b->opt.token : "", b->v6 ? "[" : "", u->host,
	                 b->v6 ? "]" : "", u->port);

	if (n < 0 || (size_t)n >= sizeof(b->request))
		return -1;
	b->request_len = (size_t)n;
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench b;
	struct window w = {0};
	struct field f[N_FIELDS];
	int status, n, err, cap;

	pcl_set_prog(PROG);
	status = parse_args(argc, argv, &b.opt);
	if (status >= 0)
		return status;
	if (b.opt.http) {
		struct bench_http_opts h = {
		    .url = b.opt.http,
		    .listeners = b.opt.listeners,
		    .seconds = b.opt.seconds,
		    .warmup = b.opt.warmup,
		    .join_rate = b.opt.join_rate,
		    .expect_bps = b.opt.expect_bps,
		    .pid = b.opt.pid,
		};

		if (raise_fd_limit(b.opt.listeners + 1) < 0)
			return 2;
		pcl_catch_signals();
		return bench_http_run(&h);
	}
	b.v6 = !strcmp(b.opt.u.host, "::1");
	if (build_request(&b) < 0)
		return bad_usage("bad --url '%s': the path is too long", b.opt.url);
	if (b.opt.bundle != PCL_BUNDLE_UNSET) {
		json_t *hello = pcl_listener_hello(AGENT, b.opt.bundle);

		b.hello = hello ? json_dumps(hello, JSON_COMPACT) : NULL;
		json_decref(hello);
		if (!b.hello) {
			pcl_warn("cannot start: out of memory");
			return 1;
		}
	}
	if (raise_fd_limit(b.opt.listeners) < 0)
		return 2;
	cap = b.v6 ? RELAY_CONN_CAP : SRC_ADDRS * RELAY_CONN_CAP;
	if (b.opt.listeners > cap)
		pcl_warn(
		    "with the relay's default max_conns_per_address (%d), at most %d listeners "
		    "from %s get in: raise it in the relay's [access] section",
		    RELAY_CONN_CAP, cap, b.v6 ? "::1" : "127.0.0.2-251");
	if (b.opt.token && b.opt.listeners > 1)
		pcl_warn("one token admits one connection: the other listeners will be refused "
		         "or take it over; start the relay with --anonymous-listeners yes instead");
	if (!b.opt.pid) {
		b.opt.pid = bench_find_listener(b.opt.u.port);
		if (!b.opt.pid)
			pcl_warn("no process of ours listens on port %u: relay CPU and RSS not "
			         "measured (give --pid)",
			         b.opt.u.port);
	}
	pcl_catch_signals();
	srand((unsigned)getpid());
	b.c = calloc((size_t)b.opt.listeners, sizeof(*b.c));
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!b.c || b.ep < 0 || bench_hist_init(&b.delay, DELAY_BUCKETS, DELAY_BUCKET_US) < 0 ||
	    bench_hist_init(&b.join, JOIN_BUCKETS, JOIN_BUCKET_US) < 0) {
		pcl_warn("cannot start: %s", strerror(errno ? errno : ENOMEM));
		return 1;
	}
	run(&b, &w);
	hang_up(&b);
	n = summarise(&b, &w, f);
	for (int i = 0; i < n; i++)
		printf("%s=%s%s", f[i].key, f[i].value, i + 1 < n ? " " : "\n");
	fflush(stdout);
	status = 0;
	if (b.opt.csv && (err = append_csv(b.opt.csv, f, n)) < 0) {
		pcl_warn("cannot append to %s: %s", b.opt.csv, strerror(-err));
		status = 1;
	}
	if (w.interrupted)
		pcl_warn("interrupted: the window lasted %.2f s of %.2f", w.seconds, b.opt.seconds);
	if (b.first_error[0] && b.dropped)
		pcl_warn("first failure: %s", b.first_error);
	if (w.interrupted || b.joined < b.opt.listeners || b.dropped || !b.packets)
		status = 1;
	for (int i = 0; i < b.started; i++)
		if (b.c[i].joined && !b.c[i].window_packets)
			status = 1;
	bench_hist_fini(&b.delay);
	bench_hist_fini(&b.join);
	free(b.hello);
	free(b.c);
	close(b.ep);
	return status;
}
