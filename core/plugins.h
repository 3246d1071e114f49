/*
 * Plugin loader and dispatch: loads the plugins the config names, gives each
 * its host table (plugin_host.c), and passes events to them. Main thread for
 * load/unload, service thread for the events.
 */
#ifndef PUENTE_CORE_PLUGINS_H
#define PUENTE_CORE_PLUGINS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdio.h>

#include <puente/plugin.h>

#include "config.h"
#include "room.h"

#define PUENTE_MAX_PLUGINS 16
#define PUENTE_MAX_ROUTES  32

struct puente__server;

struct puente__plugin_slot {
	char name[PUENTE_NAME_MAX];
	void *dl;
	const struct puente_plugin *desc;
	void *state;
	struct puente_host host;
	struct puente__plugins *owner;
	uint32_t tick_ms;
	lws_sorted_usec_list_t tick;
	bool can_call_init_services; /* config_get, http_route, timer_every: only in init */
	char mount_path[PUENTE_NAME_MAX + 1]; /* "/<name>", where its web folder is served */
};

struct puente__route {
	char path[128];
	puente_http_fn fn;
	struct puente__plugin_slot *slot;
	struct lws_http_mount mount;
};

struct puente__plugins {
	size_t n;
	struct puente__plugin_slot slots[PUENTE_MAX_PLUGINS];
	size_t n_routes;
	struct puente__route routes[PUENTE_MAX_ROUTES];
	struct puente__room *room;
	const struct puente__config *cfg;
	struct puente__server *srv;
	struct puente_channel_info channels[PUENTE_MAX_CHANNELS];
};

/*
 * Main thread, before the server starts. Loads and initialises every plugin
 * named in cfg->plugins from cfg->plugin_dir. A plugin that cannot be
 * loaded is logged in one line and skipped, unless its section says
 * `required = yes`: then -EINVAL (the relay refuses to start).
 */
int puente__plugins_load(struct puente__plugins *p, const struct puente__config *cfg,
                         struct puente__room *room, struct puente__server *srv);
/* Main thread, after the service loop: destroy in reverse order, then dlclose. */
void puente__plugins_unload(struct puente__plugins *p);

/* Prints what each .so in dir is and whether it would load. 0 or -errno. */
int puente__plugins_list(const char *dir, const char *wanted, FILE *out);

/* Service thread: the events. */
void puente__plugins_join(struct puente__plugins *p, puente_client_id id, enum puente_role role);
void puente__plugins_leave(struct puente__plugins *p, puente_client_id id);
/* A "<ns>.<verb>" message: -ENOENT when no plugin owns ns, else the plugin's answer. */
int puente__plugins_message(struct puente__plugins *p, puente_client_id from, const char *type,
                            const json_t *body);
/* Audio from a client allowed to send it: 0 when a plugin took it. */
int puente__plugins_audio(struct puente__plugins *p, puente_client_id from,
                          const struct puente_packet *pkt);
/* After the lws context exists: start the plugins' timers. */
void puente__plugins_start_timers(struct puente__plugins *p, struct lws_context *ctx);

/* plugin_host.c: fills a slot's host table. */
void puente__plugin_host_init(struct puente__plugin_slot *slot);

#endif
