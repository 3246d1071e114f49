/*
 * The network side: one libwebsockets context serving the web pages over
 * HTTP and the puente.v1 WebSocket protocol. Everything here runs on the
 * lws service thread (the main thread), except puente__server_request_stop.
 */
#ifndef PUENTE_CORE_SERVER_H
#define PUENTE_CORE_SERVER_H

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "room.h"

struct puente__session;

struct puente__server {
	struct puente__room *room;
	const struct puente__config *cfg;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct puente__session *sessions; /* {service thread} */
	size_t n_sessions;
	uint64_t next_client_id;
	uint32_t source_gen_seen;
	uint64_t last_clock_ns;
	bool stopping;
	uint64_t stop_deadline_ns;
	_Atomic int stop_requested;
	lws_sorted_usec_list_t tick;
	struct lws_http_mount mount;
	int port;
};

/* Creates the context and starts listening. 0 or -errno (logged). */
int puente__server_init(struct puente__server *s, struct puente__room *room,
                        const struct puente__config *cfg);

/* Serves until a stop is requested and every client has taken its close (or drain_ms passed). */
void puente__server_run(struct puente__server *s);

/* Any thread (the signal thread): begin the graceful shutdown. */
void puente__server_request_stop(struct puente__server *s);

void puente__server_fini(struct puente__server *s);

/* The puente.v1 protocol callback (ws.c). */
int puente__ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);
size_t puente__ws_session_size(void);

/* Service thread: periodic work and wake-ups (ws.c). */
void puente__ws_tick(struct puente__server *s);
void puente__ws_wake(struct puente__server *s);

#endif
