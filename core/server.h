/*
 * The network side: one libwebsockets context serving the web pages over
 * HTTP and the puente.v1 WebSocket protocol. Everything here runs on the
 * lws service thread (the main thread), except puente__server_request_stop.
 */
#ifndef PUENTE_CORE_SERVER_H
#define PUENTE_CORE_SERVER_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <puente/plugin.h>

#include "attendance.h"
#include "gate.h"
#include "invites.h"
#include "room.h"

struct puente__session;
struct ev_loop;
struct puente__plugins;

/* A control message queued by a thread other than the service thread. */
struct puente__post {
	uint64_t to; /* client id, or 0 for a role */
	int role;    /* with to == 0 */
	char *text;  /* malloc'd, LWS_PRE headroom */
	size_t len;
};

#define PUENTE_INBOX 256

struct puente__server {
	struct puente__room *room;
	const struct puente__config *cfg;
	struct lws_context *ctx;
	struct ev_loop *ev; /* event_loop = libev: ours, run here, lws' watchers on it */
	void *foreign_loops[1];
	struct lws_vhost *vhost;
	struct puente__session *sessions; /* {service thread} */
	size_t n_sessions;
	uint64_t next_client_id;
	uint64_t trimmed_at_id; /* next_client_id at the last malloc_trim */
	uint32_t source_gen_seen;
	uint64_t last_clock_ns;
	uint64_t last_sweep_ns;
	uint64_t last_alive_ns;
	uint64_t bans_sent; /* how many bans technicians were last told of */
	struct puente__gate gate;
	struct puente__invites invites;
	struct puente__attendance attendance;
	bool stopping;
	uint64_t stop_deadline_ns;
	_Atomic int stop_requested;
	lws_sorted_usec_list_t tick;
	struct lws_http_mount mount;
	struct lws_http_mount plugin_mounts[16];
	char plugin_web[16][600];
	int port;
	char base_url[256]; /* what people's links start with, no trailing '/' */
	struct puente__plugins *plugins;
	pthread_t service_thread;
	pthread_mutex_t inbox_lock;
	struct puente__post inbox[PUENTE_INBOX];                /* {inbox_lock} */
	size_t inbox_n;                                         /* {inbox_lock} */
	unsigned char out[LWS_PRE + PUENTE_MAX_BUNDLE_MESSAGE]; /* the audio message being sent */
};

/* Creates the context and starts listening. 0 or -errno (logged). */
int puente__server_init(struct puente__server *s, struct puente__room *room,
                        const struct puente__config *cfg, struct puente__plugins *plugins);

/* Serves until a stop is requested and every client has taken its close (or drain_ms passed). */
void puente__server_run(struct puente__server *s);

/* Any thread (the signal thread): begin the graceful shutdown. */
void puente__server_request_stop(struct puente__server *s);

void puente__server_fini(struct puente__server *s);

/* Whether the caller is the service thread. */
bool puente__server_on_service_thread(struct puente__server *s);

/*
 * Any thread: sends a JSON message to client `to`, or (to == 0) to every
 * client of `role`. Off the service thread it is queued in a bounded inbox.
 * 0, -ENOENT (no such client), -ENOBUFS (queue full; counted).
 */
int puente__server_send(struct puente__server *s, uint64_t to, int role, const json_t *msg);

/* The puente.v1 protocol callback (ws.c). */
int puente__ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);
size_t puente__ws_session_size(void);

/* Service thread: periodic work and wake-ups (ws.c). */
void puente__ws_tick(struct puente__server *s);
void puente__ws_wake(struct puente__server *s);

/* Service thread: what plugins may do to a client (ws.c). 0 or -ENOENT. */
int puente__ws_send_text(struct puente__server *s, uint64_t to, int role, const char *text,
                         size_t len);
int puente__ws_subscribe(struct puente__server *s, uint64_t client, int channel);
int puente__ws_subscription(struct puente__server *s, uint64_t client);
int puente__ws_role(struct puente__server *s, uint64_t client);
int puente__ws_clients(struct puente__server *s, struct puente_client_info *out, size_t cap);
/* A client's invitation by key (host->client_grant), or NULL. */
const char *puente__ws_grant(struct puente__server *s, uint64_t client, const char *key);
/* Writes a client's choice (e.g. captions language) to the attendance log. */
void puente__ws_attendance_note(struct puente__server *s, uint64_t client, const char *what,
                                const char *value);

#endif
