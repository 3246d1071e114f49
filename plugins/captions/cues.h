/*
 * The captions plugin's bookkeeping of cues: per-language seq, history ring
 * and subscriber sets; per-captioner rate bucket, HTTP seq deduplication and
 * the open partial line; default cue times. Service thread only (no locks),
 * except bucket_take and seq_judge, which are pure.
 */
#ifndef PUENTE_CAPTIONS_CUES_H
#define PUENTE_CAPTIONS_CUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <puente/plugin.h>

#define CAPTIONS_MAX_LANGS   16
#define CAPTIONS_MAX_TAG     35 /* longest BCP 47 tag accepted */
#define CAPTIONS_MAX_ID      64 /* longest cue id, in bytes */
#define CAPTIONS_MAX_HISTORY 1000
/* Bytes of text in one captions.history at most (past the newest cue): the message stays bounded.
 */
#define HISTORY_MAX_TEXT 32768

/* A client that chose a language. */
struct sub {
	puente_client_id id;
	bool technician; /* also gets "from" */
};

struct lang {
	char tag[CAPTIONS_MAX_TAG + 1];
	uint64_t seq; /* of the last cue sent; the first is 1 */
	/* The last final cues (with "from"), oldest at head: a ring of history_cap. */
	json_t **history;
	size_t history_cap, history_n, history_head;
	struct sub *subs;
	size_t n_subs, cap_subs;
	uint64_t partials, finals;
};

/* Where a client that chose a language is: the index of every chooser, sorted by id. */
struct chooser {
	puente_client_id id;
	int lang;
	size_t pos; /* in langs[lang].subs */
};

struct choosers {
	struct chooser *v;
	size_t n, cap;
};

/* Allocates the history ring (cap may be 0). 0 or -ENOMEM. */
int lang_init(struct lang *l, const char *tag, size_t history_cap);
void lang_fini(struct lang *l);
/* Keeps a final cue (takes the reference), dropping the oldest past history_cap. */
void lang_history_add(struct lang *l, json_t *cue);
/*
 * A new array of the kept cues, oldest first; without "from" unless
 * technician. Only the newest whose texts add up to HISTORY_MAX_TEXT bytes
 * (and always the newest one).
 */
json_t *lang_history_json(const struct lang *l, bool technician);

/*
 * Moves a client to language lang (-1: none) in the sets. 0, or -ENOMEM (the
 * client then has no language).
 */
int choosers_set(struct choosers *c, struct lang *langs, puente_client_id id, int lang,
                 bool technician);
/* The language a client chose, or -1. */
int choosers_get(const struct choosers *c, puente_client_id id);
void choosers_fini(struct choosers *c);

/* A token bucket on the monotonic clock: full (burst) at the first take. */
struct bucket {
	bool started;
	double tokens;
	uint64_t last_ns;
};

/* Takes one token at now_ns; false when none is left. */
bool bucket_take(struct bucket *b, double rate, double burst, uint64_t now_ns);

/* The HTTP API's seq of one captioner. */
struct seq_state {
	bool has; /* a seq was accepted since the relay started */
	uint64_t last;
};

enum seq_verdict {
	SEQ_NEW,       /* the next one, or after a gap (*gap > 0) */
	SEQ_RESTART,   /* seq 0 or reset=1 with a smaller seq: starts over */
	SEQ_DUPLICATE, /* at or below the last accepted: answer 200, show nothing */
};

/* What to do with seq; gap gets how many seqs were skipped (SEQ_NEW). */
enum seq_verdict seq_judge(const struct seq_state *s, uint64_t seq, bool reset, uint64_t *gap);
void seq_accept(struct seq_state *s, uint64_t seq);

/* How long a caption of chars code points stays up, in 48 kHz samples: 60 ms each, 1.5..7 s. */
uint64_t cue_estimate(size_t chars);

#endif
