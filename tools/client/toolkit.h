/*
 * What the command-line tools share besides the client itself: their
 * messages on stderr ("PROG: text"), Ctrl-C and SIGTERM, a teardown
 * watchdog, the monotonic clock, and reading fields of relay messages.
 */
#ifndef PCL_TOOLKIT_H
#define PCL_TOOLKIT_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A language tag's room, NUL included: up to 35 characters. */
#define PCL_LANG_LEN 36

/* The --help paragraph of every tool that connects with a personal link. */
#define PCL_HELP_LINKS                                                                             \
	"With a token the tool connects to URL?t=TOKEN; it never prints the token.\n"              \
	"A refused link ends the run with the relay's HTTP status and what it\n"                   \
	"means (401 missing, invalid or expired; 403 revoked; 409 in use on\n"                     \
	"another device; 429 too many attempts) and exit status 1. An https link\n"                \
	"is spoken as wss://, its certificate checked against the system's\n"                      \
	"authorities, or against the file PUENTE_CA_FILE names (a self-signed relay).\n"

/* Set by SIGINT or SIGTERM once pcl_catch_signals() ran. */
extern volatile sig_atomic_t pcl_stop;

/* The program name every message starts with; set once, first thing. */
void pcl_set_prog(const char *prog);

/* "PROG: " fmt "\n" on stderr. */
void pcl_vsay(const char *fmt, va_list ap);
/* Something went wrong but the run goes on: always printed. */
void pcl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Progress for people: nothing when quiet. */
void pcl_note(bool quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The run cannot go on: printed, and *fatal takes status unless it has one. */
void pcl_fail(int *fatal, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A bad command line: the message, the synopsis and a pointer to --help; returns 2. */
int pcl_bad_usage(const char *synopsis, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The options every tool shares and getopt's own errors, for the default
 * case of a tool's option switch: -h/--help prints usage, is_version prints
 * "PROG VERSION", ':' and '?' are bad usage. Returns the exit status.
 */
int pcl_common_option(int c, bool is_version, char **argv, const char *synopsis,
                      void (*usage)(FILE *), const char *version);

/* --seconds: a number above 0 and at most max. */
bool pcl_parse_seconds(const char *arg, double max, double *seconds);
/*
 * The value of an option with an optional one (getopt_long, "+" mode), such
 * as --play [DEVICE]: --play=VALUE, or the next word unless it starts with
 * '-' (optind steps past it); NULL for none.
 */
const char *pcl_optional_value(int argc, char **argv);
/*
 * --bundle N|auto of the listening tools: core.hello's "bundle", the packets
 * the relay may put in one binary message (1..PUENTE_MAX_BUNDLE; 1 never
 * bundles) or "auto", its choice. PCL_BUNDLE_UNSET leaves the field out,
 * which the relay takes as "auto" too.
 */
#define PCL_BUNDLE_UNSET (-1)
#define PCL_BUNDLE_AUTO  0
/* "auto" or a whole number 1..PUENTE_MAX_BUNDLE into *bundle; false for anything else. */
bool pcl_parse_bundle(const char *arg, int *bundle);
/* core.hello as a listener with agent, and "bundle" unless PCL_BUNDLE_UNSET. NULL: no memory. */
json_t *pcl_listener_hello(const char *agent, int bundle);
/* A channel or booth name: 1 to len - 1 characters, no spaces or control characters. */
bool pcl_valid_name(const char *name, size_t len);

/*
 * --url, --token, --token-file and the environment's PUENTE_TOKEN into
 * *target (pcl_target_resolve), and PUENTE_CA_FILE, the certificates a
 * wss:// relay is checked against (pcl_set_ca_file). Returns -1 to go on,
 * or 2 after a bad-usage message, which never shows the token.
 */
struct pcl_target;
int pcl_target_option(struct pcl_target *target, const char *url, const char *token,
                      const char *token_file, const char *synopsis);

/* SIGINT and SIGTERM set pcl_stop (a second one ends the program at once); SIGPIPE is ignored. */
void pcl_catch_signals(void);
/* After seconds the process exits with status, whatever hangs; 0 seconds disarms it. */
void pcl_watchdog(unsigned seconds, int status);

/* Says goodbye (close code 1000) and serves the closing handshake for up to wait_ms. */
struct pcl_client;
void pcl_close_wait(struct pcl_client *c, int64_t wait_ms, uint32_t slice_ms);

/* CLOCK_MONOTONIC in milliseconds, and in microseconds. */
int64_t pcl_mono_ms(void);
int64_t pcl_mono_us(void);

/* A string field, safe for a terminal (pcl_sanitize); "" when missing. Returns buf. */
const char *pcl_str_field(const json_t *o, const char *key, char *buf, size_t cap);
/* A client id field: true with *id set, false for null, missing or not an id. */
bool pcl_id_field(const json_t *o, const char *key, uint64_t *id);
/* A language tag: a letter, then letters, digits and '-', at most PCL_LANG_LEN - 1. */
bool pcl_valid_lang(const char *tag);

#endif
