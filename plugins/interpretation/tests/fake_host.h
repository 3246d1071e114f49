/*
 * A fake relay for testing a plugin without the core: it implements the host
 * table of <puente/plugin.h>, records every publish, subscription and JSON
 * message and attendance note, and keeps a room clock the test moves by hand;
 * the test sets what each client's invitation grants. Single-threaded, as the
 * service thread is. Any plugin's tests can use it.
 */
#ifndef PUENTE_FAKE_HOST_H
#define PUENTE_FAKE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <puente/plugin.h>
#include <puente/protocol.h>

#define FAKE_MAX_CONFIG  16
#define FAKE_MAX_CLIENTS 64
#define FAKE_MAX_ROUTES  8
#define FAKE_MAX_GRANTS  32

/* A packet as the plugin published it, with the seq the relay gave it. */
struct fake_packet {
	int channel;
	uint8_t flags;
	uint32_t seq;
	uint64_t media_time;
	uint32_t samples;
	unsigned char first_byte; /* tests tag packets by their first payload byte */
};

/* A JSON message the plugin sent: to one client (role -1) or to every client of a role. */
struct fake_message {
	puente_client_id to;
	int role;
	json_t *msg; /* owned */
};

struct fake_client {
	puente_client_id id;
	enum puente_role role;
	int channel;       /* what it hears: -1 nothing */
	size_t subscribes; /* how many times the plugin moved it */
};

/* What a client's invitation allows (client_grant), kept across its connections. */
struct fake_grant {
	puente_client_id id;
	char key[16];
	char value[256];
};

/* A choice the plugin noted for the attendance log (attendance_note). */
struct fake_note {
	puente_client_id id;
	char what[32];
	char value[64];
	bool null; /* the plugin gave NULL: turned off */
};

/* An HTTP route the plugin registered in init. */
struct fake_route {
	char path[128];
	puente_http_fn fn;
};

struct fake_host {
	struct puente_host host; /* ctx points back at this struct */
	const struct puente_plugin *plugin;
	void *state;
	bool started;

	struct puente_channel_info channels[PUENTE_MAX_CHANNELS];
	int n_channels;
	const char *config_keys[FAKE_MAX_CONFIG], *config_values[FAKE_MAX_CONFIG];
	int n_config;
	uint64_t now; /* room clock, 48 kHz samples */

	struct fake_client clients[FAKE_MAX_CLIENTS];
	size_t n_clients;
	uint32_t next_seq[PUENTE_MAX_CHANNELS];
	struct fake_packet *packets;
	size_t n_packets, cap_packets;
	struct fake_message *sent;
	size_t n_sent, cap_sent;
	int n_log_errors;
	char last_log[512];

	/* Set while the plugin's init runs: the init-only services say -EPERM otherwise. */
	bool in_init;
	struct fake_route routes[FAKE_MAX_ROUTES];
	int n_routes;
	uint32_t tick_ms; /* what the plugin asked of timer_every; 0 none */
	/*
	 * Every log line, each ending in '\n' (a plugin may log from its own
	 * threads: the log is the fake's only thread-safe service).
	 */
	char *log_text;
	size_t log_len;

	struct fake_grant grants[FAKE_MAX_GRANTS];
	int n_grants;
	struct fake_note *notes;
	size_t n_notes, cap_notes;
};

/* A room of floor, es, en; clock at 10 s; the plugin from its entry symbol (not started). */
void fake_host_init(struct fake_host *f, const struct puente_plugin *plugin);
/* Frees everything; destroys the plugin when it was started. */
void fake_host_fini(struct fake_host *f);
/* Before start: replaces the room's channels ("floor" first) / sets a config key. */
void fake_host_channels(struct fake_host *f, const char *const *names, const char *const *langs,
                        int n);
void fake_host_config(struct fake_host *f, const char *key, const char *value);
/*
 * What client id's invitation allows for key ("booths", "languages",
 * "invitee", "name"); NULL removes it. Set it before fake_connect when the
 * plugin reads it as the client joins, as the relay's comes with the link.
 */
void fake_grant(struct fake_host *f, puente_client_id id, const char *key, const char *value);
/* Calls the plugin's init; returns its result. */
int fake_host_start(struct fake_host *f);

/* The events a relay would deliver. */
void fake_connect(struct fake_host *f, puente_client_id id, enum puente_role role);
void fake_disconnect(struct fake_host *f, puente_client_id id);
/* Sends "<plugin>.<verb>" with fields packed from fmt (json_pack syntax, NULL: none). */
int fake_message(struct fake_host *f, puente_client_id from, const char *verb, const char *fmt,
                 ...);
/* The clock moves 20 ms, then a 20 ms packet tagged with tag arrives from a client. */
int fake_audio(struct fake_host *f, puente_client_id from, unsigned char tag);

/*
 * Serves an HTTP request as the relay would: the longest registered route
 * that path starts with (followed by '/' or its end). Returns -ENOENT when no
 * route matches, else 0 with the plugin's answer in res (free res->body).
 */
int fake_http(struct fake_host *f, const char *method, const char *path, const char *query,
              const char *content_type, const void *body, size_t body_len,
              struct puente_http_response *res);
/* How many times s occurs in the log so far. */
size_t fake_log_count(struct fake_host *f, const char *s);

/* What the recordings say. */
int fake_hears(const struct fake_host *f, puente_client_id id);
size_t fake_subscribes(const struct fake_host *f, puente_client_id id);
/* The last message of a type that reached a client (sent to it or to its role), or NULL. */
const json_t *fake_last(const struct fake_host *f, puente_client_id id, const char *type);
size_t fake_count(const struct fake_host *f, puente_client_id id, const char *type);
/* How many attendance notes of what the plugin made for a client; the last one, or NULL. */
size_t fake_note_count(const struct fake_host *f, puente_client_id id, const char *what);
const struct fake_note *fake_note_last(const struct fake_host *f, puente_client_id id,
                                       const char *what);
/* Forgets the recorded messages and packets (not the subscriptions). */
void fake_clear(struct fake_host *f);

#endif
