/*
 * Reads the attendance log line by line. A line that is not JSON, or is not
 * an event of a started run and an open connection, is counted and skipped:
 * a crash can tear the last line, and a report beats no report.
 */
#include "report/attendance.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report/grow.h"

#define OPEN    (-1) /* the end of a connection or span not seen yet */
#define MAX_SEC 1e13 /* a wall-clock time beyond this is garbage */

enum verdict { USED, SKIPPED, NO_MEMORY };

struct reader {
	struct rpt_log *log;
	json_t *open; /* "RUN CONN" -> index in log->conns, while it is connected */
};

static long find_run(const struct rpt_log *log, const char *id)
{
	/* Runs follow each other: the one wanted is nearly always the last. */
	for (size_t i = log->n_runs; i-- > 0;)
		if (!strcmp(log->runs[i].id, id))
			return (long)i;
	return -1;
}

static void conn_key(char *buf, size_t cap, const char *run, long long conn)
{
	snprintf(buf, cap, "%s %lld", run, conn);
}

/* Ends the span held now, if any, and starts one for a string value (null: none). */
static enum verdict hold(struct rpt_spans *s, int64_t ms, const json_t *v)
{
	struct rpt_span *span;

	if ((!json_is_string(v) || !*json_string_value(v)) && !json_is_null(v))
		return SKIPPED;
	if (s->n && s->v[s->n - 1].to == OPEN)
		s->v[s->n - 1].to = ms;
	if (json_is_null(v))
		return USED;
	if (!(span = rpt_grow(s->v, s->n, &s->cap, sizeof *span)))
		return NO_MEMORY;
	s->v = span;
	span = &s->v[s->n];
	*span = (struct rpt_span){.from = ms, .to = OPEN, .key = strdup(json_string_value(v))};
	if (!span->key)
		return NO_MEMORY;
	s->n++;
	return USED;
}

static void end_conn(struct rpt_conn *c, int64_t ms)
{
	c->to = ms;
	if (c->channels.n && c->channels.v[c->channels.n - 1].to == OPEN)
		c->channels.v[c->channels.n - 1].to = ms;
	if (c->captions.n && c->captions.v[c->captions.n - 1].to == OPEN)
		c->captions.v[c->captions.n - 1].to = ms;
}

static enum verdict start(struct rpt_log *log, const json_t *o, const char *id, int64_t ms)
{
	const char *room = json_string_value(json_object_get(o, "room"));
	struct rpt_run *r;

	if (find_run(log, id) >= 0)
		return SKIPPED;
	if (!(r = rpt_grow(log->runs, log->n_runs, &log->cap_runs, sizeof *r)))
		return NO_MEMORY;
	log->runs = r;
	r = &log->runs[log->n_runs];
	*r = (struct rpt_run){
	    .id = strdup(id), .room = room ? strdup(room) : NULL, .from = ms, .to = ms};
	if (!r->id || (room && !r->room)) {
		free(r->id);
		free(r->room);
		return NO_MEMORY;
	}
	log->n_runs++;
	return USED;
}

static enum verdict join(struct reader *rd, size_t run, const char *key, long long conn,
                         const json_t *o, int64_t ms)
{
	struct rpt_log *log = rd->log;
	const json_t *who = json_object_get(o, "who");
	const char *role = json_string_value(json_object_get(o, "role"));
	struct rpt_conn *c;

	if (json_object_get(rd->open, key) || !role || !(json_is_null(who) || json_is_string(who)))
		return SKIPPED;
	if (!(c = rpt_grow(log->conns, log->n_conns, &log->cap_conns, sizeof *c)))
		return NO_MEMORY;
	log->conns = c;
	c = &log->conns[log->n_conns];
	*c =
	    (struct rpt_conn){.run = run, .id = conn, .from = ms, .to = OPEN, .role = strdup(role)};
	if (json_is_string(who))
		c->who = strdup(json_string_value(who));
	if (!c->role || (json_is_string(who) && !c->who) ||
	    json_object_set_new(rd->open, key, json_integer((json_int_t)log->n_conns))) {
		free(c->role);
		free(c->who);
		return NO_MEMORY;
	}
	log->n_conns++;
	return USED;
}

/* An event of a connection: join, channel, captions or leave. */
static enum verdict conn_event(struct reader *rd, size_t run, const char *ev, const json_t *o,
                               int64_t ms)
{
	const json_t *id = json_object_get(o, "conn");
	char key[256];
	json_t *at;
	struct rpt_conn *c;

	if (!json_is_integer(id))
		return SKIPPED;
	conn_key(key, sizeof key, rd->log->runs[run].id, (long long)json_integer_value(id));
	if (!strcmp(ev, "join"))
		return join(rd, run, key, (long long)json_integer_value(id), o, ms);
	if (!(at = json_object_get(rd->open, key)))
		return SKIPPED;
	c = &rd->log->conns[json_integer_value(at)];
	if (!strcmp(ev, "channel"))
		return hold(&c->channels, ms, json_object_get(o, "channel"));
	if (!strcmp(ev, "captions"))
		return hold(&c->captions, ms, json_object_get(o, "lang"));
	if (strcmp(ev, "leave"))
		return SKIPPED;
	end_conn(c, ms);
	json_object_del(rd->open, key);
	return USED;
}

static enum verdict event(struct reader *rd, const json_t *o)
{
	const json_t *t = json_object_get(o, "t");
	const char *ev = json_string_value(json_object_get(o, "ev"));
	const char *id = json_string_value(json_object_get(o, "run"));
	struct rpt_run *r;
	enum verdict v;
	int64_t ms;
	long i;

	if (!json_is_number(t) || !ev || !id || !(json_number_value(t) >= 0) ||
	    json_number_value(t) > MAX_SEC || strlen(id) > 128)
		return SKIPPED;
	ms = llround(json_number_value(t) * 1000.0);
	if (!strcmp(ev, "start"))
		return start(rd->log, o, id, ms);
	if ((i = find_run(rd->log, id)) < 0 || rd->log->runs[i].stopped)
		return SKIPPED;
	r = &rd->log->runs[i];
	/* The wall clock may step back (NTP): time never runs backwards within a run. */
	if (ms < r->to)
		ms = r->to;
	if (!strcmp(ev, "stop"))
		r->stopped = true;
	v = !strcmp(ev, "alive") || !strcmp(ev, "stop") ? USED
	                                                : conn_event(rd, (size_t)i, ev, o, ms);
	if (v == USED)
		r->to = ms;
	return v;
}

/* A run that ended without a stop line, or a connection that never left: both end at the run's end.
 */
static void finish(struct rpt_log *log)
{
	for (size_t i = 0; i < log->n_conns; i++)
		if (log->conns[i].to == OPEN)
			end_conn(&log->conns[i], log->runs[log->conns[i].run].to);
}

int rpt_log_read(FILE *f, struct rpt_log *log)
{
	struct reader rd = {.log = log, .open = json_object()};
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	*log = (struct rpt_log){0};
	if (!rd.open)
		return -ENOMEM;
	while (!rc && (len = getline(&line, &cap, f)) >= 0) {
		json_t *o = json_loadb(line, (size_t)len, 0, NULL);
		enum verdict v = SKIPPED;

		log->lines++;
		if (!json_is_object(o))
			log->not_json++;
		else if ((v = event(&rd, o)) == SKIPPED)
			log->invalid++;
		json_decref(o);
		if (v == NO_MEMORY)
			rc = -ENOMEM;
	}
	if (!rc && ferror(f))
		rc = -EIO;
	free(line);
	json_decref(rd.open);
	finish(log);
	return rc;
}

static void free_spans(struct rpt_spans *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].key);
	free(s->v);
}

void rpt_log_free(struct rpt_log *log)
{
	for (size_t i = 0; i < log->n_runs; i++) {
		free(log->runs[i].id);
		free(log->runs[i].room);
	}
	for (size_t i = 0; i < log->n_conns; i++) {
		free(log->conns[i].who);
		free(log->conns[i].role);
		free_spans(&log->conns[i].channels);
		free_spans(&log->conns[i].captions);
	}
	free(log->runs);
	free(log->conns);
	*log = (struct rpt_log){0};
}
