/*
 * puente-bench --http: N plain HTTP listeners (GET of an Icecast mount,
 * Connection: close) on one epoll loop, counting body bytes, so that the
 * relay can be compared with Icecast under the same client. One thread.
 */
#ifndef BENCH_HTTP_LISTENER_H
#define BENCH_HTTP_LISTENER_H

#include <stdio.h>
#include <sys/types.h>

struct bench_http_opts {
	const char *url; /* http://127.0.0.1:PORT/path (loopback IPv4 only) */
	int listeners;
	double seconds, warmup, join_rate; /* join_rate 0: as fast as connect() allows */
	double expect_bps;                 /* 0: measured by a reference listener first */
	pid_t pid;                         /* 0: the process listening on the URL's port */
};

/*
 * Runs the load and prints one key=value line on stdout. Returns the exit status: 0 when every
 * listener joined and received bytes in the window, 1 otherwise, 2 for a bad URL.
 */
int bench_http_run(const struct bench_http_opts *o);

#endif
