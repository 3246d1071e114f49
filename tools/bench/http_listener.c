/*
 * The HTTP listeners of puente-bench --http. Each one connects, sends one
 * GET with Connection: close, checks for a 200 status and counts the body
 * bytes. Icecast sends a burst (64 KB by default) on connect, so rates are
 * only measured in the window, after the warm-up has let the bursts pass.
 */
#include "bench/http_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/hist.h"
#include "bench/relayproc.h"
#include "client/toolkit.h"

#define HEAD_MAX        2048 /* Icecast's response head is about 500 bytes */
#define REQ_MAX         512
#define READ_CAP        (64u << 10)
#define READS_PER_EVENT 8
#define EVENTS_MAX      1024
#define TURN_MS         10
#define STARTS_PER_TURN 512
#define JOIN_GRACE_S    30
#define REF_TIMEOUT_S   10 /* the reference listener's wait for its first byte */
#define REF_SETTLE_S    1  /* lets its burst arrive before it is timed */
#define REF_MEASURE_S   3
#define FULL_SHARE      0.95
#define TTFB_BUCKET_US  100     /* 0.1 ms buckets ... */
#define TTFB_BUCKETS    1200000 /* ... up to 120 s */

enum hstate { H_IDLE, H_CONNECTING, H_HEAD, H_BODY, H_DONE };

struct hconn {
	int fd;
	enum hstate state;
	bool joined;
	int64_t start_us;
	uint64_t bytes, window_bytes;
	char *head; /* the response head while it is read; freed at the body */
	size_t head_len;
};

struct hbench {
	const struct bench_http_opts *o;
	struct sockaddr_in addr;
	char req[REQ_MAX];
	size_t req_len;
	int ep;
	struct hconn *c;
	int started, joined, failed, dropped;
	bool measuring;
	uint64_t bytes;
	struct bench_hist ttfb;
	char first_error[160];
	unsigned char buf[READ_CAP];
};

static void hc_end(struct hbench *b, struct hconn *c, const char *why)
{
	if (c->state == H_DONE)
		return;
	if (why && !b->first_error[0])
		snprintf(b->first_error, sizeof(b->first_error), "%s", why);
	if (c->joined)
		b->dropped++;
	else
		b->failed++;
	if (c->fd >= 0)
		close(c->fd);
	free(c->head);
	c->head = NULL;
	c->fd = -1;
	c->state = H_DONE;
}

static void hc_start(struct hbench *b, struct hconn *c)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};

	c->start_us = pcl_mono_us();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->state = H_CONNECTING;
	if (c->fd < 0) {
		hc_end(b, c, "socket() failed");
		return;
	}
	if ((connect(c->fd, (struct sockaddr *)&b->addr, sizeof(b->addr)) < 0 &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(b->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		hc_end(b, c, "connect() failed");
}

static void hc_connected(struct hbench *b, struct hconn *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		hc_end(b, c, "connection refused or reset");
		return;
	}
	/* A fresh socket takes a few hundred bytes at once: a short write is a failure. */
	if (write(c->fd, b->req, b->req_len) != (ssize_t)b->req_len ||
	    epoll_ctl(b->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		hc_end(b, c, "cannot send the request");
		return;
	}
	c->head = malloc(HEAD_MAX);
	c->head_len = 0;
	c->state = c->head ? H_HEAD : H_DONE;
	if (!c->head)
		hc_end(b, c, "out of memory");
}

static void count_body(struct hbench *b, struct hconn *c, size_t n)
{
	if (!n)
		return;
	if (!c->joined) {
		c->joined = true;
		b->joined++;
		bench_hist_add(&b->ttfb, pcl_mono_us() - c->start_us);
	}
	c->bytes += n;
	if (b->measuring) {
		c->window_bytes += n;
		b->bytes += n;
	}
}

/* Takes n bytes of the head; once it is complete, checks the status and counts what follows. */
static void take_head(struct hbench *b, struct hconn *c, const unsigned char *p, size_t n)
{
	size_t take = n < HEAD_MAX - 1 - c->head_len ? n : HEAD_MAX - 1 - c->head_len;
	char *end;
	size_t body;

	memcpy(c->head + c->head_len, p, take);
	c->head_len += take;
	c->head[c->head_len] = '\0';
	end = strstr(c->head, "\r\n\r\n");
	if (!end) {
		if (c->head_len >= HEAD_MAX - 1)
			hc_end(b, c, "response head too long");
		return;
	}
	if (strncmp(c->head, "HTTP/1.", 7) || strncmp(c->head + 8, " 200", 4)) {
		char why[64];

		snprintf(why, sizeof(why), "answer '%.*s'", (int)strcspn(c->head, "\r\n"), c->head);
		hc_end(b, c, why);
		return;
	}
	/* Body bytes that came in the same read: from the head's end to the read's end. */
	body = c->head_len - (size_t)(end + 4 - c->head) + (n - take);
	free(c->head);
	c->head = NULL;
	c->state = H_BODY;
	count_body(b, c, body);
}

static void hc_readable(struct hbench *b, struct hconn *c)
{
	for (int i = 0; i < READS_PER_EVENT && c->state != H_DONE; i++) {
		ssize_t n = read(c->fd, b->buf, sizeof(b->buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			hc_end(b, c, n ? "read error" : "closed by the server");
			return;
		}
		if (c->state == H_HEAD)
			take_head(b, c, b->buf, (size_t)n);
		else
			count_body(b, c, (size_t)n);
		if ((size_t)n < sizeof(b->buf))
			return;
	}
}

static void turn(struct hbench *b, int timeout_ms)
{
	struct epoll_event ev[EVENTS_MAX];
	int n = epoll_wait(b->ep, ev, EVENTS_MAX, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct hconn *c = ev[i].data.ptr;

		if (c->state == H_CONNECTING)
			hc_connected(b, c);
		else if (c->state != H_DONE)
			hc_readable(b, c);
	}
}

static int parse_url(struct hbench *b)
{
	const char *url = b->o->url, *hp, *path;
	char host[16];
	unsigned long port;
	char *end;
	size_t hl;
	int n;

	if (strncmp(url, "http://", 7))
		return -1;
	hp = url + 7;
	hl = strcspn(hp, ":/");
	if (hl >= sizeof(host) || hp[hl] != ':')
		return -1;
	memcpy(host, hp, hl);
	host[hl] = '\0';
	/* Loopback only, like the WebSocket bench: it loads a server on this machine. */
	if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost"))
		return -1;
	errno = 0;
	port = strtoul(hp + hl + 1, &end, 10);
	if (errno || end == hp + hl + 1 || !port || port > 65535 || *end != '/')
		return -1;
	path = end;
	b->addr.sin_family = AF_INET;
	b->addr.sin_port = htons((uint16_t)port);
	b->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n = snprintf(b->req, sizeof(b->req),
	             "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%lu\r\nUser-Agent: puente-bench\r\n"
	             "Connection: close\r\n\r\n",
	             path, port);
	if (n < 0 || (size_t)n >= sizeof(b->req))
		return -1;
	b->req_len = (size_t)n;
	return 0;
}

/* One listener before the load: its steady rate (after its burst) is the expected rate. */
static double reference_bps(struct hbench *b)
{
	struct hconn *c = &b->c[b->o->listeners]; /* the spare slot */
	int64_t deadline = pcl_mono_us() + REF_TIMEOUT_S * 1000000LL, t0, t1;
	uint64_t bytes0;
	bool ok;

	hc_start(b, c);
	while (!pcl_stop && c->state != H_DONE && !c->joined && pcl_mono_us() < deadline)
		turn(b, TURN_MS);
	t0 = pcl_mono_us() + REF_SETTLE_S * 1000000LL;
	while (!pcl_stop && c->state != H_DONE && c->joined && pcl_mono_us() < t0)
		turn(b, TURN_MS);
	bytes0 = c->bytes;
	t1 = pcl_mono_us() + REF_MEASURE_S * 1000000LL;
	while (!pcl_stop && c->state != H_DONE && c->joined && pcl_mono_us() < t1)
		turn(b, TURN_MS);
	t1 = pcl_mono_us();
	ok = c->state != H_DONE && c->joined;
	if (!ok)
		pcl_warn("the reference listener got no stream%s%s", b->first_error[0] ? ": " : "",
		         b->first_error);
	hc_end(b, c, NULL);
	/* It is not one of the N: forget its counts. */
	b->joined = b->failed = b->dropped = 0;
	b->ttfb.total = 0;
	b->ttfb.max_us = 0;
	memset(b->ttfb.counts, 0, b->ttfb.n * sizeof(*b->ttfb.counts));
	b->first_error[0] = '\0';
	return ok ? (double)(c->bytes - bytes0) / ((double)(t1 - t0) / 1e6) : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void print_ms(const char *key, double ms)
{
	if (ms < 0)
		printf(" %s=na", key);
	else
		printf(" %s=%.2f", key, ms);
}

int bench_http_run(const struct bench_http_opts *o)
{
	static struct hbench b;
	int n = o->listeners, status = 0, full = 0, got = 0, dropped;
	int64_t start, deadline, t0, end, next_rss;
	long long ticks0 = -1, ticks1 = -1;
	long rss = -1, kb, tck = sysconf(_SC_CLK_TCK);
	double expect = o->expect_bps, secs = 0;
	uint64_t *rates;

	b.o = o;
	if (parse_url(&b) < 0) {
		pcl_warn("bad --http '%s': expected http://127.0.0.1:PORT/PATH", o->url);
		return 2;
	}
	b.c = calloc((size_t)n + 1, sizeof(*b.c));
	rates = calloc((size_t)n, sizeof(*rates));
	b.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!b.c || !rates || b.ep < 0 || bench_hist_init(&b.ttfb, TTFB_BUCKETS, TTFB_BUCKET_US)) {
		pcl_warn("cannot start: %s", strerror(errno ? errno : ENOMEM));
		return 1;
	}
	for (int i = 0; i <= n; i++)
		b.c[i].fd = -1;
	pid_t pid = o->pid ? o->pid : bench_find_listener(ntohs(b.addr.sin_port));
	if (!pid)
		pcl_warn("no process of ours listens on port %u: server CPU and RSS not measured "
		         "(give --pid)",
		         ntohs(b.addr.sin_port));
	if (!expect)
		expect = reference_bps(&b);

	start = pcl_mono_us();
	deadline = start + (int64_t)(o->join_rate > 0 ? n / o->join_rate * 1e6 : 0) +
	           JOIN_GRACE_S * 1000000LL;
	pcl_note(false, "joining %d HTTP listener%s on %s", n, n == 1 ? "" : "s", o->url);
	while (!pcl_stop && b.joined + b.failed + b.dropped < n && pcl_mono_us() < deadline) {
		int64_t due =
		    o->join_rate > 0
		        ? (int64_t)(o->join_rate * (double)(pcl_mono_us() - start) / 1e6) + 1
		        : n;

		for (int k = 0; k < STARTS_PER_TURN && b.started < n && b.started < due; k++)
			hc_start(&b, &b.c[b.started++]);
		turn(&b, b.started < n ? 1 : TURN_MS);
	}
	if (b.joined < n)
		pcl_warn("%d of %d listeners joined (%d failed, %d still waiting)%s%s", b.joined, n,
		         b.failed, n - b.joined - b.failed, b.first_error[0] ? ": " : "",
		         b.first_error);
	t0 = pcl_mono_us() + (int64_t)(o->warmup * 1e6);
	while (b.joined && !pcl_stop && pcl_mono_us() < t0)
		turn(&b, TURN_MS);

	b.measuring = b.joined > 0;
	ticks0 = pid ? bench_cpu_ticks(pid) : -1;
	t0 = pcl_mono_us();
	end = b.measuring ? t0 + (int64_t)(o->seconds * 1e6) : t0;
	next_rss = t0;
	while (!pcl_stop && pcl_mono_us() < end) {
		if (pcl_mono_us() >= next_rss) {
			kb = pid ? bench_rss_kb(pid) : -1;
			rss = kb > rss ? kb : rss;
			next_rss += 1000000;
		}
		turn(&b, TURN_MS);
	}
	ticks1 = pid ? bench_cpu_ticks(pid) : -1;
	secs = end > t0 ? (double)(pcl_mono_us() - t0) / 1e6 : 0; /* no window when none joined */
	b.measuring = false;
	dropped = b.dropped;

	for (int i = 0; i < b.started; i++) {
		if (!b.c[i].joined)
			continue;
		rates[got++] = b.c[i].window_bytes;
		full += expect > 0 && secs > 0 &&
		        (double)b.c[i].window_bytes >= FULL_SHARE * expect * secs;
		if (!b.c[i].window_bytes)
			status = 1;
		hc_end(&b, &b.c[i], NULL);
	}
	for (int i = 0; i < b.started; i++)
		hc_end(&b, &b.c[i], NULL);
	qsort(rates, (size_t)got, sizeof(*rates), cmp_u64);

	printf("listeners=%d joined=%d failed=%d dropped=%d bytes=%llu", n, b.joined, b.failed,
	       dropped, (unsigned long long)b.bytes);
	if (got && secs > 0)
		printf(" rate_min=%.0f rate_p50=%.0f", (double)rates[0] / secs,
		       (double)rates[(got - 1) / 2] / secs);
	else
		printf(" rate_min=na rate_p50=na");
	printf(" expect_bps=%.0f full_rate=%d", expect, full);
	print_ms("ttfb_ms_p50", bench_hist_ms(&b.ttfb, 50));
	print_ms("ttfb_ms_p99", bench_hist_ms(&b.ttfb, 99));
	printf(" relay_pid=%d", (int)pid);
	if (ticks0 >= 0 && ticks1 >= ticks0 && tck > 0 && secs > 0)
		printf(" relay_cpu_pct=%.1f",
		       (double)(ticks1 - ticks0) / (secs * (double)tck) * 100.0);
	else
		printf(" relay_cpu_pct=na");
	if (rss >= 0)
		printf(" relay_rss_kb=%ld", rss);
	else
		printf(" relay_rss_kb=na");
	printf(" seconds=%.2f\n", secs);
	fflush(stdout);

	if (pcl_stop)
		pcl_warn("interrupted: the window lasted %.2f s of %.2f", secs, o->seconds);
	if (pcl_stop || b.joined < n || dropped || !b.bytes)
		status = 1;
	bench_hist_fini(&b.ttfb);
	free(rates);
	free(b.c);
	close(b.ep);
	return status;
}
