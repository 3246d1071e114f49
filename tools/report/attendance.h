/*
 * The relay's attendance log (JSON Lines, /work/shared contract) read into
 * runs and connections, with the channel and caption language each
 * connection held over time. Times are unix milliseconds.
 */
#ifndef RPT_ATTENDANCE_H
#define RPT_ATTENDANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One relay run: from its "start" to its "stop" or, crashed, its last line. */
struct rpt_run {
	char *id;
	char *room; /* NULL when the start line names none */
	int64_t from, to;
	bool stopped;
};

/* A channel (or caption language) one connection held from..to. */
struct rpt_span {
	int64_t from, to;
	char *key;
};

struct rpt_spans {
	struct rpt_span *v;
	size_t n, cap;
};

struct rpt_conn {
	size_t run; /* index in rpt_log.runs */
	long long id;
	char *who;  /* invitee id; NULL for an anonymous listener */
	char *role; /* as the join line says */
	int64_t from, to;
	struct rpt_spans channels, captions;
};

struct rpt_log {
	struct rpt_run *runs;
	size_t n_runs, cap_runs;
	struct rpt_conn *conns;
	size_t n_conns, cap_conns;
	size_t lines;    /* every line read */
	size_t not_json; /* not one JSON object: torn by a crash, say */
	size_t invalid;  /* JSON, but no attendance event of a known run and connection */
};

/* Reads every line of f. 0, or -ENOMEM / -EIO (a read error). */
int rpt_log_read(FILE *f, struct rpt_log *log);
void rpt_log_free(struct rpt_log *log);

#endif
