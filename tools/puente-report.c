/*
 * puente-report: the event in numbers for the organisers, from the relay's
 * attendance log and (optionally) the invitee store: participants, anonymous
 * listeners, the peak, who came (role, country, sector, gender) and minutes
 * listened per channel and with captions per language; for each session and
 * for the whole event. Markdown or CSV, and an SVG chart. Aggregates only,
 * unless --names asks for the list of attendees.
 *
 * Sessions are the relay's runs unless --session names windows of time.
 * Exit status: 0 with a report, 1 when a file cannot be read or written,
 * 2 for bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <puente/access.h>

#include "client/toolkit.h"
#include "report/attendance.h"
#include "report/figures.h"
#include "report/grow.h"
#include "report/isotime.h"
#include "report/render.h"
#include "report/svg.h"

#define PROG     "puente-report"
#define NAME_LEN 64 /* a session's name: "2026-11-28 14:00Z" from a run's start */

struct options {
	const char *log, *store, *svg, *output;
	bool csv, names;
	struct rpt_scope *sessions; /* --session, in the order given */
	size_t n_sessions, cap_sessions;
};

/* What main builds and frees: the inputs, the scopes and their figures. */
struct report {
	struct options opt;
	struct puente_invitees store;
	struct rpt_log log;
	struct rpt_scope event;
	struct rpt_part *parts; /* the sessions */
	size_t n_parts;
	struct rpt_figures event_fig, *figs;
	char (*run_names)[NAME_LEN];
};

#define SYNOPSIS                                                                                   \
	"Usage: " PROG " --log FILE [--store FILE] [--session \"NAME=FROM/TO\"]... "               \
	"[--format md|csv] [--svg FILE] [--names] [--output FILE] [--help] [--version]\n"

static void usage(FILE *f)
{
	fputs(SYNOPSIS
	      "\n"
	      "The event in numbers for the organisers, from the relay's attendance log\n"
	      "and the invitee store: participants (also by role, country, sector and\n"
	      "gender), anonymous listener connections, the peak of people connected at\n"
	      "once, minutes listened per channel and minutes with captions per language,\n"
	      "for each session and for the whole event. Aggregates only: no names or\n"
	      "e-mail addresses unless --names.\n"
	      "\n"
	      "Options:\n"
	      "  --log FILE       the relay's attendance log (JSON Lines)\n"
	      "  --store FILE     the invitee store: countries, sectors, genders, names\n"
	      "  --session \"NAME=FROM/TO\"\n"
	      "                   a session from FROM to TO, ISO 8601 with a zone\n"
	      "                   (2026-11-28T09:00-05:00, 2026-11-28T14:00Z) or unix\n"
	      "                   seconds; repeat for each session. Without it, each run\n"
	      "                   of the relay is a session, named by its start (UTC), and\n"
	      "                   the whole event is every run; with it, the whole event\n"
	      "                   is the sessions given.\n"
	      "  --format md|csv  Markdown (default) or CSV: section,session,key,value\n"
	      "  --svg FILE       also write a bar chart of participants by country,\n"
	      "                   sector and gender (needs --store)\n"
	      "  --names          add the attendees: name, role, country, minutes present\n"
	      "                   (needs --store); the report is then personal data\n"
	      "  --output FILE    write the report there instead of standard output\n"
	      "  -h, --help       show this help and exit\n"
	      "  --version        show the version and exit\n"
	      "\n"
	      "Lines of the log that cannot be read (a line torn by a crash, say) and ids\n"
	      "the store lacks are counted in the notes; they never stop the report.\n"
	      "\n"
	      "Exit status: 0 with a report, 1 when a file cannot be read or written,\n"
	      "2 for bad usage.\n",
	      f);
}

#define bad_usage(...) pcl_bad_usage(SYNOPSIS, __VA_ARGS__)

/* "NAME=FROM/TO": NAME is all before the last '=' (times have none). */
static bool parse_session(char *arg, struct rpt_scope *s)
{
	char *eq = strrchr(arg, '='), *slash = eq ? strchr(eq + 1, '/') : NULL;
	char from[64];
	struct rpt_window w, *win;

	if (!slash || eq == arg || (size_t)(slash - eq) > sizeof from)
		return false;
	snprintf(from, sizeof from, "%.*s", (int)(slash - eq - 1), eq + 1);
	if (!rpt_time_parse(from, &w.from) || !rpt_time_parse(slash + 1, &w.to) || w.to <= w.from)
		return false;
	if (!(win = malloc(sizeof *win)))
		return false;
	*win = w;
	*eq = '\0'; /* the name, in place: argv lives as long as the report */
	*s = (struct rpt_scope){.name = arg, .windows = win, .n = 1, .run = -1};
	return true;
}

static bool same_file(const char *a, const char *b)
{
	struct stat x, y;

	return a && b && !stat(a, &x) && !stat(b, &y) && x.st_dev == y.st_dev &&
	       x.st_ino == y.st_ino;
}

/* An output that is an input: a slip of the keyboard that would destroy the attendance log. */
static bool overwrites(const char *out, const struct options *o)
{
	return same_file(out, o->log) || same_file(out, o->store);
}

/* Returns -1 to go on, or an exit status (help, version, bad usage). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_LOG = 256,
		OPT_STORE,
		OPT_SESSION,
		OPT_FORMAT,
		OPT_SVG,
		OPT_NAMES,
		OPT_OUTPUT,
		OPT_VERSION
	};
	static const struct option longopts[] = {
	    {"log", required_argument, NULL, OPT_LOG},
	    {"store", required_argument, NULL, OPT_STORE},
	    {"session", required_argument, NULL, OPT_SESSION},
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"svg", required_argument, NULL, OPT_SVG},
	    {"names", no_argument, NULL, OPT_NAMES},
	    {"output", required_argument, NULL, OPT_OUTPUT},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	struct rpt_scope *s;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_LOG:
			o->log = optarg;
			break;
		case OPT_STORE:
			o->store = optarg;
			break;
		case OPT_SESSION:
			if (!(s = rpt_grow(o->sessions, o->n_sessions, &o->cap_sessions,
			                   sizeof *s)))
				return bad_usage("out of memory");
			o->sessions = s;
			if (!parse_session(optarg, &s[o->n_sessions]))
				return bad_usage("bad --session '%s': expected NAME=FROM/TO, FROM "
				                 "before TO, ISO 8601 with a zone or unix seconds",
				                 optarg);
			o->n_sessions++;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "md") && strcmp(optarg, "csv"))
				return bad_usage("bad --format '%s': md or csv", optarg);
			o->csv = !strcmp(optarg, "csv");
			break;
		case OPT_SVG:
			o->svg = optarg;
			break;
		case OPT_NAMES:
			o->names = true;
			break;
		case OPT_OUTPUT:
			o->output = optarg;
			break;
		default:
			return pcl_common_option(c, c == OPT_VERSION || c == 'V', argv, SYNOPSIS,
			                         usage, PUENTE_VERSION);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!o->log)
		return bad_usage("--log FILE is needed: the relay's attendance log");
	if (o->names && !o->store)
		return bad_usage("--names needs --store FILE: names come from the invitee store");
	if (overwrites(o->output, o) || overwrites(o->svg, o))
		return bad_usage("--output and --svg must not name the log or the store: they "
		                 "would be overwritten");
	if (o->output && o->svg && !strcmp(o->output, o->svg))
		return bad_usage("--output and --svg name the same file: give each its own");
	if (o->svg && !o->store)
		return bad_usage("--svg needs --store FILE: the chart shows countries, sectors "
		                 "and genders from the invitee store");
	return -1;
}

static int cmp_window(const void *a, const void *b)
{
	const struct rpt_window *x = a, *y = b;

	return (x->from > y->from) - (x->from < y->from);
}

/* The whole event: every run, or the union of the --session windows (overlaps merged). */
static int event_scope(struct report *r)
{
	struct rpt_scope *e = &r->event;
	size_t n = r->opt.n_sessions ? r->opt.n_sessions : (r->log.n_runs ? 1 : 0);

	*e = (struct rpt_scope){.name = RPT_EVENT, .run = -1};
	if (!n)
		return 0;
	if (!(e->windows = malloc(n * sizeof *e->windows)))
		return -ENOMEM;
	if (!r->opt.n_sessions) {
		e->windows[0] = (struct rpt_window){r->log.runs[0].from, r->log.runs[0].to};
		for (size_t i = 1; i < r->log.n_runs; i++) {
			if (r->log.runs[i].from < e->windows[0].from)
				e->windows[0].from = r->log.runs[i].from;
			if (r->log.runs[i].to > e->windows[0].to)
				e->windows[0].to = r->log.runs[i].to;
		}
		e->n = 1;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		e->windows[i] = r->opt.sessions[i].windows[0];
	qsort(e->windows, n, sizeof *e->windows, cmp_window);
	for (size_t i = 0; i < n; i++) {
		if (e->n && e->windows[i].from <= e->windows[e->n - 1].to) {
			if (e->windows[i].to > e->windows[e->n - 1].to)
				e->windows[e->n - 1].to = e->windows[i].to;
		} else {
			e->windows[e->n++] = e->windows[i];
		}
	}
	return 0;
}

/* Without --session, each run is one: named by its start, its window, its connections. */
static int run_sessions(struct report *r)
{
	struct options *o = &r->opt;

	if (o->n_sessions || !r->log.n_runs)
		return 0;
	o->sessions = calloc(r->log.n_runs, sizeof *o->sessions);
	r->run_names = calloc(r->log.n_runs, sizeof *r->run_names);
	if (!o->sessions || !r->run_names)
		return -ENOMEM;
	for (size_t i = 0; i < r->log.n_runs; i++) {
		struct rpt_scope *s = &o->sessions[i];
		size_t same = 1;

		if (!(s->windows = malloc(sizeof *s->windows)))
			return -ENOMEM;
		o->n_sessions++;
		*s->windows = (struct rpt_window){r->log.runs[i].from, r->log.runs[i].to};
		s->n = 1;
		s->run = (long)i;
		s->name = rpt_time_format(r->log.runs[i].from, false, r->run_names[i], NAME_LEN);
		/* Runs that started within the same minute (a quick restart) get "#2", "#3". */
		for (size_t j = 0; j < i; j++) {
			char other[NAME_LEN];

			rpt_time_format(r->log.runs[j].from, false, other, sizeof other);
			same += !strcmp(other, s->name);
		}
		if (same > 1) {
			size_t n = strlen(s->name);

			snprintf(r->run_names[i] + n, NAME_LEN - n, " #%zu", same);
		}
	}
	return 0;
}

static int compute(struct report *r)
{
	const struct puente_invitees *store = r->opt.store ? &r->store : NULL;
	int rc;

	if ((rc = run_sessions(r)) < 0 || (rc = event_scope(r)) < 0)
		return rc;
	if ((rc = rpt_figures_compute(&r->log, store, &r->event, &r->event_fig)) < 0)
		return rc;
	r->figs = calloc(r->opt.n_sessions + 1, sizeof *r->figs);
	r->parts = calloc(r->opt.n_sessions + 1, sizeof *r->parts);
	if (!r->figs || !r->parts)
		return -ENOMEM;
	for (; r->n_parts < r->opt.n_sessions; r->n_parts++) {
		if ((rc = rpt_figures_compute(&r->log, store, &r->opt.sessions[r->n_parts],
		                              &r->figs[r->n_parts])) < 0)
			return rc;
		r->parts[r->n_parts] =
		    (struct rpt_part){&r->opt.sessions[r->n_parts], &r->figs[r->n_parts]};
	}
	return 0;
}

static int read_inputs(struct report *r)
{
	char err[512];
	FILE *f;
	int rc;

	if (r->opt.store && puente_invitees_load(r->opt.store, &r->store, err, sizeof err) < 0) {
		pcl_warn("cannot read the invitee store: %s", err);
		return 1;
	}
	if (!(f = fopen(r->opt.log, "r"))) {
		pcl_warn("cannot read the attendance log %s: %s", r->opt.log, strerror(errno));
		return 1;
	}
	rc = rpt_log_read(f, &r->log);
	fclose(f);
	if (rc < 0) {
		pcl_warn("cannot read the attendance log %s: %s", r->opt.log, strerror(-rc));
		return 1;
	}
	if (r->log.not_json || r->log.invalid)
		pcl_warn("%zu of %zu lines of %s skipped (see the notes of the report)",
		         r->log.not_json + r->log.invalid, r->log.lines, r->opt.log);
	return 0;
}

/* Writes to path (or standard output for NULL); true when every byte got there. */
static bool write_to(const char *path, const char *what, const struct rpt_report *rep,
                     int (*writer)(FILE *, const struct rpt_report *))
{
	FILE *f = path ? fopen(path, "w") : stdout;
	int rc;

	if (!f) {
		pcl_warn("cannot write the %s to %s: %s", what, path, strerror(errno));
		return false;
	}
	rc = writer(f, rep);
	if ((path ? fclose(f) : fflush(f)) != 0)
		rc = -1;
	if (rc < 0)
		pcl_warn("cannot write the %s to %s: %s", what, path ? path : "standard output",
		         strerror(errno));
	return rc == 0;
}

static int svg_writer(FILE *f, const struct rpt_report *rep)
{
	return rpt_svg_write(f, rep->title, rep->event.fig);
}

static void free_report(struct report *r)
{
	for (size_t i = 0; i < r->n_parts; i++)
		rpt_figures_free(&r->figs[i]);
	for (size_t i = 0; i < r->opt.n_sessions; i++)
		free(r->opt.sessions[i].windows);
	rpt_figures_free(&r->event_fig);
	free(r->opt.sessions);
	free(r->event.windows);
	free(r->figs);
	free(r->parts);
	free(r->run_names);
	rpt_log_free(&r->log);
	if (r->opt.store)
		puente_invitees_free(&r->store);
}

int main(int argc, char **argv)
{
	static struct report r;
	struct rpt_report rep;
	int status;
	bool ok;

	pcl_set_prog(PROG);
	status = parse_args(argc, argv, &r.opt);
	if (status >= 0 || (status = read_inputs(&r)) > 0) {
		free_report(&r);
		return status;
	}
	if (compute(&r) < 0) {
		pcl_warn("out of memory");
		free_report(&r);
		return 1;
	}
	if (r.event_fig.not_in_store)
		pcl_warn("participants whose id %s lacks: %zu (see the notes of the report)",
		         r.opt.store, r.event_fig.not_in_store);
	rep = (struct rpt_report){
	    .title = r.opt.store ? r.store.event : NULL,
	    .log = &r.log,
	    .store = r.opt.store != NULL,
	    .names = r.opt.names,
	    .event = {&r.event, &r.event_fig},
	    .sessions = r.parts,
	    .n_sessions = r.n_parts,
	};
	ok = write_to(r.opt.output, "report", &rep, r.opt.csv ? rpt_render_csv : rpt_render_md);
	if (r.opt.svg)
		ok = write_to(r.opt.svg, "chart", &rep, svg_writer) && ok;
	free_report(&r);
	return ok ? 0 : 1;
}
