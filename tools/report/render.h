/* The figures as text: Markdown for people, tidy CSV (section,session,key,value) for spreadsheets.
 */
#ifndef RPT_RENDER_H
#define RPT_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "report/attendance.h"
#include "report/figures.h"

/* The whole event's name in the CSV's session column and the Markdown's headings. */
#define RPT_EVENT "Whole event"

struct rpt_part {
	const struct rpt_scope *scope;
	const struct rpt_figures *fig;
};

struct rpt_report {
	const char *title; /* the store's event name, or NULL */
	const struct rpt_log *log;
	bool store;            /* country, sector and gender are known */
	bool names;            /* the table of attendees, names included */
	struct rpt_part event; /* the whole event */
	const struct rpt_part *sessions;
	size_t n_sessions;
};

/* Both return 0, or -1 when writing failed (errno set). */
int rpt_render_md(FILE *f, const struct rpt_report *r);
int rpt_render_csv(FILE *f, const struct rpt_report *r);

/* Milliseconds as minutes with one decimal: "12.5". */
const char *rpt_minutes(int64_t ms, char *buf, size_t cap);

#endif
