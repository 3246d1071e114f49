/*
 * Plugin HTTP routes (see http.h): find the route, collect a POST body up to
 * PUENTE_MAX_HTTP_BODY (413 beyond), call the plugin, write its answer.
 */
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <puente/plugin.h>

#include "log.h"
#include "plugins.h"
#include "server.h"

static struct puente__route *find_route(struct puente__server *srv, const char *path)
{
	struct puente__plugins *p = srv->plugins;
	struct puente__route *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; p && i < p->n_routes; i++) {
		size_t n = strlen(p->routes[i].path);

		if (!strncmp(path, p->routes[i].path, n) && (path[n] == 0 || path[n] == '/') &&
		    n > best_len) {
			best = &p->routes[i];
			best_len = n;
		}
	}
	return best;
}

static void reset(struct puente__http_req *h)
{
	free(h->body);
	free(h->resp);
	memset(h, 0, sizeof(*h));
}

/* Sends the status line and headers, and arms a WRITEABLE for the body. */
static int respond(struct lws *wsi, struct puente__http_req *h, int status, const char *ctype,
                   const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start;
	unsigned char *end = hdr + sizeof(hdr) - 1;

	h->resp = malloc(LWS_PRE + (len ? len : 1));
	if (!h->resp)
		return -1;
	memcpy(h->resp + LWS_PRE, body, len);
	h->resp_len = len;
	if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, (lws_filepos_t)len, &p,
	                                end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	                                (const unsigned char *)"no-store", 8, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int call_plugin(struct lws *wsi, struct puente__http_req *h)
{
	struct puente_http_request req = {
	    .method = h->post ? "POST" : "GET",
	    .path = h->path,
	    .query = h->query,
	    .content_type = h->content_type,
	    .body = h->body,
	    .body_len = h->body_len,
	};
	struct puente_http_response res = {.status = 500};

	snprintf(res.content_type, sizeof(res.content_type), "text/plain; charset=utf-8");
	h->route->fn(h->route->slot->state, &req, &res);
	if (res.status < 100 || res.status > 599)
		res.status = 500;
	res.content_type[sizeof(res.content_type) - 1] = 0;
	int rc = respond(wsi, h, res.status, res.content_type, res.body ? res.body : "",
	                 res.body ? res.body_len : 0);
	free(res.body);
	return rc;
}

static int start(struct puente__server *srv, struct lws *wsi, struct puente__http_req *h)
{
	int n;

	reset(h);
	if ((n = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI)) > 0) {
		h->post = true;
		lws_hdr_copy(wsi, h->path, sizeof(h->path), WSI_TOKEN_POST_URI);
	} else if ((n = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI)) > 0) {
		lws_hdr_copy(wsi, h->path, sizeof(h->path), WSI_TOKEN_GET_URI);
	} else {
		return respond(wsi, h, 405, "text/plain", "method not allowed\n", 19);
	}
	if ((size_t)n >= sizeof(h->path))
		return respond(wsi, h, 414, "text/plain", "URI too long\n", 13);
	h->route = find_route(srv, h->path);
	if (!h->route)
		return respond(wsi, h, 404, "text/plain", "not found\n", 10);
	/* lws joins the arguments with '&' (and decodes them). */
	for (int i = 0; i < 32; i++) {
		char frag[256];
		size_t used = strlen(h->query);
		int m = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);

		if (m < 0)
			break;
		if (used + (size_t)m + 2 > sizeof(h->query))
			return respond(wsi, h, 414, "text/plain", "query too long\n", 15);
		snprintf(h->query + used, sizeof(h->query) - used, "%s%s", used ? "&" : "", frag);
	}
	lws_hdr_copy(wsi, h->content_type, sizeof(h->content_type), WSI_TOKEN_HTTP_CONTENT_TYPE);
	h->body = h->post ? malloc(PUENTE_MAX_HTTP_BODY) : NULL;
	if (h->post && !h->body)
		return -1;
	/* A POST without a length has no body callbacks to wait for. */
	if (!h->post || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return call_plugin(wsi, h);
	return 0;
}

void puente__http_req_free(struct puente__http_req **hp)
{
	if (*hp)
		reset(*hp);
	free(*hp);
	*hp = NULL;
}

int puente__http_callback(struct puente__server *srv, struct lws *wsi,
                          enum lws_callback_reasons reason, struct puente__http_req **hp, void *in,
                          size_t len)
{
	struct puente__http_req *h = *hp;

	if (reason == LWS_CALLBACK_HTTP) {
		if (!h && !(h = *hp = calloc(1, sizeof(*h))))
			return -1;
		return start(srv, wsi, h) ? -1 : 0;
	}
	if (!h)
		return 1;
	switch (reason) {
	case LWS_CALLBACK_HTTP_BODY:
		if (!h->body)
			return 0;
		if (h->body_len + len > PUENTE_MAX_HTTP_BODY)
			h->too_big = true;
		else
			memcpy(h->body + h->body_len, in, len);
		h->body_len += len;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!h->route)
			return 0;
		if (h->too_big)
			return respond(wsi, h, 413, "text/plain", "body too large\n", 15) ? -1 : 0;
		return call_plugin(wsi, h) ? -1 : 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!h->resp)
			return 0;
		if (lws_write(wsi, h->resp + LWS_PRE, h->resp_len, LWS_WRITE_HTTP_FINAL) !=
		    (int)h->resp_len) {
			reset(h);
			return -1;
		}
		reset(h);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		puente__http_req_free(hp);
		return 1;
	default:
		return 1;
	}
}
