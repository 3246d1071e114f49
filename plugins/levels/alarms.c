/* The alarms of alarms.h. */
#include "alarms.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void alarm_config_default(struct alarm_config *cfg)
{
	*cfg = (struct alarm_config){
	    .silence_s = 10,
	    .silence_dbfs = -60,
	    .clip_hold_s = 3,
	    .drops_rise = 25,
	};
}

void alarms_init(struct alarms *al, const struct alarm_config *cfg, alarm_fn fn, void *user)
{
	memset(al, 0, sizeof(*al));
	if (cfg)
		al->cfg = *cfg;
	else
		alarm_config_default(&al->cfg);
	al->fn = fn;
	al->user = user;
}

static void make_id(char *out, size_t cap, const char *kind, const char *channel)
{
	if (channel && channel[0])
		snprintf(out, cap, "%s:%s", kind, channel);
	else
		snprintf(out, cap, "%s", kind);
}

const struct alarm *alarms_find(const struct alarms *al, const char *id)
{
	for (int i = 0; i < ALARMS_MAX; i++)
		if (al->list[i].active && !strcmp(al->list[i].id, id))
			return &al->list[i];
	return NULL;
}

size_t alarms_active(const struct alarms *al)
{
	size_t n = 0;

	for (int i = 0; i < ALARMS_MAX; i++)
		n += al->list[i].active;
	return n;
}

int alarms_set(struct alarms *al, const char *kind, const char *channel, bool cond, uint64_t now_ms,
               const char *message)
{
	char id[ALARM_ID_MAX];
	struct alarm *a = NULL, *free_slot = NULL;

	make_id(id, sizeof(id), kind, channel);
	for (int i = 0; i < ALARMS_MAX; i++) {
		if (al->list[i].active && !strcmp(al->list[i].id, id))
			a = &al->list[i];
		else if (!al->list[i].active && !free_slot)
			free_slot = &al->list[i];
	}
	if (cond && !a) {
		if (!free_slot)
			return 0; /* a full table: the oldest alarms stay */
		a = free_slot;
		memset(a, 0, sizeof(*a));
		a->active = true;
		snprintf(a->id, sizeof(a->id), "%s", id);
		snprintf(a->kind, sizeof(a->kind), "%s", kind);
		snprintf(a->channel, sizeof(a->channel), "%s", channel ? channel : "");
		snprintf(a->message, sizeof(a->message), "%s", message ? message : id);
		a->since_ms = now_ms;
		if (al->fn)
			al->fn(al->user, a, true, now_ms);
		return 1;
	}
	if (!cond && a) {
		a->active = false;
		if (al->fn)
			al->fn(al->user, a, false, now_ms);
		return -1;
	}
	return 0;
}

double alarms_silence(struct alarms *al, int ch, const char *name, bool live, double peak_dbfs,
                      uint64_t now_ms)
{
	struct alarm_channel *c;
	double silent_s = 0;
	char msg[ALARM_MSG_MAX];

	if (ch < 0 || ch >= ALARMS_CHANNELS)
		return 0;
	c = &al->ch[ch];
	if (live && !(peak_dbfs >= al->cfg.silence_dbfs)) { /* -inf and NaN are silent */
		if (!c->silent_since_ms)
			c->silent_since_ms = now_ms ? now_ms : 1;
		silent_s = (double)(now_ms - c->silent_since_ms) / 1000.0;
	} else {
		c->silent_since_ms = 0;
	}
	snprintf(msg, sizeof(msg), "%s silent for %.0f s", name, silent_s);
	alarms_set(al, "silence", name, c->silent_since_ms && silent_s >= al->cfg.silence_s, now_ms,
	           msg);
	return silent_s;
}

void alarms_clipping(struct alarms *al, int ch, const char *name, uint64_t clips_total,
                     uint64_t now_ms)
{
	struct alarm_channel *c;
	char msg[ALARM_MSG_MAX];

	if (ch < 0 || ch >= ALARMS_CHANNELS)
		return;
	c = &al->ch[ch];
	if (c->has_clips && clips_total > c->clips)
		c->last_clip_ms = now_ms ? now_ms : 1;
	if (clips_total < c->clips) /* a reset meter */
		c->last_clip_ms = 0;
	c->clips = clips_total;
	c->has_clips = true;
	snprintf(msg, sizeof(msg), "%s is clipping (%llu clips)", name,
	         (unsigned long long)clips_total);
	alarms_set(al, "clipping", name,
	           c->last_clip_ms &&
	               (double)(now_ms - c->last_clip_ms) < al->cfg.clip_hold_s * 1000.0,
	           now_ms, msg);
}

void alarms_drops(struct alarms *al, int ch, const char *name, uint64_t dropped_total,
                  uint64_t now_ms)
{
	struct alarm_channel *c;
	char msg[ALARM_MSG_MAX];
	double rate;

	if (ch < 0 || ch >= ALARMS_CHANNELS)
		return;
	c = &al->ch[ch];
	if (!c->has_drops || dropped_total < c->dropped) {
		c->has_drops = true;
		c->dropped = dropped_total;
		c->drops_at_ms = now_ms;
		return;
	}
	if (now_ms < c->drops_at_ms + 1000)
		return;
	rate = (double)(dropped_total - c->dropped) * 1000.0 / (double)(now_ms - c->drops_at_ms);
	c->dropped = dropped_total;
	c->drops_at_ms = now_ms;
	snprintf(msg, sizeof(msg), "listeners of %s are dropping %.0f packets/s", name, rate);
	alarms_set(al, "drops", name, rate >= al->cfg.drops_rise, now_ms, msg);
}
