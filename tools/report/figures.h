/*
 * The event in numbers: participants, anonymous listeners, peak, who came
 * (role, country, sector, gender) and what they listened to, for one scope
 * (a session, or the whole event).
 */
#ifndef RPT_FIGURES_H
#define RPT_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include <puente/access.h>

#include "report/attendance.h"

#define RPT_NOT_GIVEN "not given"

struct rpt_window {
	int64_t from, to; /* unix ms */
};

/* What a figure counts: connections of run (or every run, -1) within the windows. */
struct rpt_scope {
	const char *name;
	struct rpt_window *windows; /* sorted, disjoint */
	size_t n;
	long run;
};

struct rpt_count {
	const char *key; /* borrowed from the log, the store or a constant */
	int64_t n;
};

struct rpt_tally {
	struct rpt_count *v;
	size_t n, cap;
};

/* A participant: an invitee id connected within the scope. */
struct rpt_attendee {
	const char *id;
	const struct puente_invitee *inv; /* NULL: no store, or an id not in it */
	const char *role;                 /* the store's, else the first join line's */
	int64_t ms;                       /* time connected; overlapping devices count once */
};

struct rpt_figures {
	struct rpt_attendee *attendees; /* sorted by name, then id */
	size_t n_attendees, cap_attendees;
	size_t anonymous;    /* anonymous listener connections */
	size_t not_in_store; /* participants whose id the store lacks */
	size_t peak;     /* people connected at once: invitees once, each anonymous connection */
	int64_t peak_at; /* when the peak was first reached */
	/* Participants: roles in the store's order, the others by count, "not given" last. */
	struct rpt_tally roles, countries, sectors, genders;
	/* Milliseconds, by channel and by caption language, in name order. */
	struct rpt_tally channels, captions;
};

/* store may be NULL. 0 or -ENOMEM. */
int rpt_figures_compute(const struct rpt_log *log, const struct puente_invitees *store,
                        const struct rpt_scope *scope, struct rpt_figures *out);
void rpt_figures_free(struct rpt_figures *f);

#endif
