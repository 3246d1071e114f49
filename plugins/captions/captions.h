/*
 * The captions plugin's state, shared by its files and its tests (which reach
 * it through the fake host's state pointer). See captions.c.
 */
#ifndef PUENTE_CAPTIONS_H
#define PUENTE_CAPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <puente/plugin.h>

#include "archive.h"
#include "cues.h"

#define CAPTIONS_MAX_NAME  31 /* a captioner's name */
#define CAPTIONS_TOKEN_MIN 16 /* a token from the config, in characters */
#define CAPTIONS_TOKEN_MAX 128

/* The open (not yet final) line of a captioner in one language. */
struct open_line {
	char id[CAPTIONS_MAX_ID + 1]; /* "" when none is open */
	uint64_t start;
};

/* A named captioner of the HTTP API, or a WebSocket client in role captioner. */
struct captioner {
	char name[CAPTIONS_MAX_NAME + 1]; /* "" for a WebSocket client */
	puente_client_id client;          /* the WebSocket client; 0 for HTTP */
	char token[CAPTIONS_TOKEN_MAX + 1];
	size_t token_len;
	bool fixed_token; /* from the config: never logged */
	bool may[CAPTIONS_MAX_LANGS];
	struct bucket bucket;
	struct seq_state seq;
	struct open_line open[CAPTIONS_MAX_LANGS];
	uint64_t accepted, duplicates, gaps, restarts;
};

/* Every refusal and oddity, logged when the plugin stops. */
struct captions_counts {
	uint64_t cues_ws, cues_http, partials, finals;
	uint64_t forbidden, bad_field, too_long, bad_text, rate_limited;
	uint64_t no_token, bad_token, bad_request, bad_type, bad_method, not_found;
	uint64_t duplicates, gaps, restarts, empty, bad_timestamps;
	uint64_t send_failed, archive_refused;
};

struct captions {
	const struct puente_host *host;
	struct lang langs[CAPTIONS_MAX_LANGS];
	int n_langs;
	struct captioner *http; /* from the config */
	int n_http;
	struct captioner *ws; /* WebSocket captioners, by client id */
	size_t n_ws, cap_ws;
	struct choosers choosers;
	char organiser_token[CAPTIONS_TOKEN_MAX + 1];
	size_t organiser_len;
	bool organiser_fixed;
	size_t max_chars, history;
	double rate, burst;
	struct archive *archive;
	/* The clocks, in ns: monotonic for rates, wall (UTC) for the HTTP API. Tests replace them.
	 */
	uint64_t (*mono_ns)(void);
	uint64_t (*wall_ns)(void);
	struct captions_counts n;
};

/* Whether two strings are equal, in a time that depends only on the secret's length. */
bool captions_token_equal(const char *secret, size_t secret_len, const char *given,
                          size_t given_len);

#endif
