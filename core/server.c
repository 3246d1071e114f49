/*
 * libwebsockets context, HTTP mount of the web pages, the service loop and
 * the graceful shutdown. Service thread, except request_stop.
 */
#include "server.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <ev.h>
#include <sys/stat.h>

#include "log.h"
#include "plugins.h"

#define TICK_US (250 * LWS_US_PER_MS)

static struct lws_protocols protocols[] = {
    /* First, so a client that names no subprotocol still gets puente.v1. */
    {
        .name = PUENTE_WS_SUBPROTOCOL,
        .callback = puente__ws_callback,
        /* lws allocates this per connection; longer messages arrive in pieces and
         * are put together (ws.c). 1 KiB, not 4: 3 KiB less per listener. Below
         * 1 KiB lws read a flood of fragments so slowly that its close for too
         * many fragments was lost to a reset (node_ws_bad_input). */
        .rx_buffer_size = 1024,
    },
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Idle clients are pinged after 10 s and dropped after 30 s without a pong. */
static const lws_retry_bo_t idle_policy = {
    .secs_since_valid_ping = 10,
    .secs_since_valid_hangup = 30,
};

static void lws_log_line(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	puente__log(level == LLL_ERR ? PUENTE_LOG_ERROR : PUENTE_LOG_WARN, "lws: %.*s", (int)n,
	            line);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct puente__server *s = lws_container_of(sul, struct puente__server, tick);

	puente__ws_tick(s);
	lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_US);
}

/*
 * The URL space: "/" is the core's pages; "/<plugin>" a loaded plugin's
 * web folder, when it has one; each route a plugin registered is a
 * callback mount served by http.c. lws picks the longest matching mount.
 */
static void build_mounts(struct puente__server *s)
{
	const struct lws_http_mount **tail = &s->mount.mount_next;
	struct puente__plugins *p = s->plugins;
	size_t k = 0;

	s->mount.mountpoint = "/";
	s->mount.mountpoint_len = 1;
	s->mount.origin = s->cfg->web_root;
	s->mount.def = "index.html";
	s->mount.origin_protocol = LWSMPRO_FILE;
	for (size_t i = 0; p && i < p->n && k < 16; i++) {
		struct stat st;
		struct lws_http_mount *m = &s->plugin_mounts[k];

		snprintf(s->plugin_web[k], sizeof(s->plugin_web[k]), "%s/%s/web",
		         s->cfg->plugin_web_root, p->slots[i].name);
		if (stat(s->plugin_web[k], &st) || !S_ISDIR(st.st_mode))
			continue;
		/* Two fields of one struct: gcc -O0 cannot tell they do not overlap. */
		size_t n = strnlen(p->slots[i].name, sizeof(p->slots[i].mount_path) - 2);

		p->slots[i].mount_path[0] = '/';
		memmove(p->slots[i].mount_path + 1, p->slots[i].name, n);
		p->slots[i].mount_path[n + 1] = 0;
		memset(m, 0, sizeof(*m));
		m->mountpoint = p->slots[i].mount_path;
		m->mountpoint_len = (unsigned char)strlen(m->mountpoint);
		m->origin = s->plugin_web[k];
		m->def = "index.html";
		m->origin_protocol = LWSMPRO_FILE;
		*tail = m;
		tail = &m->mount_next;
		k++;
	}
	for (size_t i = 0; p && i < p->n_routes; i++) {
		struct lws_http_mount *m = &p->routes[i].mount;

		memset(m, 0, sizeof(*m));
		m->mountpoint = p->routes[i].path;
		m->mountpoint_len = (unsigned char)strlen(m->mountpoint);
		m->origin = PUENTE_WS_SUBPROTOCOL;
		m->origin_protocol = LWSMPRO_CALLBACK;
		*tail = m;
		tail = &m->mount_next;
	}
}

int puente__server_init(struct puente__server *s, struct puente__room *room,
                        const struct puente__config *cfg, struct puente__plugins *plugins)
{
	struct lws_context_creation_info info;
	struct in_addr v4;

	memset(s, 0, sizeof(*s));
	s->room = room;
	s->cfg = cfg;
	s->plugins = plugins;
	s->next_client_id = 1;
	s->attendance.fd = -1;
	s->last_alive_ns = puente__now_mono_ns();
	s->service_thread = pthread_self();
	pthread_mutex_init(&s->inbox_lock, NULL);
	protocols[0].per_session_data_size = puente__ws_session_size();
	build_mounts(s);
	if (puente__gate_init(&s->gate, cfg, &room->stats))
		return -ENOMEM;
	if (puente__invites_init(&s->invites, cfg))
		return -EINVAL;
	if (puente__attendance_open(&s->attendance, cfg->attendance, cfg->room, &room->stats))
		return -EIO;

	lws_set_log_level(LLL_ERR, lws_log_line);
	memset(&info, 0, sizeof(info));
	info.port = cfg->port;
	info.iface = cfg->bind;
	info.protocols = protocols;
	info.mounts = &s->mount;
	info.user = s;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 |
	               LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	info.retry_and_idle_policy = &idle_policy;
	info.timeout_secs = 10;
	info.timeout_secs_ah_idle = 10;
	info.max_http_header_data = 4096;
	/* lws 4.1 built with IPv6 binds every interface when given an IPv4
	 * address (libwebsockets issue 2290): a relay meant for 127.0.0.1 would
	 * answer the whole network. An IPv4 bind address turns IPv6 off. */
	if (inet_pton(AF_INET, cfg->bind, &v4) == 1)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	/* lws' own loop polls every socket on each wake: with thousands of
	 * listeners that is a third of the relay's work (README, "Speed"). */
	if (cfg->libev) {
		/* The signal thread owns the signals: libev must leave the mask alone. */
		s->ev = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK);
		if (!s->ev) {
			log_error("event_loop = libev: cannot create an epoll loop");
			return -ENOMEM;
		}
		s->foreign_loops[0] = s->ev;
		info.foreign_loops = s->foreign_loops;
		info.options |= LWS_SERVER_OPTION_LIBEV;
	}
	if (cfg->cert[0]) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = cfg->cert;
		info.ssl_private_key_filepath = cfg->key;
		/* Plain and TLS share the port only when plain is allowed. */
		if (cfg->tls_required == 0)
			info.options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
			                LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER;
	}

	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		log_error("cannot listen on %s:%d (address in use, or not an address of this "
		          "machine?)",
		          cfg->bind, cfg->port);
		if (s->ev)
			ev_loop_destroy(s->ev);
		s->ev = NULL;
		return -EADDRINUSE;
	}
	s->vhost = lws_get_vhost_by_name(s->ctx, "default");
	s->port = s->vhost ? lws_get_vhost_listen_port(s->vhost) : cfg->port;
	atomic_store(&room->lws, s->ctx);
	lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_US);
	if (plugins)
		puente__plugins_start_timers(plugins, s->ctx);
	const char *tls = cfg->cert[0] ? "s" : "";

	if (cfg->public_url[0])
		snprintf(s->base_url, sizeof(s->base_url), "%.*s",
		         (int)strcspn(cfg->public_url, "#?"), cfg->public_url);
	else
		snprintf(s->base_url, sizeof(s->base_url), "http%s://%s:%d", tls, cfg->bind,
		         s->port);
	size_t n = strlen(s->base_url);

	if (n && s->base_url[n - 1] == '/')
		s->base_url[n - 1] = 0;
	log_info("listening on http%s://%s:%d/ (WebSocket ws%s://%s:%d%s)%s", tls, cfg->bind,
	         s->port, tls, cfg->bind, s->port, PUENTE_WS_PATH,
	         cfg->cert[0] && cfg->tls_required != 0 ? ", TLS only" : "");
	/* The plugins' pages, as links a person can open (the plugins knew no port). */
	for (size_t i = 0; plugins && i < plugins->n; i++)
		if (plugins->slots[i].mount_path[0])
			log_info("page: %s%s/", s->base_url, plugins->slots[i].mount_path);
	puente__invites_print_demo(&s->invites, s->base_url, stdout);
	return 0;
}

void puente__server_run(struct puente__server *s)
{
	for (;;) {
		if (s->ev)
			ev_run(s->ev, EVRUN_ONCE);
		else if (lws_service(s->ctx, 0) < 0)
			break;
		if (s->stopping &&
		    (s->n_sessions == 0 || puente__now_mono_ns() > s->stop_deadline_ns))
			break;
	}
	if (s->n_sessions)
		log_warn("%zu client(s) did not take their close within %d ms", s->n_sessions,
		         s->cfg->drain_ms);
}

void puente__server_request_stop(struct puente__server *s)
{
	atomic_store(&s->stop_requested, 1);
	lws_cancel_service(s->ctx);
}

void puente__server_fini(struct puente__server *s)
{
	if (!s->ctx)
		return;
	atomic_store(&s->room->lws, NULL);
	lws_sul_cancel(&s->tick);
	lws_context_destroy(s->ctx);
	s->ctx = NULL;
	if (s->ev)
		ev_loop_destroy(s->ev);
	s->ev = NULL;
	puente__attendance_close(&s->attendance);
	puente__invites_fini(&s->invites);
	puente__gate_fini(&s->gate);
	for (size_t i = 0; i < s->inbox_n; i++)
		free(s->inbox[i].text);
	s->inbox_n = 0;
	pthread_mutex_destroy(&s->inbox_lock);
}

bool puente__server_on_service_thread(struct puente__server *s)
{
	return pthread_equal(pthread_self(), s->service_thread);
}

int puente__server_send(struct puente__server *s, uint64_t to, int role, const json_t *msg)
{
	size_t n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	char *buf = n ? malloc(n) : NULL;
	int rc;

	if (!buf)
		return n ? -ENOMEM : -EINVAL;
	json_dumpb(msg, buf, n, JSON_COMPACT);
	if (puente__server_on_service_thread(s)) {
		rc = puente__ws_send_text(s, to, role, buf, n);
		free(buf);
		return rc;
	}
	pthread_mutex_lock(&s->inbox_lock);
	if (s->inbox_n == PUENTE_INBOX) {
		pthread_mutex_unlock(&s->inbox_lock);
		free(buf);
		atomic_fetch_add(&s->room->stats.text_dropped, 1);
		return -ENOBUFS;
	}
	s->inbox[s->inbox_n++] =
	    (struct puente__post){.to = to, .role = role, .text = buf, .len = n};
	pthread_mutex_unlock(&s->inbox_lock);
	puente__room_wake(s->room);
	return 0;
}
