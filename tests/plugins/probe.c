/*
 * The probe: a test plugin that exercises every host service, so the
 * loader test can check each from outside. Built in variants that the
 * loader must refuse (PROBE_BAD_ABI, PROBE_SHORT, PROBE_INIT_FAILS,
 * PROBE_NO_SYMBOL).
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <puente/plugin.h>
#include <puente/protocol.h>

/* An Opus packet of 20 ms of silence (CELT, TOC 0xf8). */
static const unsigned char silence[] = {0xf8, 0xff, 0xfe};

struct probe {
	const struct puente_host *host;
	const char *greeting;
	int es;
	unsigned ticks, joins, leaves;
	_Atomic unsigned reader_packets;
	_Atomic int stop;
	pthread_t thread;
	bool thread_started;
};

/* A plugin thread: follows the floor and reports from off the service thread. */
static void *reader_thread(void *arg)
{
	struct probe *p = arg;
	struct puente_reader *r;
	unsigned char buf[PUENTE_MAX_OPUS];
	struct puente_packet pkt;

	if (p->host->reader_open(p->host->ctx, 0, &r))
		return NULL;
	while (!atomic_load(&p->stop)) {
		if (p->host->reader_wait(r, 100) <= 0)
			continue;
		while (p->host->reader_next(r, &pkt, buf, sizeof(buf)) == 1) {
			unsigned n = atomic_fetch_add(&p->reader_packets, 1) + 1;

			if (n % 50 == 0) {
				json_t *m =
				    json_pack("{s:s, s:i, s:I}", "type", "probe.reader", "packets",
				              (int)n, "samples", (json_int_t)pkt.samples);
				p->host->send_json_role(p->host->ctx, PUENTE_ROLE_TECHNICIAN, m);
				json_decref(m);
			}
		}
	}
	p->host->reader_close(r);
	return NULL;
}

static void echo(void *state, const struct puente_http_request *req,
                 struct puente_http_response *res)
{
	struct probe *p = state;
	json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:s%}", "method", req->method, "path",
	                      req->path, "query", req->query, "greeting", p->greeting, "body",
	                      req->body ? (const char *)req->body : "", req->body_len);

	res->status = 200;
	strcpy(res->content_type, "application/json");
	res->body = json_dumps(m, JSON_COMPACT);
	res->body_len = res->body ? strlen(res->body) : 0;
	json_decref(m);
}

static int probe_init(const struct puente_host *host, void **state)
{
	struct probe *p = calloc(1, sizeof(*p));

#ifdef PROBE_INIT_FAILS
	free(p);
	host->log(host->ctx, PUENTE_LOG_ERROR, "failing on purpose");
	return -EIO;
#endif
	if (!p)
		return -ENOMEM;
	p->host = host;
	p->greeting = host->config_get(host->ctx, "greeting", "hello");
	p->es = host->channel_find(host->ctx, "es");
	if (host->http_route(host->ctx, "/probe/echo", echo) ||
	    host->http_route(host->ctx, "/other/x", echo) != -EINVAL ||
	    host->timer_every(host->ctx, 20) || p->es < 0) {
		free(p);
		return -EINVAL;
	}
	if (pthread_create(&p->thread, NULL, reader_thread, p) == 0)
		p->thread_started = true;
	host->log(host->ctx, PUENTE_LOG_INFO, "ready, greeting '%s'", p->greeting);
	*state = p;
	return 0;
}

static void probe_destroy(void *state)
{
	struct probe *p = state;

	atomic_store(&p->stop, 1);
	if (p->thread_started)
		pthread_join(p->thread, NULL);
	free(p);
}

static void probe_join(void *state, puente_client_id id, enum puente_role role)
{
	(void)id;
	(void)role;
	((struct probe *)state)->joins++;
}

static void probe_leave(void *state, puente_client_id id)
{
	(void)id;
	((struct probe *)state)->leaves++;
}

static int probe_message(void *state, puente_client_id from, const char *verb, const json_t *body)
{
	struct probe *p = state;
	const struct puente_host *h = p->host;

	if (!strcmp(verb, "hello")) {
		const struct puente_channel_info *c0 = h->channel(h->ctx, 0);
		json_t *m = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:b}", "type", "probe.hello",
		                      "greeting", p->greeting, "channel0", c0 ? c0->name : "", "es",
		                      p->es, "role", h->client_role(h->ctx, from), "subscription",
		                      h->subscription(h->ctx, from), "past_end",
		                      h->channel(h->ctx, 99) == NULL);
		h->send_json(h->ctx, from, m);
		json_decref(m);
		return 0;
	}
	if (!strcmp(verb, "subscribe")) {
		const char *name = json_string_value(json_object_get(body, "channel"));
		int ch = name ? h->channel_find(h->ctx, name) : -1;

		return ch < 0 ? -EINVAL : h->subscribe(h->ctx, from, ch);
	}
	if (!strcmp(verb, "publish")) {
		uint64_t t = h->media_time_now(h->ctx);
		int floor_refused = h->publish(h->ctx, 0,
		                               &(struct puente_packet){.len = sizeof(silence),
		                                                       .data = silence}) == -EPERM;

		for (int i = 0; i < 5; i++) {
			struct puente_packet pkt = {.media_time = t + (uint64_t)i * 960,
			                            .samples = 960,
			                            .len = sizeof(silence),
			                            .data = silence};
			if (h->publish(h->ctx, p->es, &pkt))
				return -EIO;
		}
		json_t *m = json_pack("{s:s, s:b}", "type", "probe.published", "floor_refused",
		                      floor_refused);
		h->send_json(h->ctx, from, m);
		json_decref(m);
		return 0;
	}
	if (!strcmp(verb, "clients")) {
		struct puente_client_info info[8];
		struct puente_relay_stats rs;
		int n = h->clients(h->ctx, info, 8);
		const char *address = "";
		int my_role = -1;

		h->relay_stats(h->ctx, &rs);
		for (int i = 0; i < n && i < 8; i++)
			if (info[i].id == from) {
				address = info[i].address;
				my_role = (int)info[i].role;
			}
		json_t *m =
		    json_pack("{s:s, s:i, s:s, s:i, s:I, s:I, s:b}", "type", "probe.clients",
		              "count", n, "address", address, "role", my_role, "published",
		              (json_int_t)rs.packets_published, "clients_now",
		              (json_int_t)rs.clients_now, "source_lost", rs.source_lost);
		h->send_json(h->ctx, from, m);
		json_decref(m);
		return 0;
	}
	if (!strcmp(verb, "stats")) {
		json_t *m =
		    json_pack("{s:s, s:i, s:i, s:i, s:i, s:I}", "type", "probe.stats", "ticks",
		              (int)p->ticks, "joins", (int)p->joins, "leaves", (int)p->leaves,
		              "reader_packets", (int)atomic_load(&p->reader_packets), "media_time",
		              (json_int_t)h->media_time_now(h->ctx));
		h->send_json(h->ctx, from, m);
		json_decref(m);
		return 0;
	}
	if (!strcmp(verb, "busy"))
		return -EBUSY;
	if (!strcmp(verb, "bad"))
		return -EINVAL;
	if (!strcmp(verb, "deny"))
		return -EPERM;
	return -ENOENT;
}

static void probe_tick(void *state, uint64_t now_us)
{
	(void)now_us;
	((struct probe *)state)->ticks++;
}

static const struct puente_plugin probe = {
#ifdef PROBE_BAD_ABI
    .abi = PUENTE_PLUGIN_ABI + 98,
#else
    .abi = PUENTE_PLUGIN_ABI,
#endif
#ifdef PROBE_SHORT
    .size = 8,
#else
    .size = sizeof(struct puente_plugin),
#endif
    .name = PROBE_NAME,
    .version = "test",
    .init = probe_init,
    .destroy = probe_destroy,
    .client_join = probe_join,
    .client_leave = probe_leave,
    .message = probe_message,
    .tick = probe_tick,
};

#ifndef PROBE_NO_SYMBOL
PUENTE_PLUGIN_DEFINE(probe)
#else
/* Exported under another name: the loader must not find it. */
__attribute__((visibility("default"))) const struct puente_plugin *probe_entry(void);
const struct puente_plugin *probe_entry(void)
{
	return &probe;
}
#endif
