/*
 * pcl client: one libwebsockets client context and connection per object.
 * Everything here runs on the thread that calls pcl_run_for(), the only one
 * that touches lws; user callbacks are made from there too, never from
 * inside pcl_create().
 */
#include "pcl.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>
#include <opus.h>

enum pcl_state {
	PCL_CONNECTING,
	PCL_OPEN,
	PCL_CLOSING, /* pcl_close() asked; close frame goes out after the queue */
	PCL_OVER,
};

struct pcl_msg {
	struct pcl_msg *next;
	size_t len;
	bool binary;         /* audio; else JSON text */
	unsigned char buf[]; /* LWS_PRE + len */
};

struct pcl_client {
	struct lws_context *ctx;
	struct lws *wsi;
	struct pcl_callbacks cb;
	void *user;
	struct pcl_url url;
	char host_header[PCL_HOST_MAX + 8];
	enum pcl_state state;
	bool closed_reported;
	int close_code;
	char close_reason[320]; /* a close frame's reason, or why it never opened */
	int http_status;        /* the status of a refused upgrade; 0 = none */
	int local_code;         /* sent by us (pcl_close or 1009); 0 = none */
	char local_reason[PCL_REASON_MAX + 1];
	int peer_code; /* from the peer's close frame; 0 = none */
	char peer_reason[PCL_REASON_MAX + 1];

	lws_sorted_usec_list_t deadline; /* ends one pcl_run_for() */
	bool deadline_hit;
	atomic_bool woken; /* pcl_wake(), from any thread */

	/* One message being reassembled from fragments. */
	unsigned char *rx;
	size_t rx_len;
	size_t rx_cap;   /* bytes in rx, besides the NUL */
	size_t text_max; /* largest text message accepted */
	bool rx_binary;

	struct pcl_msg *tx_head, *tx_tail;
	unsigned tx_count;  /* JSON messages queued */
	unsigned tx_binary; /* audio messages queued */

	struct pcl_counters counters;
	struct lws_protocols protocols[2];
};

/* Large enough for either message kind, plus a NUL for the JSON parser. */
#define PCL_RX_CAP                                                                                 \
	(PUENTE_MAX_MESSAGE > PUENTE_MAX_BUNDLE_MESSAGE ? PUENTE_MAX_MESSAGE                       \
	                                                : PUENTE_MAX_BUNDLE_MESSAGE)

int64_t pcl_now_unix_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

char *pcl_sanitize(char *dst, size_t cap, const char *src)
{
	size_t i = 0, o = 0;

	if (!cap)
		return dst;
	while (src && src[i] && o + 1 < cap) {
		unsigned char ch = (unsigned char)src[i++];

		if (ch == 0xc2 && (unsigned char)src[i] >= 0x80 && (unsigned char)src[i] <= 0x9f) {
			i++; /* U+0080..U+009F: C1 controls, CSI among them */
			ch = '?';
		} else if (ch < 0x20 || ch == 0x7f) {
			ch = '?';
		}
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return dst;
}

static const char *g_ca_file; /* pcl_set_ca_file() */

void pcl_set_ca_file(const char *path)
{
	g_ca_file = path;
}

/* Hand-written: lws_parse_uri() edits its input and drops the path's '/'. */
int pcl_url_parse(const char *url, struct pcl_url *out)
{
	const char *p, *host, *host_end, *path;
	size_t host_len;

	if (!url)
		return -EINVAL;
	if (!strncasecmp(url, "ws://", 5)) {
		out->tls = false;
		host = url + 5;
	} else if (!strncasecmp(url, "wss://", 6)) {
		out->tls = true;
		host = url + 6;
	} else {
		return -EINVAL;
	}
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -EINVAL;
	if (*host == '[') {
		host_end = strchr(++host, ']');
		if (!host_end)
			return -EINVAL;
		p = host_end + 1;
	} else {
		host_end = host + strcspn(host, ":/?#@");
		p = host_end;
	}
	host_len = (size_t)(host_end - host);
	if (!host_len || host_len >= sizeof(out->host) || memchr(host, '@', host_len))
		return -EINVAL;
	memcpy(out->host, host, host_len);
	out->host[host_len] = '\0';

	out->port = PCL_DEFAULT_PORT;
	if (*p == ':') {
		unsigned long port = 0;
		const char *d = ++p;

		for (; *p >= '0' && *p <= '9' && p - d < 6; p++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (p == d || port == 0 || port > 65535)
			return -EINVAL;
		out->port = (uint16_t)port;
	}
	if (*p && *p != '/')
		return -EINVAL;
	path = *p ? p : PUENTE_WS_PATH;
	if (strlen(path) >= sizeof(out->path))
		return -EINVAL;
	strcpy(out->path, path);
	return 0;
}

static void pcl_set_over(struct pcl_client *c, int code, const char *reason)
{
	if (c->state == PCL_OVER)
		return;
	c->state = PCL_OVER;
	c->close_code = code;
	pcl_sanitize(c->close_reason, sizeof(c->close_reason), reason);
}

static void pcl_deliver_text(struct pcl_client *c)
{
	json_error_t jerr;
	json_t *msg, *type;

	c->rx[c->rx_len] = '\0';
	msg = json_loadb((const char *)c->rx, c->rx_len, JSON_REJECT_DUPLICATES, &jerr);
	type = json_object_get(msg, "type"); /* NULL-safe; NULL unless an object */
	if (!json_is_string(type)) {
		c->counters.bad_json++;
		json_decref(msg);
		return;
	}
	c->counters.rx_text++;
	if (c->cb.json)
		c->cb.json(c->user, json_string_value(type), msg);
	json_decref(msg);
}

static void pcl_deliver_audio(struct pcl_client *c, const unsigned char *msg, size_t len,
                              int64_t arrival_us)
{
	struct pcl_audio a = {.arrival_us = arrival_us};
	int samples;

	if (puente_header_parse(msg, len, &a.hdr) < 0)
		goto bad;
	a.payload = msg + PUENTE_HEADER_LEN;
	a.len = len - PUENTE_HEADER_LEN;
	if (a.len < 1 || a.len > PUENTE_MAX_OPUS)
		goto bad;
	samples = opus_packet_get_nb_samples(a.payload, (opus_int32)a.len, PUENTE_SAMPLE_RATE);
	if (samples <= 0 || samples > PCL_MAX_PACKET_SAMPLES)
		goto bad;
	a.samples = (uint32_t)samples;
	c->counters.rx_audio++;
	if (c->cb.audio)
		c->cb.audio(c->user, &a);
	return;
bad:
	c->counters.bad_audio++;
}

/*
 * A bundle's packets one by one, all with the bundle's arrival time. Anything
 * else, a malformed bundle included, goes whole to the packet path, which
 * refuses what is not a packet: one bad message, one bad_audio.
 */
static void pcl_deliver_binary(struct pcl_client *c, int64_t arrival_us)
{
	const unsigned char *pkt;
	size_t off = 0, len;

	if (puente_bundle_check(c->rx, c->rx_len) < 0) {
		pcl_deliver_audio(c, c->rx, c->rx_len, arrival_us);
		return;
	}
	while (puente_bundle_next(c->rx, c->rx_len, &off, &pkt, &len) == 1)
		pcl_deliver_audio(c, pkt, len, arrival_us);
}

/* Why the connection never opened, as one line that says what to do. */
static void pcl_never_opened(struct pcl_client *c, struct lws *wsi, const char *in, size_t len)
{
	char why[sizeof(c->close_reason)];

	/* lws says only "not 101"; the status tells a refused link apart. */
	c->http_status = wsi ? (int)lws_http_client_http_response(wsi) : 0;
	if (c->http_status >= 400) {
		pcl_set_over(c, 0, pcl_refusal_text(c->http_status, why, sizeof(why)));
		return;
	}
	c->http_status = 0;
	if (!in || !len) {
		in = "connection failed";
		len = strlen(in);
	}
	if (c->url.tls && memmem(in, len, "SSL", 3))
		/* lws's own text ("connect SSL err 1: ...") helps nobody. */
		snprintf(
		    why, sizeof(why),
		    "the TLS handshake failed: the relay does not speak TLS there, or its "
		    "certificate is not trusted here (for a self-signed one, set PUENTE_CA_FILE "
		    "to it)");
	else
		snprintf(why, sizeof(why), "%.*s (is the relay running there?)",
		         (int)(len < 160 ? len : 160), in);
	pcl_set_over(c, 0, why);
}

/* Returns -1 to have lws close the connection (after lws_close_reason). */
static int pcl_receive(struct pcl_client *c, struct lws *wsi, const void *in, size_t len)
{
	size_t cap;

	if (c->rx_len == 0)
		c->rx_binary = lws_frame_is_binary(wsi);
	cap = c->rx_binary ? PUENTE_MAX_BUNDLE_MESSAGE : c->text_max;
	if (c->rx_len > cap || len > cap - c->rx_len) {
		static const char why[] = "message too big";

		c->local_code = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
		strcpy(c->local_reason, why);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
		                 sizeof(why) - 1);
		return -1;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	if (c->rx_binary)
		pcl_deliver_binary(c, pcl_now_unix_us());
	else
		pcl_deliver_text(c);
	c->rx_len = 0;
	return 0;
}

static int pcl_writeable(struct pcl_client *c, struct lws *wsi)
{
	struct pcl_msg *m = c->tx_head;

	if (m) {
		c->tx_head = m->next;
		if (!c->tx_head)
			c->tx_tail = NULL;
		if (m->binary)
			c->tx_binary--;
		else
			c->tx_count--;
		if (lws_write(wsi, m->buf + LWS_PRE, m->len,
		              m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)m->len) {
			free(m);
			return -1;
		}
		c->counters.tx_sent++;
		if (m->binary)
			c->counters.tx_audio++;
		free(m);
		if (c->tx_head || c->state == PCL_CLOSING)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->state == PCL_CLOSING) {
		lws_close_reason(wsi, (enum lws_close_status)c->local_code,
		                 (unsigned char *)c->local_reason, strlen(c->local_reason));
		return -1;
	}
	return 0;
}

static int pcl_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
	struct pcl_client *c = lws_context_user(lws_get_context(wsi));
	char text[PCL_REASON_MAX + 1];

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->wsi = NULL;
		pcl_never_opened(c, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (c->state == PCL_CONNECTING)
			c->state = PCL_OPEN;
		if (c->cb.open)
			c->cb.open(c->user);
		if (c->tx_head || c->state == PCL_CLOSING)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c->state == PCL_OVER)
			return -1;
		return pcl_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return pcl_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* in: 2-byte code in network order, then the reason. */
		if (len >= 2) {
			const unsigned char *b = in;
			size_t n = len - 2 < sizeof(text) - 1 ? len - 2 : sizeof(text) - 1;

			memcpy(text, b + 2, n);
			text[n] = '\0';
			c->peer_code = b[0] << 8 | b[1];
			pcl_sanitize(c->peer_reason, sizeof(c->peer_reason), text);
		}
		return 0; /* lws echoes the close, then CLIENT_CLOSED */
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* lws_cancel_service(): pcl_wake() or the deadline; pcl_run_for() looks. */
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		c->wsi = NULL;
		if (c->local_code)
			pcl_set_over(c, c->local_code, c->local_reason);
		else if (c->peer_code)
			pcl_set_over(c, c->peer_code, c->peer_reason);
		else
			pcl_set_over(c, LWS_CLOSE_STATUS_ABNORMAL_CLOSE,
			             "closed without a close frame");
		break;
	default:
		break;
	}
	return 0;
}

static void pcl_deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct pcl_client *c = lws_container_of(sul, struct pcl_client, deadline);

	c->deadline_hit = true;
	/*
	 * lws 4.1 runs ripe timers before it polls, and with none left it
	 * polls without a timeout: wake that poll so pcl_run_for() returns.
	 */
	lws_cancel_service(c->ctx);
}

static void pcl_lws_log(int level, const char *line)
{
	(void)level;
	fprintf(stderr, "lws: %s", line);
}

struct pcl_client *pcl_create(const char *url, const struct pcl_callbacks *cb, void *user, int *err)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct pcl_client *c;
	int e = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (!c)
		goto fail;
	if (pcl_url_parse(url ? url : PCL_DEFAULT_URL, &c->url) < 0) {
		e = -EINVAL;
		goto fail_free;
	}
	c->rx = malloc(PCL_RX_CAP + 1);
	if (!c->rx)
		goto fail_free;
	c->rx_cap = PCL_RX_CAP;
	c->text_max = PUENTE_MAX_MESSAGE;
	if (cb)
		c->cb = *cb;
	c->user = user;
	c->state = PCL_CONNECTING;
	atomic_init(&c->woken, false);
	c->protocols[0] = (struct lws_protocols){
	    .name = PUENTE_WS_SUBPROTOCOL,
	    .callback = pcl_lws_callback,
	    .rx_buffer_size = PCL_RX_CAP,
	};

	/* Errors only: the tools print their own one-line diagnosis. */
	lws_set_log_level(LLL_ERR, pcl_lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = c->protocols;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.gid = -1;
	info.uid = -1;
	info.user = c;
	info.timeout_secs = 10; /* bounds connect and handshake */
	if (c->url.tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.client_ssl_ca_filepath = g_ca_file;
	}
	c->ctx = lws_create_context(&info);
	if (!c->ctx)
		goto fail_rx;

	if (strchr(c->url.host, ':'))
		snprintf(c->host_header, sizeof(c->host_header), "[%s]:%u", c->url.host,
		         c->url.port);
	else
		snprintf(c->host_header, sizeof(c->host_header), "%s:%u", c->url.host, c->url.port);
	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.address = c->url.host;
	ci.port = c->url.port;
	ci.path = c->url.path;
	ci.host = c->host_header;
	ci.origin = c->host_header;
	ci.protocol = PUENTE_WS_SUBPROTOCOL;
	ci.local_protocol_name = PUENTE_WS_SUBPROTOCOL;
	ci.ietf_version_or_minus_one = -1;
	ci.pwsi = &c->wsi;
	/* The certificate must be valid for the host: no self-signed exceptions. */
	ci.ssl_connection = c->url.tls ? LCCSCF_USE_SSL : 0;
	/* A NULL return has already been reported through CONNECTION_ERROR, or not. */
	if (!lws_client_connect_via_info(&ci))
		pcl_never_opened(c, NULL, NULL, 0);
	return c;

fail_rx:
	free(c->rx);
fail_free:
	free(c);
fail:
	if (err)
		*err = e;
	return NULL;
}

int pcl_set_text_max(struct pcl_client *c, size_t max)
{
	if (max < PUENTE_MAX_MESSAGE || max > PCL_TEXT_MAX_LIMIT)
		return -EINVAL;
	if (max > c->rx_cap) {
		unsigned char *rx = realloc(c->rx, max + 1);

		if (!rx)
			return -ENOMEM;
		c->rx = rx;
		c->rx_cap = max;
	}
	/* A smaller limit keeps the larger buffer: a message may be half in it. */
	c->text_max = max;
	return 0;
}

void pcl_destroy(struct pcl_client *c)
{
	struct pcl_msg *m;

	if (!c)
		return;
	lws_context_destroy(c->ctx);
	while ((m = c->tx_head)) {
		c->tx_head = m->next;
		free(m);
	}
	free(c->rx);
	free(c);
}

int pcl_run_for(struct pcl_client *c, uint32_t ms)
{
	c->deadline_hit = false;
	lws_sul_schedule(c->ctx, 0, &c->deadline, pcl_deadline_cb, (lws_usec_t)ms * LWS_US_PER_MS);
	/* A wake that came between two calls ends this one before it waits. */
	while (c->state != PCL_OVER && !c->deadline_hit &&
	       !atomic_exchange_explicit(&c->woken, false, memory_order_acq_rel))
		if (lws_service(c->ctx, 0) < 0)
			pcl_set_over(c, LWS_CLOSE_STATUS_ABNORMAL_CLOSE, "event loop failed");
	lws_sul_cancel(&c->deadline);
	if (c->state != PCL_OVER)
		return 0;
	if (!c->closed_reported) {
		c->closed_reported = true;
		if (c->cb.closed)
			c->cb.closed(c->user, c->close_code, c->close_reason);
	}
	return -ENOTCONN;
}

/* Appends m to the send queue and asks lws for a writeable callback. */
static void pcl_enqueue(struct pcl_client *c, struct pcl_msg *m)
{
	m->next = NULL;
	if (c->tx_tail)
		c->tx_tail->next = m;
	else
		c->tx_head = m;
	c->tx_tail = m;
	if (m->binary)
		c->tx_binary++;
	else
		c->tx_count++;
	if (c->state == PCL_OPEN && c->wsi)
		lws_callback_on_writable(c->wsi);
}

int pcl_send_json(struct pcl_client *c, const json_t *msg)
{
	struct pcl_msg *m;
	char *text;
	size_t len;

	if (c->state != PCL_CONNECTING && c->state != PCL_OPEN)
		return -ENOTCONN;
	if (c->tx_count >= PCL_TX_QUEUE_MAX)
		return -ENOBUFS;
	text = json_dumps(msg, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	if (len > PUENTE_MAX_MESSAGE) {
		free(text);
		return -EMSGSIZE;
	}
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m) {
		free(text);
		return -ENOMEM;
	}
	m->len = len;
	m->binary = false;
	memcpy(m->buf + LWS_PRE, text, len);
	free(text);
	pcl_enqueue(c, m);
	return 0;
}

int pcl_send_audio(struct pcl_client *c, const struct puente_header *hdr,
                   const unsigned char *payload, size_t len)
{
	struct pcl_msg *m;

	if (c->state != PCL_OPEN)
		return -ENOTCONN;
	if (len < 1 || len > PUENTE_MAX_OPUS)
		return -EMSGSIZE;
	if (c->tx_binary >= PCL_TX_AUDIO_MAX)
		return -ENOBUFS;
	m = malloc(sizeof(*m) + LWS_PRE + PUENTE_HEADER_LEN + len);
	if (!m)
		return -ENOMEM;
	m->len = PUENTE_HEADER_LEN + len;
	m->binary = true;
	puente_header_pack(hdr, m->buf + LWS_PRE);
	memcpy(m->buf + LWS_PRE + PUENTE_HEADER_LEN, payload, len);
	pcl_enqueue(c, m);
	return 0;
}

void pcl_wake(struct pcl_client *c)
{
	atomic_store_explicit(&c->woken, true, memory_order_release);
	lws_cancel_service(c->ctx);
}

int pcl_close(struct pcl_client *c, int code, const char *reason)
{
	if (code < 1000 || code > 4999)
		return -EINVAL;
	if (c->state == PCL_OVER || c->state == PCL_CLOSING)
		return -ENOTCONN;
	if (c->state == PCL_CONNECTING) {
		/* No handshake to do; pcl_destroy() drops the attempt. */
		pcl_set_over(c, 0, "closed before the connection opened");
		return 0;
	}
	c->state = PCL_CLOSING;
	c->local_code = code;
	pcl_sanitize(c->local_reason, sizeof(c->local_reason), reason ? reason : "");
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
	return 0;
}

const struct pcl_counters *pcl_counters(const struct pcl_client *c)
{
	return &c->counters;
}

int pcl_http_status(const struct pcl_client *c)
{
	return c->http_status;
}
