/* Messages, signals, clocks and JSON fields for the command-line tools. */
#include "client/toolkit.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/pcl.h"

volatile sig_atomic_t pcl_stop;
static volatile sig_atomic_t g_exit_status = 1;
static const char *g_prog = "puente";

void pcl_set_prog(const char *prog)
{
	g_prog = prog;
}

void pcl_vsay(const char *fmt, va_list ap)
{
	fputs(g_prog, stderr);
	fputs(": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void pcl_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pcl_vsay(fmt, ap);
	va_end(ap);
}

void pcl_note(bool quiet, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	pcl_vsay(fmt, ap);
	va_end(ap);
}

void pcl_fail(int *fatal, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pcl_vsay(fmt, ap);
	va_end(ap);
	if (!*fatal)
		*fatal = status;
}

int pcl_bad_usage(const char *synopsis, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pcl_vsay(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%sTry '%s --help' for more information.\n", synopsis, g_prog);
	return 2;
}

int pcl_common_option(int c, bool is_version, char **argv, const char *synopsis,
                      void (*usage)(FILE *), const char *version)
{
	if (c == 'h') {
		usage(stdout);
		return 0;
	}
	if (is_version) {
		printf("%s %s\n", g_prog, version);
		return 0;
	}
	if (c == ':')
		return pcl_bad_usage(synopsis, "option '%s' needs a value", argv[optind - 1]);
	return pcl_bad_usage(synopsis, "unknown option '%s'", argv[optind - 1]);
}

int pcl_target_option(struct pcl_target *target, const char *url, const char *token,
                      const char *token_file, const char *synopsis)
{
	char err[256];

	const char *ca = getenv("PUENTE_CA_FILE");

	if (pcl_target_resolve(target, url, token, token_file, getenv("PUENTE_TOKEN"), err,
	                       sizeof(err)) < 0)
		return pcl_bad_usage(synopsis, "%s", err);
	if (ca && *ca) {
		if (access(ca, R_OK) < 0)
			return pcl_bad_usage(synopsis, "PUENTE_CA_FILE %s: %s", ca,
			                     strerror(errno));
		pcl_set_ca_file(ca);
	}
	return -1;
}

bool pcl_parse_seconds(const char *arg, double max, double *seconds)
{
	char *end;

	errno = 0;
	*seconds = strtod(arg, &end);
	return !(errno || end == arg || *end || !(*seconds > 0) || *seconds > max);
}

bool pcl_parse_bundle(const char *arg, int *bundle)
{
	if (!strcmp(arg, "auto")) {
		*bundle = PCL_BUNDLE_AUTO;
		return true;
	}
	/* One digit: "01", "+1" or " 1" would be odd ways to ask. */
	if (arg[0] < '1' || arg[0] > '0' + PUENTE_MAX_BUNDLE || arg[1])
		return false;
	*bundle = arg[0] - '0';
	return true;
}

json_t *pcl_listener_hello(const char *agent, int bundle)
{
	json_t *m =
	    json_pack("{s:s, s:s, s:s}", "type", "core.hello", "role", "listener", "agent", agent);

	if (m && bundle != PCL_BUNDLE_UNSET &&
	    json_object_set_new(m, "bundle",
	                        bundle == PCL_BUNDLE_AUTO ? json_string("auto")
	                                                  : json_integer(bundle)) < 0) {
		json_decref(m);
		return NULL;
	}
	return m;
}

const char *pcl_optional_value(int argc, char **argv)
{
	if (optarg)
		return *optarg ? optarg : NULL;
	if (optind < argc && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

bool pcl_valid_name(const char *name, size_t len)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= 0x20 || name[i] == 0x7f)
			return false;
	return n > 0 && n < len;
}

static void on_signal(int sig)
{
	(void)sig;
	pcl_stop = 1;
}

void pcl_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};

	/* SA_RESETHAND: a second Ctrl-C ends the program at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void on_watchdog(int sig)
{
	(void)sig;
	_exit(g_exit_status);
}

void pcl_watchdog(unsigned seconds, int status)
{
	if (!seconds) {
		alarm(0);
		return;
	}
	g_exit_status = status;
	signal(SIGALRM, on_watchdog);
	alarm(seconds);
}

void pcl_close_wait(struct pcl_client *c, int64_t wait_ms, uint32_t slice_ms)
{
	if (pcl_close(c, 1000, "bye") == 0) {
		int64_t stop = pcl_mono_ms() + wait_ms;

		while (pcl_mono_ms() < stop && pcl_run_for(c, slice_ms) == 0)
			;
	}
}

int64_t pcl_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pcl_mono_ms(void)
{
	return pcl_mono_us() / 1000;
}

const char *pcl_str_field(const json_t *o, const char *key, char *buf, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));

	return pcl_sanitize(buf, cap, s ? s : "");
}

bool pcl_id_field(const json_t *o, const char *key, uint64_t *id)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return false;
	*id = (uint64_t)json_integer_value(v);
	return true;
}

bool pcl_valid_lang(const char *tag)
{
	size_t n = strlen(tag);

	if (!n || n >= PCL_LANG_LEN || !((tag[0] | 0x20) >= 'a' && (tag[0] | 0x20) <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = (char)(tag[i] | 0x20);

		if (!((c >= 'a' && c <= 'z') || (tag[i] >= '0' && tag[i] <= '9') || tag[i] == '-'))
			return false;
	}
	return true;
}
