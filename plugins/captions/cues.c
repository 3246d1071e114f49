/*
 * Cue bookkeeping (see cues.h). Service thread only; the plugin has one
 * service-thread state, so nothing here locks.
 */
#include "cues.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <puente/protocol.h>

#define ESTIMATE_PER_CHAR_MS 60
#define ESTIMATE_MIN_MS      1500
#define ESTIMATE_MAX_MS      7000

int lang_init(struct lang *l, const char *tag, size_t history_cap)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->tag, sizeof(l->tag), "%s", tag);
	l->history_cap = history_cap;
	if (history_cap && !(l->history = calloc(history_cap, sizeof(*l->history))))
		return -ENOMEM;
	return 0;
}

void lang_fini(struct lang *l)
{
	for (size_t i = 0; i < l->history_n; i++)
		json_decref(l->history[(l->history_head + i) % l->history_cap]);
	free(l->history);
	free(l->subs);
	memset(l, 0, sizeof(*l));
}

void lang_history_add(struct lang *l, json_t *cue)
{
	if (!l->history_cap) {
		json_decref(cue);
		return;
	}
	if (l->history_n == l->history_cap) {
		json_decref(l->history[l->history_head]);
		l->history[l->history_head] = cue;
		l->history_head = (l->history_head + 1) % l->history_cap;
		return;
	}
	l->history[(l->history_head + l->history_n++) % l->history_cap] = cue;
}

json_t *lang_history_json(const struct lang *l, bool technician)
{
	json_t *cues = json_array();
	size_t first = l->history_n, bytes = 0;

	/* The newest cues whose texts fit the budget, and always the newest one. */
	while (first > 0) {
		const json_t *cue = l->history[(l->history_head + first - 1) % l->history_cap];

		bytes += json_string_length(json_object_get(cue, "text"));
		if (bytes > HISTORY_MAX_TEXT && first < l->history_n)
			break;
		first--;
	}
	for (size_t i = first; cues && i < l->history_n; i++) {
		json_t *cue = json_copy(l->history[(l->history_head + i) % l->history_cap]);

		if (cue) {
			json_object_del(cue, "type");
			if (!technician)
				json_object_del(cue, "from");
		}
		json_array_append_new(cues, cue);
	}
	return cues;
}

/* The index of the first chooser with an id >= id. */
static size_t chooser_bound(const struct choosers *c, puente_client_id id)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->v[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct chooser *chooser_find(const struct choosers *c, puente_client_id id)
{
	size_t i = chooser_bound(c, id);

	return i < c->n && c->v[i].id == id ? &c->v[i] : NULL;
}

/* Takes a chooser out of its language's set, keeping the set dense. */
static void sub_remove(struct choosers *c, struct lang *langs, struct chooser *ch)
{
	struct lang *l = &langs[ch->lang];
	struct sub *last = &l->subs[--l->n_subs];

	if (ch->pos != l->n_subs) {
		l->subs[ch->pos] = *last;
		chooser_find(c, last->id)->pos = ch->pos;
	}
}

int choosers_set(struct choosers *c, struct lang *langs, puente_client_id id, int lang,
                 bool technician)
{
	size_t i = chooser_bound(c, id);
	struct chooser *ch = i < c->n && c->v[i].id == id ? &c->v[i] : NULL;
	struct lang *l;

	if (ch) {
		sub_remove(c, langs, ch);
		if (lang < 0) { /* ids only grow: the usual leave is near the end */
			memmove(ch, ch + 1, (c->n - i - 1) * sizeof(*ch));
			c->n--;
			return 0;
		}
	} else {
		if (lang < 0)
			return 0;
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			struct chooser *v = realloc(c->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			c->v = v;
			c->cap = cap;
		}
		memmove(&c->v[i + 1], &c->v[i], (c->n - i) * sizeof(*c->v));
		c->n++;
		ch = &c->v[i];
		ch->id = id;
	}
	l = &langs[lang];
	if (l->n_subs == l->cap_subs) {
		size_t cap = l->cap_subs ? 2 * l->cap_subs : 64;
		struct sub *v = realloc(l->subs, cap * sizeof(*v));

		if (!v) {
			memmove(ch, ch + 1, (c->n - i - 1) * sizeof(*ch));
			c->n--;
			return -ENOMEM;
		}
		l->subs = v;
		l->cap_subs = cap;
	}
	ch->lang = lang;
	ch->pos = l->n_subs;
	l->subs[l->n_subs++] = (struct sub){.id = id, .technician = technician};
	return 0;
}

int choosers_get(const struct choosers *c, puente_client_id id)
{
	const struct chooser *ch = chooser_find(c, id);

	return ch ? ch->lang : -1;
}

void choosers_fini(struct choosers *c)
{
	free(c->v);
	memset(c, 0, sizeof(*c));
}

bool bucket_take(struct bucket *b, double rate, double burst, uint64_t now_ns)
{
	if (!b->started) {
		b->started = true;
		b->tokens = burst;
	} else if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) / 1e9 * rate;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ns = now_ns;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

enum seq_verdict seq_judge(const struct seq_state *s, uint64_t seq, bool reset, uint64_t *gap)
{
	*gap = 0;
	if (!s->has)
		return SEQ_NEW; /* the relay restarted: take the captioner's count as it is */
	if (seq > s->last) {
		*gap = seq - s->last - 1;
		return SEQ_NEW;
	}
	if (seq == s->last)
		return SEQ_DUPLICATE; /* a retry, even one that said reset */
	return reset || seq == 0 ? SEQ_RESTART : SEQ_DUPLICATE;
}

void seq_accept(struct seq_state *s, uint64_t seq)
{
	s->has = true;
	s->last = seq;
}

uint64_t cue_estimate(size_t chars)
{
	uint64_t ms = chars > ESTIMATE_MAX_MS / ESTIMATE_PER_CHAR_MS
	                  ? ESTIMATE_MAX_MS
	                  : (uint64_t)chars * ESTIMATE_PER_CHAR_MS;

	if (ms < ESTIMATE_MIN_MS)
		ms = ESTIMATE_MIN_MS;
	return ms * (PUENTE_SAMPLE_RATE / 1000);
}
