/*
 * HTTP routes registered by plugins (GET and POST with a bounded body),
 * served from the puente.v1 protocol's HTTP callbacks. Service thread.
 */
#ifndef PUENTE_CORE_HTTP_H
#define PUENTE_CORE_HTTP_H

#include <libwebsockets.h>
#include <stdbool.h>

struct puente__route;
struct puente__server;

/* Per-request state, allocated when a plugin route is asked for: WebSocket
 * sessions, the many, never carry it. */
struct puente__http_req {
	struct puente__route *route;
	char path[256];
	char query[512];
	char content_type[128];
	unsigned char *body; /* PUENTE_MAX_HTTP_BODY bytes once a POST starts */
	size_t body_len;
	bool too_big;
	bool post;
	unsigned char *resp; /* LWS_PRE headroom, then the body */
	size_t resp_len;
};

/*
 * Handles the HTTP callback reasons for plugin routes. Returns what the
 * protocol callback should return, or 1 when the reason was not an HTTP
 * route's (the caller passes it on to lws' default handling).
 */
int puente__http_callback(struct puente__server *srv, struct lws *wsi,
                          enum lws_callback_reasons reason, struct puente__http_req **hp, void *in,
                          size_t len);

/* Frees a request's state, if any, and clears the pointer. */
void puente__http_req_free(struct puente__http_req **hp);

#endif
