/*
 * puente-meter: the technician's meters in a terminal (over ssh, say). It
 * connects to a puente relay as a technician (core.hello role technician)
 * and shows the levels plugin's levels.update messages (README.md, levels
 * plugin): peak, RMS and EBU R128 loudness per channel, interpreter
 * microphones, listener health, and alarms.
 *
 * On a terminal the meters refresh in place (ANSI escapes). When stdout is
 * not a terminal, or with --once, it prints plain lines instead, one per
 * channel:
 *   meter channel=floor peak=-20.0 rms=-23.0 momentary=-23.0 short_term=-23.0
 *         integrated=-23.0 clips=0 listeners=1
 * (on one line), one per microphone (mic client=..), one health line, and
 * one line per alarm event: alarm state=raised id=.. kind=.. channel=..
 * message=... Plain output without --once prints a snapshot every second.
 *
 * Exit status: 0 when level updates arrived, 1 otherwise, 2 for bad usage.
 * One thread: the client loop.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/pcl.h"
#include "client/toolkit.h"

#define PROG  "puente-meter"
#define AGENT PROG "/" PUENTE_VERSION

#define SLICE_MS           100   /* how often the loop looks at signals and deadlines */
#define CLOSE_WAIT_MS      1000  /* closing handshake */
#define WELCOME_TIMEOUT_MS 10000 /* a relay greets at once */
#define ONCE_TIMEOUT_MS    10000 /* --once: how long to wait for updates */
#define ONCE_AFTER         3     /* --once prints the 3rd update: the meters have settled */
#define PLAIN_EVERY_MS     1000  /* plain output: one snapshot a second */
#define PLUGIN_WAIT_MS     3000  /* technician, but no update: the plugin is not loaded */
#define MAX_SECONDS        (366.0 * 24 * 3600)
#define BAR_WIDTH          40
#define DB_FLOOR           (-60.0)
#define ALARMS_SHOWN       6
#define TEXT_LEN           256
#define NAME_LEN           64

struct options {
	const char *url;
	const char *token, *token_file; /* --token, --token-file */
	struct pcl_target target;       /* --url and the token, resolved */
	double seconds;                 /* 0: until a signal (or --once) */
	bool once;
};

struct alarm_line {
	char text[TEXT_LEN * 4];
};

struct meter {
	struct options opt;
	struct pcl_client *cl;
	bool tty; /* refresh in place */
	bool opened, welcomed, technician, closing;
	int fatal; /* exit status when it cannot go on, else 0 */
	int64_t opened_ms, hello_ms;
	unsigned long long updates;
	json_t *last; /* the newest levels.update (a reference of ours) */
	int64_t last_plain_ms;
	bool printed_once;
	int drawn_lines;                        /* lines of the last in-place drawing */
	struct alarm_line alarms[ALARMS_SHOWN]; /* newest last, for the drawing */
	int n_alarms;
	unsigned long long alarm_events;
};

#define fail(m, status, ...) pcl_fail(&(m)->fatal, status, __VA_ARGS__)
#define warn(...)            pcl_warn(__VA_ARGS__)
#define mono_ms()            pcl_mono_ms()

/* --- fields --- */

/* A value for a key=value field: printable ASCII, no spaces, never empty. */
static const char *token(const json_t *o, const char *key, char *buf, size_t cap)
{
	const json_t *v = json_object_get(o, key);
	const char *s = json_string_value(v);
	size_t i = 0;

	if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	for (; s && s[i] && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	if (!i)
		snprintf(buf, cap, "?");
	return buf;
}

/* A dB figure: one decimal, "-inf" for null (the wire's -inf), "?" when absent. */
static const char *dbf(const json_t *o, const char *key, char *buf, size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_number(v))
		snprintf(buf, cap, "%.1f", json_number_value(v));
	else if (json_is_null(v))
		snprintf(buf, cap, "-inf");
	else
		snprintf(buf, cap, "?");
	return buf;
}

/* A count or figure: integers as such, reals with digits decimals, else "?". */
static const char *numf(const json_t *o, const char *key, int digits, char *buf, size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, cap, "%.*f", digits, json_real_value(v));
	else
		snprintf(buf, cap, "?");
	return buf;
}

/* The listener count of a channel: its own field, else health.listeners_by_channel. */
static const char *listeners(const json_t *upd, const json_t *ch, char *buf, size_t cap)
{
	const json_t *by = json_object_get(json_object_get(upd, "health"), "listeners_by_channel");
	const char *name = json_string_value(json_object_get(ch, "name"));

	if (json_is_number(json_object_get(ch, "listeners")) || !name)
		return numf(ch, "listeners", 0, buf, cap);
	return numf(by, name, 0, buf, cap);
}

/* --- output --- */

/* Appends one formatted line to the drawing (or prints it plainly). */
struct out {
	struct meter *m;
	int lines;
};

static void line(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (o->m->tty)
		fputs("\033[K", stdout); /* clear what the last drawing left on this line */
	fputc('\n', stdout);
	o->lines++;
}

static void bar(char *dst, const json_t *peak, const json_t *hold)
{
	int n = 0, h = -1;

	if (json_is_number(peak)) {
		double p = json_number_value(peak);

		n = (int)lround((fmax(DB_FLOOR, fmin(0.0, p)) - DB_FLOOR) / -DB_FLOOR * BAR_WIDTH);
	}
	if (json_is_number(hold)) {
		double p = json_number_value(hold);

		h = (int)lround((fmax(DB_FLOOR, fmin(0.0, p)) - DB_FLOOR) / -DB_FLOOR * BAR_WIDTH) -
		    1;
	}
	for (int i = 0; i < BAR_WIDTH; i++)
		dst[i] = i < n ? '#' : '.';
	if (h >= 0 && h < BAR_WIDTH)
		dst[h] = '|';
	dst[BAR_WIDTH] = '\0';
}

static void print_update(struct meter *m, const json_t *u)
{
	struct out o = {.m = m};
	const json_t *chans = json_object_get(u, "channels");
	const json_t *mics = json_object_get(u, "mics");
	const json_t *health = json_object_get(u, "health");
	const json_t *v;
	size_t i;
	char a[NAME_LEN], b[32], c[32], d[32], e[32], f[32], g[32], h[32], k[32];
	char barbuf[BAR_WIDTH + 1];

	if (m->tty) {
		/* Back to the top of the last drawing. */
		if (m->drawn_lines)
			printf("\033[%dF", m->drawn_lines);
		line(&o, "puente-meter  %s  updates=%llu  (dBFS; loudness in LUFS; Ctrl-C quits)",
		     m->opt.target.url, m->updates);
		json_array_foreach(chans, i, v)
		{
			bar(barbuf, json_object_get(v, "peak"), json_object_get(v, "peak_hold"));
			line(&o,
			     "%-10.10s [%s] peak %6s rms %6s  M %6s S %6s I %6s LRA %4s  clips %s  "
			     "listeners %s",
			     token(v, "name", a, sizeof(a)), barbuf, dbf(v, "peak", b, sizeof(b)),
			     dbf(v, "rms", c, sizeof(c)), dbf(v, "momentary", d, sizeof(d)),
			     dbf(v, "short_term", e, sizeof(e)), dbf(v, "integrated", f, sizeof(f)),
			     numf(v, "lra", 1, g, sizeof(g)), numf(v, "clips", 0, h, sizeof(h)),
			     listeners(u, v, k, sizeof(k)));
		}
		json_array_foreach(mics, i, v)
		{
			char who[NAME_LEN + 40];
			char ch[NAME_LEN];

			snprintf(who, sizeof(who), "mic %s>%s", token(v, "client", a, sizeof(a)),
			         token(v, "channel", ch, sizeof(ch)));
			bar(barbuf, json_object_get(v, "peak"), NULL);
			line(&o,
			     "%-10.10s [%s] peak %6s rms %6s  M %6s  clips %s  loss %s%%  jitter "
			     "%s ms",
			     who, barbuf, dbf(v, "peak", b, sizeof(b)), dbf(v, "rms", c, sizeof(c)),
			     dbf(v, "momentary", d, sizeof(d)), numf(v, "clips", 0, e, sizeof(e)),
			     numf(v, "loss_pct", 1, f, sizeof(f)),
			     numf(v, "jitter_ms", 1, g, sizeof(g)));
		}
		line(&o, "health: clients %s  dropped %s  stalled %s  refused %s  lagging %zu",
		     numf(health, "clients", 0, b, sizeof(b)),
		     numf(health, "dropped", 0, c, sizeof(c)),
		     numf(health, "stalled", 0, d, sizeof(d)),
		     numf(health, "refused", 0, e, sizeof(e)),
		     json_array_size(json_object_get(health, "lagging")));
		line(&o, "alarms active: %zu", json_array_size(json_object_get(u, "alarms")));
		json_array_foreach(json_object_get(u, "alarms"), i, v)
		{
			char msg[TEXT_LEN];
			const char *s = json_string_value(json_object_get(v, "message"));

			line(&o, "  ! %s", pcl_sanitize(msg, sizeof(msg), s ? s : ""));
		}
		for (int j = 0; j < m->n_alarms; j++)
			line(&o, "  %s", m->alarms[j].text);
		fputs("\033[J", stdout); /* a shorter drawing leaves nothing below */
		m->drawn_lines = o.lines;
		fflush(stdout);
		return;
	}
	json_array_foreach(chans, i, v)
	{
		printf("meter channel=%s peak=%s rms=%s momentary=%s short_term=%s integrated=%s "
		       "clips=%s listeners=%s\n",
		       token(v, "name", a, sizeof(a)), dbf(v, "peak", b, sizeof(b)),
		       dbf(v, "rms", c, sizeof(c)), dbf(v, "momentary", d, sizeof(d)),
		       dbf(v, "short_term", e, sizeof(e)), dbf(v, "integrated", f, sizeof(f)),
		       numf(v, "clips", 0, g, sizeof(g)), listeners(u, v, h, sizeof(h)));
	}
	json_array_foreach(mics, i, v)
	{
		char ch[NAME_LEN];

		printf("mic client=%s channel=%s peak=%s rms=%s momentary=%s clips=%s loss_pct=%s "
		       "jitter_ms=%s\n",
		       token(v, "client", a, sizeof(a)), token(v, "channel", ch, sizeof(ch)),
		       dbf(v, "peak", b, sizeof(b)), dbf(v, "rms", c, sizeof(c)),
		       dbf(v, "momentary", d, sizeof(d)), numf(v, "clips", 0, e, sizeof(e)),
		       numf(v, "loss_pct", 1, f, sizeof(f)), numf(v, "jitter_ms", 1, g, sizeof(g)));
	}
	printf("health clients=%s dropped=%s stalled=%s refused=%s lagging=%zu alarms=%zu\n",
	       numf(health, "clients", 0, b, sizeof(b)), numf(health, "dropped", 0, c, sizeof(c)),
	       numf(health, "stalled", 0, d, sizeof(d)), numf(health, "refused", 0, e, sizeof(e)),
	       json_array_size(json_object_get(health, "lagging")),
	       json_array_size(json_object_get(u, "alarms")));
	fflush(stdout);
}

/* --- messages --- */

static void on_update(struct meter *m, json_t *msg)
{
	int64_t now = mono_ms();

	m->updates++;
	json_decref(m->last);
	m->last = json_incref(msg);
	if (m->opt.once) {
		if (m->updates >= ONCE_AFTER && !m->printed_once) {
			print_update(m, msg);
			m->printed_once = true;
			pcl_stop = 1;
		}
	} else if (m->tty || now - m->last_plain_ms >= PLAIN_EVERY_MS) {
		m->last_plain_ms = now;
		print_update(m, msg);
	}
}

static void on_alarm(struct meter *m, const json_t *msg)
{
	char state[NAME_LEN], id[TEXT_LEN], kind[NAME_LEN], chan[NAME_LEN], t[32], text[TEXT_LEN];
	const char *s = json_string_value(json_object_get(msg, "message"));
	char entry[sizeof(m->alarms[0].text)];

	m->alarm_events++;
	token(msg, "state", state, sizeof(state));
	token(msg, "id", id, sizeof(id));
	token(msg, "kind", kind, sizeof(kind));
	token(msg, "channel", chan, sizeof(chan));
	numf(msg, "t", 0, t, sizeof(t));
	pcl_sanitize(text, sizeof(text), s ? s : "");
	if (!m->tty) {
		printf("alarm state=%s id=%s kind=%s channel=%s t=%s message=%s\n", state, id, kind,
		       chan, t, text);
		fflush(stdout);
		return;
	}
	{
		time_t secs = (time_t)(json_is_integer(json_object_get(msg, "t"))
		                           ? json_integer_value(json_object_get(msg, "t")) / 1000
		                           : time(NULL));
		struct tm tm;
		char hms[16] = "??:??:??";

		if (localtime_r(&secs, &tm))
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		snprintf(entry, sizeof(entry), "%s alarm %s %s: %s", hms, state, id, text);
	}
	if (m->n_alarms == ALARMS_SHOWN) {
		memmove(m->alarms, m->alarms + 1, sizeof(m->alarms[0]) * (ALARMS_SHOWN - 1));
		m->n_alarms--;
	}
	snprintf(m->alarms[m->n_alarms++].text, sizeof(m->alarms[0].text), "%s", entry);
	fputc('\a', stdout); /* the terminal's bell: an audible alert */
	if (m->last)
		print_update(m, m->last);
}

static int send_msg(struct meter *m, json_t *msg)
{
	int err = msg ? pcl_send_json(m->cl, msg) : -ENOMEM;

	json_decref(msg);
	if (err < 0)
		fail(m, 1, "cannot send to the relay: %s", strerror(-err));
	return err;
}

static void on_json(void *user, const char *type, json_t *msg)
{
	struct meter *m = user;
	char a[NAME_LEN], b[TEXT_LEN];

	if (!strcmp(type, "core.welcome")) {
		m->welcomed = true;
		send_msg(m, json_pack("{s:s, s:s, s:s}", "type", "core.hello", "role", "technician",
		                      "agent", AGENT));
	} else if (!strcmp(type, "core.hello")) {
		const char *role = json_string_value(json_object_get(msg, "role"));

		if (!role || strcmp(role, "technician")) {
			fail(m, 1, "the relay did not accept us as a technician (role %s)",
			     token(msg, "role", a, sizeof(a)));
			return;
		}
		m->technician = true;
		m->hello_ms = mono_ms();
	} else if (!strcmp(type, "levels.update")) {
		on_update(m, msg);
	} else if (!strcmp(type, "levels.alarm")) {
		on_alarm(m, msg);
	} else if (!strcmp(type, "core.error")) {
		const char *s = json_string_value(json_object_get(msg, "message"));

		warn("the relay refused: %s: %s", token(msg, "code", a, sizeof(a)),
		     pcl_sanitize(b, sizeof(b), s ? s : ""));
	}
	/* Other types (interpretation.state, core.clock, ...) are not ours to show. */
}

static void on_open(void *user)
{
	struct meter *m = user;

	m->opened = true;
	m->opened_ms = mono_ms();
}

static void on_closed(void *user, int code, const char *reason)
{
	struct meter *m = user;

	if (!m->opened)
		fail(m, 1, "cannot connect to %s: %s", m->opt.target.url, reason);
	else if (!m->closing && !m->fatal)
		warn("the connection closed: %d %s", code, reason);
}

/* --- command line --- */

#define SYNOPSIS                                                                                   \
	"Usage: " PROG " [--url URL|LINK] [--token TOKEN | --token-file FILE]\n"                   \
	"                    [--once] [--seconds N] [--help] [--version]\n"

static void usage(FILE *f)
{
	fputs(SYNOPSIS
	      "\n"
	      "Show a puente relay's meters in a terminal: connect as a technician and\n"
	      "display the levels plugin's figures for every channel and interpreter\n"
	      "microphone (peak, RMS, EBU R128 loudness, clips, listeners), the listener\n"
	      "health and the alarms. On a terminal the display refreshes in place;\n"
	      "otherwise (or with --once) it prints plain key=value lines:\n"
	      "  meter channel=floor peak=-20.0 rms=-23.0 momentary=-23.0 short_term=-23.0\n"
	      "        integrated=-23.0 clips=0 listeners=1      (one line per channel)\n"
	      "  mic client=5 channel=en peak=... loss_pct=... jitter_ms=...\n"
	      "  health clients=3 dropped=0 stalled=0 refused=0 lagging=0 alarms=0\n"
	      "  alarm state=raised id=silence:floor kind=silence channel=floor t=... message=...\n"
	      "dB figures are dBFS (loudness in LUFS); -inf is silence.\n"
	      "\n"
	      "Options:\n"
	      "  --url URL      relay endpoint (default " PCL_DEFAULT_URL ");\n"
	      "                 a URL without port or path uses 8080 and /ws; or a\n"
	      "                 technician's personal link,\n"
	      "                 http://HOST:PORT/levels/#t=TOKEN: the tool takes its\n"
	      "                 token and connects to ws://HOST:PORT/ws\n"
	      "  --token TOKEN  the token of a personal link (what follows #t=); without\n"
	      "                 it, from --token-file, the --url link or the environment\n"
	      "                 variable PUENTE_TOKEN, in that order\n"
	      "  --token-file F read the token from the first line of file F (keeps it\n"
	      "                 out of the process list and the shell history)\n"
	      "  --once         print one snapshot (after the meters settle) and exit\n"
	      "  --seconds N    stop after N seconds (default: run until Ctrl-C)\n"
	      "  -h, --help     show this help and exit\n"
	      "  --version      show the version and exit\n"
	      "\n" PCL_HELP_LINKS "\n"
	      "Exit status: 0 when level updates arrived, 1 when none did (no relay, not\n"
	      "accepted as a technician, or no levels plugin), 2 for bad usage.\n",
	      f);
}

#define bad_usage(...) pcl_bad_usage(SYNOPSIS, __VA_ARGS__)

/* Returns -1 to go on, or an exit status (help, version, bad usage). */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_URL = 256, OPT_TOKEN, OPT_TOKEN_FILE, OPT_ONCE, OPT_SECONDS, OPT_VERSION };
	static const struct option longopts[] = {
	    {"url", required_argument, NULL, OPT_URL},
	    {"token", required_argument, NULL, OPT_TOKEN},
	    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
	    {"once", no_argument, NULL, OPT_ONCE},
	    {"seconds", required_argument, NULL, OPT_SECONDS},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {0},
	};
	int c;

	*o = (struct options){.url = PCL_DEFAULT_URL};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
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
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_SECONDS:
			if (!pcl_parse_seconds(optarg, MAX_SECONDS, &o->seconds))
				return bad_usage("bad --seconds '%s': a number of seconds above 0",
				                 optarg);
			break;
		default:
			return pcl_common_option(c, c == OPT_VERSION || c == 'V', argv, SYNOPSIS,
			                         usage, PUENTE_VERSION);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	return pcl_target_option(&o->target, o->url, o->token, o->token_file, SYNOPSIS);
}

/* --- main --- */

static void run(struct meter *m)
{
	int64_t start = mono_ms();
	int64_t end = m->opt.seconds ? start + (int64_t)(m->opt.seconds * 1000) : INT64_MAX;
	bool warned = false;

	if (m->opt.once && end - start > ONCE_TIMEOUT_MS)
		end = start + ONCE_TIMEOUT_MS;
	while (!pcl_stop && !m->fatal) {
		int64_t now = mono_ms();

		if (now >= end)
			break;
		if (m->opened && !m->welcomed && now - m->opened_ms > WELCOME_TIMEOUT_MS) {
			fail(m, 1, "no core.welcome from %s: is it a puente relay?",
			     m->opt.target.url);
			break;
		}
		if (m->technician && !m->updates && !warned && now - m->hello_ms > PLUGIN_WAIT_MS) {
			warn("no levels.update yet: does the relay load the levels plugin?");
			warned = true;
		}
		if (pcl_run_for(m->cl, (uint32_t)(end - now < SLICE_MS ? end - now : SLICE_MS)) < 0)
			break;
	}
	m->closing = true;
	if (pcl_close(m->cl, 1000, "bye") == 0) {
		int64_t stop = mono_ms() + CLOSE_WAIT_MS;

		while (mono_ms() < stop && pcl_run_for(m->cl, SLICE_MS) == 0)
			;
	}
}

int main(int argc, char **argv)
{
	static const struct pcl_callbacks cb = {
	    .open = on_open,
	    .json = on_json,
	    .closed = on_closed,
	};
	static struct meter m;
	int status, err;

	pcl_set_prog(PROG);
	status = parse_args(argc, argv, &m.opt);
	if (status >= 0)
		return status;
	m.tty = !m.opt.once && isatty(STDOUT_FILENO);
	pcl_catch_signals();

	m.cl = pcl_create(m.opt.target.connect, &cb, &m, &err);
	if (!m.cl)
		fail(&m, 1, "cannot start a client for %s: %s", m.opt.target.url, strerror(-err));
	else
		run(&m);
	/* --once that timed out before the meters settled: print what there is. */
	if (m.opt.once && !m.printed_once && m.last)
		print_update(&m, m.last);
	if (!m.updates && !m.fatal)
		warn("no levels.update arrived from %s", m.opt.target.url);
	fprintf(stderr, PROG ": updates=%llu alarm_events=%llu\n", m.updates, m.alarm_events);
	status = m.fatal ? m.fatal : m.updates ? 0 : 1;
	json_decref(m.last);
	pcl_destroy(m.cl);
	return status;
}
