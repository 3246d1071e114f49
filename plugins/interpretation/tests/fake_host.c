/* The fake relay of fake_host.h. */
#include "fake_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_FRAME 960 /* 20 ms at 48 kHz */

/* The log may be called from a plugin's threads. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static struct fake_host *fake_of(void *ctx)
{
	return ctx;
}

static struct fake_client *client_find(const struct fake_host *f, puente_client_id id)
{
	for (size_t i = 0; i < f->n_clients; i++)
		if (f->clients[i].id == id)
			return (struct fake_client *)&f->clients[i];
	return NULL;
}

static void *grow(void *array, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return array;
	*cap = *cap ? 2 * *cap : 64;
	array = realloc(array, *cap * size);
	if (!array)
		abort(); /* a test host has nothing better to do */
	return array;
}

static void fake_log(void *ctx, enum puente_log_level level, const char *fmt, ...)
{
	struct fake_host *f = fake_of(ctx);
	size_t n;
	char *all;
	va_list ap;

	pthread_mutex_lock(&log_lock);
	va_start(ap, fmt);
	vsnprintf(f->last_log, sizeof(f->last_log), fmt, ap);
	va_end(ap);
	if (level == PUENTE_LOG_ERROR)
		f->n_log_errors++;
	fprintf(stderr, "[fake host] plugin %s: %s\n", f->plugin->name, f->last_log);
	n = strlen(f->last_log);
	all = realloc(f->log_text, f->log_len + n + 2);
	if (!all)
		abort();
	memcpy(all + f->log_len, f->last_log, n);
	f->log_len += n;
	all[f->log_len++] = '\n';
	all[f->log_len] = 0;
	f->log_text = all;
	pthread_mutex_unlock(&log_lock);
}

size_t fake_log_count(struct fake_host *f, const char *s)
{
	size_t n = 0;

	pthread_mutex_lock(&log_lock);
	for (const char *p = f->log_text; p && *s && (p = strstr(p, s)); p++)
		n++;
	pthread_mutex_unlock(&log_lock);
	return n;
}

static void record(struct fake_host *f, puente_client_id to, int role, const json_t *msg)
{
	f->sent = grow(f->sent, &f->cap_sent, f->n_sent, sizeof(*f->sent));
	/* A deep copy: the plugin may change and reuse its object after the call. */
	f->sent[f->n_sent++] = (struct fake_message){to, role, json_deep_copy(msg)};
}

static int fake_send_json(void *ctx, puente_client_id to, const json_t *msg)
{
	struct fake_host *f = fake_of(ctx);

	if (!client_find(f, to))
		return -ENOENT;
	record(f, to, -1, msg);
	return 0;
}

static int fake_send_json_role(void *ctx, enum puente_role role, const json_t *msg)
{
	if ((int)role < 0 || role >= PUENTE_ROLE_COUNT)
		return -EINVAL;
	record(fake_of(ctx), 0, (int)role, msg);
	return 0;
}

static uint64_t fake_media_time_now(void *ctx)
{
	return fake_of(ctx)->now;
}

static const struct puente_channel_info *fake_channel(void *ctx, int index)
{
	struct fake_host *f = fake_of(ctx);

	return index >= 0 && index < f->n_channels ? &f->channels[index] : NULL;
}

static int fake_channel_find(void *ctx, const char *name)
{
	struct fake_host *f = fake_of(ctx);

	for (int i = 0; name && i < f->n_channels; i++)
		if (!strcmp(f->channels[i].name, name))
			return i;
	return -ENOENT;
}

/* The same checks as the relay's publish: a plugin that passes here passes there. */
static int fake_publish(void *ctx, int channel, const struct puente_packet *pkt)
{
	struct fake_host *f = fake_of(ctx);

	if (channel < 0 || channel >= f->n_channels)
		return -ENOENT;
	if (channel == fake_channel_find(ctx, "floor"))
		return -EPERM; /* the floor is the room input's */
	if (!pkt || !pkt->data || pkt->len == 0 || pkt->len > PUENTE_MAX_OPUS)
		return -EINVAL;
	f->packets = grow(f->packets, &f->cap_packets, f->n_packets, sizeof(*f->packets));
	f->packets[f->n_packets++] = (struct fake_packet){
	    .channel = channel,
	    .flags = pkt->flags,
	    .seq = f->next_seq[channel]++,
	    .media_time = pkt->media_time,
	    .samples = pkt->samples,
	    .first_byte = pkt->data[0],
	};
	return 0;
}

static int fake_subscribe(void *ctx, puente_client_id client, int channel)
{
	struct fake_host *f = fake_of(ctx);
	struct fake_client *c = client_find(f, client);

	if (!c || channel < -1 || channel >= f->n_channels)
		return -ENOENT;
	c->channel = channel;
	c->subscribes++;
	return 0;
}

static int fake_subscription(void *ctx, puente_client_id client)
{
	struct fake_client *c = client_find(fake_of(ctx), client);

	return c ? c->channel : -ENOENT;
}

static int fake_client_role(void *ctx, puente_client_id client)
{
	struct fake_client *c = client_find(fake_of(ctx), client);

	return c ? (int)c->role : -ENOENT;
}

static struct fake_grant *grant_find(struct fake_host *f, puente_client_id id, const char *key)
{
	for (int i = 0; i < f->n_grants; i++)
		if (f->grants[i].id == id && !strcmp(f->grants[i].key, key))
			return &f->grants[i];
	return NULL;
}

/* As the relay: only a connected client has grants, NULL for any key it has not. */
static const char *fake_client_grant(void *ctx, puente_client_id client, const char *key)
{
	struct fake_host *f = fake_of(ctx);
	struct fake_grant *g;

	if (!client_find(f, client) || !key)
		return NULL;
	g = grant_find(f, client, key);
	return g ? g->value : NULL;
}

static void fake_attendance_note(void *ctx, puente_client_id client, const char *what,
                                 const char *value)
{
	struct fake_host *f = fake_of(ctx);
	struct fake_note *n;

	f->notes = grow(f->notes, &f->cap_notes, f->n_notes, sizeof(*f->notes));
	n = &f->notes[f->n_notes++];
	*n = (struct fake_note){.id = client, .null = !value};
	snprintf(n->what, sizeof(n->what), "%s", what ? what : "");
	snprintf(n->value, sizeof(n->value), "%s", value ? value : "");
}

void fake_grant(struct fake_host *f, puente_client_id id, const char *key, const char *value)
{
	struct fake_grant *g = grant_find(f, id, key);

	if (!value) {
		if (g)
			*g = f->grants[--f->n_grants];
		return;
	}
	if (!g) {
		if (f->n_grants == FAKE_MAX_GRANTS || strlen(key) >= sizeof(g->key))
			abort();
		g = &f->grants[f->n_grants++];
		g->id = id;
		strcpy(g->key, key);
	}
	if (strlen(value) >= sizeof(g->value))
		abort();
	strcpy(g->value, value);
}

size_t fake_note_count(const struct fake_host *f, puente_client_id id, const char *what)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_notes; i++)
		n += f->notes[i].id == id && !strcmp(f->notes[i].what, what);
	return n;
}

const struct fake_note *fake_note_last(const struct fake_host *f, puente_client_id id,
                                       const char *what)
{
	for (size_t i = f->n_notes; i-- > 0;)
		if (f->notes[i].id == id && !strcmp(f->notes[i].what, what))
			return &f->notes[i];
	return NULL;
}

/* The relay's checks: init only, under /<plugin name>/, a bounded table. */
static int fake_http_route(void *ctx, const char *path, puente_http_fn fn)
{
	struct fake_host *f = fake_of(ctx);
	size_t n = strlen(f->plugin->name);

	if (!f->in_init)
		return -EPERM;
	if (!path || !fn || path[0] != '/' || strncmp(path + 1, f->plugin->name, n) ||
	    (path[n + 1] != '/' && path[n + 1] != 0) || strlen(path) >= sizeof(f->routes[0].path))
		return -EINVAL;
	if (f->n_routes == FAKE_MAX_ROUTES)
		return -ENOSPC;
	snprintf(f->routes[f->n_routes].path, sizeof(f->routes[0].path), "%s", path);
	f->routes[f->n_routes++].fn = fn;
	return 0;
}

static int fake_timer_every(void *ctx, uint32_t ms)
{
	struct fake_host *f = fake_of(ctx);

	if (!f->in_init)
		return -EPERM;
	if (ms < 10)
		return -EINVAL;
	f->tick_ms = ms;
	return 0;
}

int fake_http(struct fake_host *f, const char *method, const char *path, const char *query,
              const char *content_type, const void *body, size_t body_len,
              struct puente_http_response *res)
{
	const struct fake_route *best = NULL;
	size_t best_len = 0;
	struct puente_http_request req = {
	    .method = method,
	    .path = path,
	    .query = query ? query : "",
	    .content_type = content_type ? content_type : "",
	    .body = body,
	    .body_len = body_len,
	};

	for (int i = 0; i < f->n_routes; i++) {
		size_t n = strlen(f->routes[i].path);

		if (!strncmp(path, f->routes[i].path, n) && (path[n] == 0 || path[n] == '/') &&
		    n > best_len) {
			best = &f->routes[i];
			best_len = n;
		}
	}
	*res = (struct puente_http_response){.status = 500};
	snprintf(res->content_type, sizeof(res->content_type), "text/plain; charset=utf-8");
	if (!best)
		return -ENOENT;
	best->fn(f->state, &req, res);
	return 0;
}

static const char *fake_config_get(void *ctx, const char *key, const char *fallback)
{
	struct fake_host *f = fake_of(ctx);

	for (int i = 0; i < f->n_config; i++)
		if (!strcmp(f->config_keys[i], key))
			return f->config_values[i];
	return fallback;
}

void fake_host_init(struct fake_host *f, const struct puente_plugin *plugin)
{
	static const char *const names[] = {"floor", "es", "en"};
	static const char *const langs[] = {"", "es", "en"};

	*f = (struct fake_host){
	    .host =
	        {
	            .abi = PUENTE_PLUGIN_ABI,
	            .size = sizeof(struct puente_host),
	            .ctx = f,
	            .log = fake_log,
	            .send_json = fake_send_json,
	            .send_json_role = fake_send_json_role,
	            .media_time_now = fake_media_time_now,
	            .channel = fake_channel,
	            .channel_find = fake_channel_find,
	            .publish = fake_publish,
	            .subscribe = fake_subscribe,
	            .subscription = fake_subscription,
	            .client_role = fake_client_role,
	            .config_get = fake_config_get,
	            .http_route = fake_http_route,
	            .timer_every = fake_timer_every,
	            .client_grant = fake_client_grant,
	            .attendance_note = fake_attendance_note,
	        },
	    .plugin = plugin,
	    .now = 10 * PUENTE_SAMPLE_RATE,
	};
	fake_host_channels(f, names, langs, 3);
}

void fake_host_channels(struct fake_host *f, const char *const *names, const char *const *langs,
                        int n)
{
	f->n_channels = n < PUENTE_MAX_CHANNELS ? n : PUENTE_MAX_CHANNELS;
	for (int i = 0; i < f->n_channels; i++)
		f->channels[i] = (struct puente_channel_info){
		    .id = i,
		    .name = names[i],
		    .label = names[i],
		    .lang = langs[i],
		};
}

void fake_host_config(struct fake_host *f, const char *key, const char *value)
{
	if (f->n_config == FAKE_MAX_CONFIG)
		abort();
	f->config_keys[f->n_config] = key;
	f->config_values[f->n_config++] = value;
}

int fake_host_start(struct fake_host *f)
{
	int rc;

	f->in_init = true;
	rc = f->plugin->init(&f->host, &f->state);
	f->in_init = false;
	f->started = rc == 0;
	return rc;
}

void fake_clear(struct fake_host *f)
{
	for (size_t i = 0; i < f->n_sent; i++)
		json_decref(f->sent[i].msg);
	f->n_sent = 0;
	f->n_packets = 0;
}

void fake_host_fini(struct fake_host *f)
{
	if (f->started)
		f->plugin->destroy(f->state);
	fake_clear(f);
	free(f->sent);
	free(f->packets);
	free(f->notes);
	f->notes = NULL;
	f->n_notes = f->cap_notes = 0;
	free(f->log_text);
	f->log_text = NULL;
	f->log_len = 0;
}

void fake_connect(struct fake_host *f, puente_client_id id, enum puente_role role)
{
	if (f->n_clients == FAKE_MAX_CLIENTS)
		abort();
	f->clients[f->n_clients++] = (struct fake_client){.id = id, .role = role, .channel = -1};
	if (f->plugin->client_join) /* optional events */
		f->plugin->client_join(f->state, id, role);
}

void fake_disconnect(struct fake_host *f, puente_client_id id)
{
	struct fake_client *c = client_find(f, id);

	if (!c)
		return;
	*c = f->clients[--f->n_clients];
	if (f->plugin->client_leave)
		f->plugin->client_leave(f->state, id);
}

int fake_message(struct fake_host *f, puente_client_id from, const char *verb, const char *fmt, ...)
{
	char type[128];
	json_t *body;
	va_list ap;
	int rc;

	if (fmt) {
		va_start(ap, fmt);
		body = json_vpack_ex(NULL, 0, fmt, ap);
		va_end(ap);
	} else {
		body = json_object();
	}
	if (!body)
		abort();
	snprintf(type, sizeof(type), "%s.%s", f->plugin->name, verb);
	json_object_set_new(body, "type", json_string(type));
	rc = f->plugin->message(f->state, from, verb, body);
	json_decref(body);
	return rc;
}

int fake_audio(struct fake_host *f, puente_client_id from, unsigned char tag)
{
	unsigned char opus[3] = {tag, 0xff, 0xfe};
	struct puente_packet pkt = {
	    .channel = 0,
	    .samples = FAKE_FRAME,
	    .len = sizeof(opus),
	    .data = opus,
	};

	f->now += FAKE_FRAME;
	return f->plugin->audio(f->state, from, &pkt);
}

int fake_hears(const struct fake_host *f, puente_client_id id)
{
	const struct fake_client *c = client_find(f, id);

	return c ? c->channel : -ENOENT;
}

size_t fake_subscribes(const struct fake_host *f, puente_client_id id)
{
	const struct fake_client *c = client_find(f, id);

	return c ? c->subscribes : 0;
}

static bool reaches(const struct fake_host *f, const struct fake_message *m, puente_client_id id)
{
	const struct fake_client *c = client_find(f, id);

	if (m->role < 0)
		return m->to == id;
	return c && (int)c->role == m->role;
}

static bool is_type(const json_t *msg, const char *type)
{
	const char *t = json_string_value(json_object_get(msg, "type"));

	return t && !strcmp(t, type);
}

const json_t *fake_last(const struct fake_host *f, puente_client_id id, const char *type)
{
	for (size_t i = f->n_sent; i-- > 0;)
		if (reaches(f, &f->sent[i], id) && is_type(f->sent[i].msg, type))
			return f->sent[i].msg;
	return NULL;
}

size_t fake_count(const struct fake_host *f, puente_client_id id, const char *type)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_sent; i++)
		n += reaches(f, &f->sent[i], id) && is_type(f->sent[i].msg, type);
	return n;
}
