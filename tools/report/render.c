/*
 * The figures as Markdown (headings and tables, for people) or as one tidy
 * CSV table, section,session,key,value (for spreadsheets and scripts).
 * Both show the same numbers in the same order, the whole event first.
 */
#include "report/render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <csv.h>

#include "report/isotime.h"

#define TIME_LEN 32
#define NUM_LEN  32

/* The tallies each part shows, in order. */
static const struct tally_kind {
	const char *csv, *heading, *column, *unit;
	bool minutes, needs_store;
	size_t offset;
} kinds[] = {
    {"participants_by_role", "Participants by role", "Role", "Participants", false, false,
     offsetof(struct rpt_figures, roles)},
    {"country", "Participants by country", "Country", "Participants", false, true,
     offsetof(struct rpt_figures, countries)},
    {"sector", "Participants by sector", "Sector", "Participants", false, true,
     offsetof(struct rpt_figures, sectors)},
    {"gender", "Participants by gender", "Gender", "Participants", false, true,
     offsetof(struct rpt_figures, genders)},
    {"channel_minutes", "Minutes listened per channel", "Channel", "Minutes", true, false,
     offsetof(struct rpt_figures, channels)},
    {"caption_minutes", "Minutes with captions per language", "Language", "Minutes", true, false,
     offsetof(struct rpt_figures, captions)},
};

const char *rpt_minutes(int64_t ms, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.1f", (double)ms / 60000.0);
	return buf;
}

static const struct rpt_tally *tally_of(const struct rpt_figures *f, const struct tally_kind *k)
{
	return (const struct rpt_tally *)((const char *)f + k->offset);
}

static const char *value(const struct tally_kind *k, int64_t n, char *buf, size_t cap)
{
	if (k->minutes)
		return rpt_minutes(n, buf, cap);
	snprintf(buf, cap, "%" PRId64, n);
	return buf;
}

/* A run's session: its run, else NULL (a --session window spans runs). */
static const struct rpt_run *run_of(const struct rpt_report *r, const struct rpt_part *p)
{
	return p->scope->run >= 0 ? &r->log->runs[p->scope->run] : NULL;
}

static size_t crashed_runs(const struct rpt_log *log)
{
	size_t n = 0;

	for (size_t i = 0; i < log->n_runs; i++)
		n += !log->runs[i].stopped;
	return n;
}

static const char *attendee_name(const struct rpt_attendee *a)
{
	return a->inv && a->inv->name && *a->inv->name ? a->inv->name : a->id;
}

static const char *attendee_country(const struct rpt_attendee *a)
{
	return a->inv && a->inv->country && *a->inv->country ? a->inv->country : RPT_NOT_GIVEN;
}

/* --- CSV --- */

/* The CSV being written, and whether memory ran out on the way. */
struct csv {
	FILE *f;
	bool failed;
};

/* A quoted field; text a spreadsheet would run as a formula gets a leading quote mark. */
static void cell(struct csv *c, const char *s, bool last)
{
	size_t n = strlen(s);

	if (n && strchr("=+-@\t\r", s[0])) {
		char *buf = malloc(n + 2);

		if (!buf) {
			c->failed = true;
			return;
		}
		buf[0] = '\'';
		memcpy(buf + 1, s, n + 1);
		csv_fwrite(c->f, buf, n + 1);
		free(buf);
	} else {
		csv_fwrite(c->f, s, n);
	}
	fputc(last ? '\n' : ',', c->f);
}

static void row(struct csv *c, const char *section, const char *session, const char *key,
                const char *val)
{
	cell(c, section, false);
	cell(c, session, false);
	cell(c, key, false);
	cell(c, val, true);
}

static void row_n(struct csv *c, const char *section, const char *session, const char *key,
                  uint64_t n)
{
	char buf[NUM_LEN];

	snprintf(buf, sizeof buf, "%" PRIu64, n);
	row(c, section, session, key, buf);
}

static void csv_part(struct csv *c, const struct rpt_report *r, const struct rpt_part *p)
{
	const char *s = p->scope->name;
	const struct rpt_run *run = run_of(r, p);
	const struct rpt_figures *g = p->fig;
	char t[TIME_LEN], num[NUM_LEN];

	if (p->scope->n) {
		row(c, "session", s, "from",
		    rpt_time_format(p->scope->windows[0].from, true, t, sizeof t));
		row(c, "session", s, "to",
		    rpt_time_format(p->scope->windows[p->scope->n - 1].to, true, t, sizeof t));
	}
	if (run && run->room)
		row(c, "session", s, "room", run->room);
	if (run)
		row(c, "session", s, "ended", run->stopped ? "stop" : "crash");
	row_n(c, "participants", s, "total", g->n_attendees);
	row_n(c, "anonymous_listeners", s, "connections", g->anonymous);
	row_n(c, "peak", s, "people", g->peak);
	if (g->peak)
		row(c, "peak", s, "at", rpt_time_format(g->peak_at, true, t, sizeof t));
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		const struct rpt_tally *tl = tally_of(g, &kinds[k]);

		if (kinds[k].needs_store && !r->store)
			continue;
		for (size_t i = 0; i < tl->n; i++)
			row(c, kinds[k].csv, s, tl->v[i].key,
			    value(&kinds[k], tl->v[i].n, num, sizeof num));
	}
}

/* Per attendee of the whole event, keyed by id: name, role, country, minutes present. */
static void csv_attendees(struct csv *c, const struct rpt_figures *g)
{
	char num[NUM_LEN];

	for (size_t i = 0; i < g->n_attendees; i++) {
		const struct rpt_attendee *a = &g->attendees[i];

		row(c, "attendee_name", RPT_EVENT, a->id, attendee_name(a));
		row(c, "attendee_role", RPT_EVENT, a->id, a->role);
		row(c, "attendee_country", RPT_EVENT, a->id, attendee_country(a));
		row(c, "attendee_minutes", RPT_EVENT, a->id, rpt_minutes(a->ms, num, sizeof num));
	}
}

int rpt_render_csv(FILE *f, const struct rpt_report *r)
{
	const struct rpt_log *log = r->log;
	struct csv c = {.f = f};

	row(&c, "section", "session", "key", "value");
	csv_part(&c, r, &r->event);
	if (r->names)
		csv_attendees(&c, r->event.fig);
	for (size_t i = 0; i < r->n_sessions; i++)
		csv_part(&c, r, &r->sessions[i]);
	row_n(&c, "log", "", "lines", log->lines);
	row_n(&c, "log", "", "lines_not_json", log->not_json);
	row_n(&c, "log", "", "lines_invalid", log->invalid);
	row_n(&c, "log", "", "runs", log->n_runs);
	row_n(&c, "log", "", "runs_crashed", crashed_runs(log));
	if (r->store)
		row_n(&c, "log", "", "ids_not_in_store", r->event.fig->not_in_store);
	if (c.failed)
		errno = ENOMEM;
	return c.failed || ferror(f) ? -1 : 0;
}

/* --- Markdown --- */

/* Text from the store or the log: markup characters escaped, control characters as spaces. */
static void md(FILE *f, const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			fputc(' ', f);
			continue;
		}
		if (strchr("\\`*_[]<>|&~", *s))
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void md_pair(FILE *f, const char *label, const char *val)
{
	fputs("| ", f);
	md(f, label);
	fputs(" | ", f);
	md(f, val);
	fputs(" |\n", f);
}

static void md_pair_n(FILE *f, const char *label, uint64_t n)
{
	char buf[NUM_LEN];

	snprintf(buf, sizeof buf, "%" PRIu64, n);
	md_pair(f, label, buf);
}

static void md_when(FILE *f, const struct rpt_report *r, const struct rpt_part *p)
{
	const struct rpt_run *run = run_of(r, p);
	char a[TIME_LEN], b[TIME_LEN];

	if (!p->scope->n) {
		fputs("Nothing in the log.\n\n", f);
		return;
	}
	fprintf(f, "From %s to %s", rpt_time_format(p->scope->windows[0].from, true, a, sizeof a),
	        rpt_time_format(p->scope->windows[p->scope->n - 1].to, true, b, sizeof b));
	if (run && run->room) {
		fputs(", room ", f);
		md(f, run->room);
	}
	if (run)
		fputs(run->stopped
		          ? "; the relay stopped cleanly"
		          : "; the relay ended without a clean stop (a crash?): connections "
		            "still open end at its last log line",
		      f);
	fputs(".\n\n", f);
}

static void md_part(FILE *f, const struct rpt_report *r, const struct rpt_part *p)
{
	const struct rpt_figures *g = p->fig;
	char t[TIME_LEN], num[NUM_LEN];

	fputs(p == &r->event ? "## " : "## Session: ", f);
	md(f, p->scope->name);
	fputs("\n\n", f);
	md_when(f, r, p);
	fputs("| Figure | Value |\n| --- | ---: |\n", f);
	md_pair_n(f, "Participants", g->n_attendees);
	md_pair_n(f, "Anonymous listener connections", g->anonymous);
	md_pair_n(f, "Peak concurrent people", g->peak);
	if (g->peak)
		md_pair(f, "Peak reached at", rpt_time_format(g->peak_at, true, t, sizeof t));
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		const struct rpt_tally *tl = tally_of(g, &kinds[k]);

		if (kinds[k].needs_store && !r->store)
			continue;
		fprintf(f, "\n### %s\n\n", kinds[k].heading);
		if (!tl->n) {
			fputs("None.\n", f);
			continue;
		}
		fprintf(f, "| %s | %s |\n| --- | ---: |\n", kinds[k].column, kinds[k].unit);
		for (size_t i = 0; i < tl->n; i++)
			md_pair(f, tl->v[i].key, value(&kinds[k], tl->v[i].n, num, sizeof num));
	}
	fputc('\n', f);
}

static void md_attendees(FILE *f, const struct rpt_figures *g)
{
	char num[NUM_LEN];

	fputs("## Attendees\n\n", f);
	if (!g->n_attendees) {
		fputs("None.\n\n", f);
		return;
	}
	fputs("| Name | Role | Country | Minutes present |\n| --- | --- | --- | ---: |\n", f);
	for (size_t i = 0; i < g->n_attendees; i++) {
		const struct rpt_attendee *a = &g->attendees[i];

		fputs("| ", f);
		md(f, attendee_name(a));
		fputs(" | ", f);
		md(f, a->role);
		fputs(" | ", f);
		md(f, attendee_country(a));
		fprintf(f, " | %s |\n", rpt_minutes(a->ms, num, sizeof num));
	}
	fputc('\n', f);
}

static void md_notes(FILE *f, const struct rpt_report *r)
{
	const struct rpt_log *log = r->log;
	size_t crashed = crashed_runs(log);

	fputs("## Notes\n\n", f);
	fprintf(f, "- Lines in the log: %zu; relay runs: %zu.\n", log->lines, log->n_runs);
	if (log->not_json)
		fprintf(f, "- Lines skipped, not JSON (a line torn by a crash, say): %zu.\n",
		        log->not_json);
	if (log->invalid)
		fprintf(f, "- Lines skipped, not an event of a known run and connection: %zu.\n",
		        log->invalid);
	if (crashed)
		fprintf(
		    f,
		    "- Relay runs that ended without a clean stop (their connections end at the "
		    "run's last log line): %zu.\n",
		    crashed);
	if (r->store && r->event.fig->not_in_store)
		fprintf(f,
		        "- Participants whose id the store lacks (their country, sector and gender "
		        "count as \"" RPT_NOT_GIVEN "\"): %zu.\n",
		        r->event.fig->not_in_store);
	fputs("- Participants are distinct invitees; anonymous listeners are counted apart, by "
	      "connection.\n"
	      "- Peak concurrent people counts an invitee once however many devices they use, and "
	      "each anonymous listener connection as one person.\n"
	      "- Minutes add up over connections: two listeners for ten minutes are twenty "
	      "minutes.\n",
	      f);
}

int rpt_render_md(FILE *f, const struct rpt_report *r)
{
	fputs("# Attendance", f);
	if (r->title) {
		fputs(": ", f);
		md(f, r->title);
	}
	fputs("\n\nFigures from the relay's attendance log", f);
	fputs(r->store ? " and the invitee store" : "", f);
	fputs(r->names ? ". With the list of attendees (--names): keep it private.\n\n"
	               : ". Aggregates only: no names or e-mail addresses.\n\n",
	      f);
	md_part(f, r, &r->event);
	if (r->names)
		md_attendees(f, r->event.fig);
	for (size_t i = 0; i < r->n_sessions; i++)
		md_part(f, r, &r->sessions[i]);
	md_notes(f, r);
	return ferror(f) ? -1 : 0;
}
