/*
 * puente plugin ABI, version 1.
 *
 * A plugin is a shared object (plugins/<name>/<name>.so) that exports one
 * symbol, PUENTE_PLUGIN_SYMBOL, returning a constant descriptor. It includes
 * only <puente/...> headers and links nothing from the core: everything it
 * may ask of the relay is in the host table it receives in init(), and all
 * its state lives behind the `state` pointer it returns (no globals), so a
 * test can run it against a fake host.
 *
 * Versioning: `abi` must equal PUENTE_PLUGIN_ABI exactly. `size` is
 * sizeof() of the struct as its side compiled it: members are only ever
 * appended, and a member is read only when `size` covers it
 * (PUENTE_HAS). A plugin whose descriptor is shorter than the core's
 * minimum is refused.
 *
 * Threads: init() and destroy() run on the main thread, before and after
 * the service loop. The events (client_join, client_leave, message, audio,
 * tick) run on the lws service thread and must not block: no waiting on
 * sockets, files, or other threads. Plugins pull channel packets through a
 * reader on threads of their own; the media path never calls a plugin.
 *
 * Ownership: every pointer passed to a plugin (json_t, packets, strings) is
 * borrowed for the duration of the call. Clients are 64-bit ids, never
 * reused; a call naming a client that has gone returns -ENOENT.
 */
#ifndef PUENTE_PLUGIN_H
#define PUENTE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define PUENTE_PLUGIN_ABI    1
#define PUENTE_PLUGIN_SYMBOL "puente_plugin_entry"

/* Whether struct *obj, as its producer compiled it, has member m. */
#define PUENTE_HAS(obj, m) ((obj)->size >= offsetof(__typeof__(*(obj)), m) + sizeof((obj)->m))

typedef struct json_t json_t;      /* jansson */
typedef uint64_t puente_client_id; /* never reused; 0 = nobody */

enum puente_role {
	PUENTE_ROLE_LISTENER = 0,
	PUENTE_ROLE_INTERPRETER = 1,
	PUENTE_ROLE_CAPTIONER = 2,
	PUENTE_ROLE_TECHNICIAN = 3,
	PUENTE_ROLE_ORGANISER = 4, /* organiser or moderator */
	PUENTE_ROLE_COUNT
};

enum puente_log_level {
	PUENTE_LOG_ERROR = 0,
	PUENTE_LOG_WARN = 1,
	PUENTE_LOG_INFO = 2,
	PUENTE_LOG_DEBUG = 3,
};

/* One Opus packet on a channel; borrowed. */
struct puente_packet {
	uint8_t channel;     /* wire channel index */
	uint8_t flags;       /* PUENTE_FLAG_* */
	uint32_t seq;        /* per channel; set by the relay on publish */
	uint64_t media_time; /* first sample, 48 kHz room clock */
	uint32_t samples;    /* duration at 48 kHz */
	uint32_t len;        /* 1..PUENTE_MAX_OPUS */
	const unsigned char *data;
};

/* A channel of the room; the strings live as long as the relay. */
struct puente_channel_info {
	int id; /* wire channel index */
	const char *name;
	const char *label;
	const char *lang; /* BCP 47, "" for the floor */
};

/* An HTTP request to a route the plugin registered; borrowed. */
struct puente_http_request {
	const char *method;       /* "GET" or "POST" */
	const char *path;         /* the full path, e.g. "/captions/api/seq" */
	const char *query;        /* after '?', without it; "" when none */
	const char *content_type; /* of the body; "" when none */
	const unsigned char *body;
	size_t body_len; /* at most PUENTE_MAX_HTTP_BODY */
};

#define PUENTE_MAX_HTTP_BODY 16384

/*
 * The plugin's answer. The host sets status 500 and an empty body before the
 * call. body is malloc'd by the plugin and freed by the host.
 */
struct puente_http_response {
	int status;
	char content_type[64];
	char *body;
	size_t body_len;
};

struct puente_reader; /* a plugin's cursor on one channel; opaque */

/* One connected client, as the relay sees it (host->clients). */
struct puente_client_info {
	puente_client_id id;
	enum puente_role role;
	int channel;           /* what it hears, -1 for nothing */
	uint64_t connected_us; /* wall clock of the connection */
	uint64_t sent;         /* audio packets sent to it */
	uint64_t dropped;      /* packets it skipped because it fell behind */
	uint32_t lag_packets;  /* packets waiting for it now */
	uint32_t queued_text;  /* control messages waiting for it now */
	char address[48];      /* peer IP address */
};

/* Refusals at the door (host->access_stats); monotonic unless noted. */
struct puente_access_stats {
	uint64_t refused_token;      /* bad, unknown, expired or revoked links */
	uint64_t refused_banned;     /* attempts from an address while it was banned */
	uint64_t bans;               /* bans started */
	uint64_t banned_now;         /* a level: addresses banned now */
	uint64_t refused_pending;    /* connections over the per-address handshake cap */
	uint64_t refused_conns;      /* WebSockets over the per-address cap */
	uint64_t refused_duplicate;  /* second connections refused (duplicate = refuse) */
	uint64_t taken_over;         /* connections replaced by the same link elsewhere */
	uint64_t revoked_closed;     /* closed because their invitation was revoked */
	uint64_t attendance_dropped; /* attendance lines lost (disk full or too slow) */
};

/* Relay-wide counters (host->relay_stats); monotonic unless noted. */
struct puente_relay_stats {
	uint64_t packets_published, packets_sent, packets_dropped;
	uint64_t clients_now, clients_total; /* clients_now is a level */
	uint64_t refused_audio, refused_too_big, refused_fragments, refused_role;
	uint64_t bad_messages, rate_limited, text_dropped, stalled_closed;
	uint64_t audio_received, audio_dropped, audio_invalid;
	uint64_t source_losses, silence_packets;
	int source_lost; /* a level: 1 while the room's input is lost */
};

/* Service thread; must not block. */
typedef void (*puente_http_fn)(void *state, const struct puente_http_request *req,
                               struct puente_http_response *res);

/*
 * What the relay offers one plugin. Actions return 0 or -errno. Every
 * function takes ctx (the plugin's own) first, except the reader's.
 */
struct puente_host {
	uint32_t abi;  /* PUENTE_PLUGIN_ABI */
	uint32_t size; /* sizeof(struct puente_host) as the core compiled it */
	void *ctx;

	/* --- any thread --- */
	void (*log)(void *ctx, enum puente_log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
	/* Queues a JSON text message for one client / every client of a role. -ENOBUFS when full.
	 */
	int (*send_json)(void *ctx, puente_client_id to, const json_t *msg);
	int (*send_json_role)(void *ctx, enum puente_role role, const json_t *msg);
	/* The room clock now, in 48 kHz samples (the media time of audio captured now). */
	uint64_t (*media_time_now)(void *ctx);
	/* The room's channels (fixed for the relay's life). NULL past the end. */
	const struct puente_channel_info *(*channel)(void *ctx, int index);
	/* Index of a channel by name, or -ENOENT. */
	int (*channel_find)(void *ctx, const char *name);

	/*
	 * Readers, each used by one thread of the plugin. reader_next copies the
	 * next packet into buf (cap >= PUENTE_MAX_OPUS) and fills pkt; returns 1,
	 * 0 when caught up, or -errno. A reader that fell behind skips ahead and
	 * its next packet carries PUENTE_FLAG_DISCONT. reader_wait returns 1 when
	 * a packet is waiting, 0 on timeout.
	 */
	int (*reader_open)(void *ctx, int channel, struct puente_reader **out);
	int (*reader_next)(struct puente_reader *r, struct puente_packet *pkt, unsigned char *buf,
	                   size_t cap);
	int (*reader_wait)(struct puente_reader *r, uint32_t timeout_ms);
	void (*reader_close)(struct puente_reader *r);

	/* --- service thread only (the events) --- */
	/*
	 * Publishes one packet into a channel, which then gets the next seq. The
	 * floor is the room input's: -EPERM. pkt->media_time is the plugin's,
	 * on the room clock; -EINVAL for a bad length.
	 */
	int (*publish)(void *ctx, int channel, const struct puente_packet *pkt);
	/*
	 * Moves what a client hears to a channel (-1: nothing), from the next
	 * packet on, flagged DISCONT; the client is sent core.subscribed.
	 */
	int (*subscribe)(void *ctx, puente_client_id client, int channel);
	/* The channel a client hears, -1 for none, or -ENOENT. */
	int (*subscription)(void *ctx, puente_client_id client);
	/* The role of a connected client, or -ENOENT. */
	int (*client_role)(void *ctx, puente_client_id client);

	/* --- init() only --- */
	/* A key of the plugin's own [plugin.<name>] section, or fallback. */
	const char *(*config_get)(void *ctx, const char *key, const char *fallback);
	/* Serves GET and POST under path (which starts with "/<name>/"). */
	int (*http_route)(void *ctx, const char *path, puente_http_fn fn);
	/* Calls the plugin's tick every ms milliseconds (>= 10) on the service thread. */
	int (*timer_every)(void *ctx, uint32_t ms);

	/* --- appended: check with PUENTE_HAS(host, member) --- */
	/* Any thread: the relay's counters now. */
	void (*relay_stats)(void *ctx, struct puente_relay_stats *out);
	/* Service thread: fills up to cap entries; returns how many clients there are. */
	int (*clients)(void *ctx, struct puente_client_info *out, size_t cap);
	/*
	 * Service thread: what a client's invitation allows, by key: "booths"
	 * (interpreters) or "languages" (captioners) as comma-separated names,
	 * "invitee" (its id), "name". NULL when unrestricted or not invited.
	 * Valid while the client is connected.
	 */
	const char *(*client_grant)(void *ctx, puente_client_id client, const char *key);
	/*
	 * Service thread: records a listener's choice in the attendance log,
	 * e.g. ("captions", "es"), or ("captions", NULL) when turned off.
	 */
	void (*attendance_note)(void *ctx, puente_client_id client, const char *what,
	                        const char *value);
	/* Any thread: the counters of who was kept out, and why. */
	void (*access_stats)(void *ctx, struct puente_access_stats *out);
};

/* The descriptor a plugin exports. Optional members may be NULL. */
struct puente_plugin {
	uint32_t abi;        /* PUENTE_PLUGIN_ABI */
	uint32_t size;       /* sizeof(struct puente_plugin) as the plugin compiled it */
	const char *name;    /* wire namespace and config section: [a-z0-9_]{1,31} */
	const char *version; /* free text */

	/* Required. The host table outlives the plugin. 0, or -errno to be refused. */
	int (*init)(const struct puente_host *host, void **state);
	/* Required. Joins the plugin's threads and frees its state. */
	void (*destroy)(void *state);

	/* Optional events, on the service thread. */
	/* A client connected (as a listener) or changed role with core.hello. */
	void (*client_join)(void *state, puente_client_id id, enum puente_role role);
	/* A client disconnected (or is about to change role: a join follows). */
	void (*client_leave)(void *state, puente_client_id id);
	/*
	 * A control message "<name>.<verb>". Returns 0 when handled (the plugin
	 * answered, or needed no answer); -ENOENT unknown verb, -EINVAL bad
	 * body, -EPERM not allowed for this client's role, -EBUSY refused in
	 * the current state: the host answers core.error unknown_type,
	 * bad_field, forbidden or busy.
	 */
	int (*message)(void *state, puente_client_id from, const char *verb, const json_t *body);
	/*
	 * One Opus packet sent by a client of a role that may send audio
	 * (interpreters), already validated (length, TOC, duration). 0 when
	 * taken, -EPERM when this client may not publish now (counted).
	 */
	int (*audio)(void *state, puente_client_id from, const struct puente_packet *pkt);
	/* Every timer_every() period. */
	void (*tick)(void *state, uint64_t now_us);
};

/* Defines the exported entry symbol for a descriptor. */
#define PUENTE_PLUGIN_DEFINE(desc)                                                                 \
	__attribute__((visibility("default"))) const struct puente_plugin *puente_plugin_entry(    \
	    void);                                                                                 \
	__attribute__((visibility("default"))) const struct puente_plugin *puente_plugin_entry(    \
	    void)                                                                                  \
	{                                                                                          \
		return &(desc);                                                                    \
	}

typedef const struct puente_plugin *(*puente_plugin_entry_fn)(void);

#endif
