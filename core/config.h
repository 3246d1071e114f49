/*
 * Relay configuration: an embedded default (an INI text, see config.c), an
 * optional INI file over it, then command-line flags over both.
 * Main thread only, before the other threads start.
 */
#ifndef PUENTE_CORE_CONFIG_H
#define PUENTE_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include <puente/protocol.h>

#define PUENTE_NAME_MAX 32

enum puente__source_kind {
	PUENTE_SOURCE_AUTO,   /* default input device, else the test signal */
	PUENTE_SOURCE_DEVICE, /* the named device; refuse to start without it */
	PUENTE_SOURCE_FILE,   /* a WAV file, looped */
	PUENTE_SOURCE_TONE,   /* generated test signal */
};

struct puente__channel_conf {
	char name[PUENTE_NAME_MAX]; /* the id in [channel.<id>]; what clients subscribe to */
	char label[96];             /* shown to people */
	char lang[16];              /* BCP 47 tag, empty for the floor */
};

struct puente__plugin_kv {
	char *section; /* plugin name */
	char *key;
	char *value;
};

struct puente__config {
	char bind[64];
	int port;
	char web_root[512];
	char room[96];
	enum puente__source_kind source;
	char input[128];
	char input_file[512];
	int frame_ms;
	int bitrate;
	char output[128]; /* empty: no room playback */
	char output_channel[PUENTE_NAME_MAX];
	int drain_ms;        /* how long shutdown waits for clients to take their close */
	int stall_timeout_s; /* a subscribed client that accepts nothing this long is dropped */
	int send_lowat;      /* bytes of unsent audio the kernel may hold per client */
	int ring_slots;
	bool libev;       /* event_loop = libev (default): lws on libev's epoll, not its poll() */
	int bundle_above; /* listeners beyond which "auto" ones get bundles */
	int bundle_auto;  /* packets per bundle then */
	int log_level;
	char plugins[256];         /* names of the plugins to load */
	char plugin_dir[512];      /* where <name>.so are */
	char plugin_web_root[512]; /* where <name>/web are */
	size_t n_channels;
	struct puente__channel_conf channels[PUENTE_MAX_CHANNELS];
	size_t n_plugin_kv;
	struct puente__plugin_kv *plugin_kv;
	bool channels_from_file; /* a file's first [channel.*] replaces the default set */

	/* TLS ([core]): both files, or neither */
	char cert[512];
	char key[512];
	int tls_required;     /* -1: yes when a certificate is set */
	char public_url[256]; /* base of the links the relay prints; default from bind:port */

	/* [access]: who may enter */
	char invitees[512];       /* store from puente-token; empty: demo links for this run */
	bool anonymous_listeners; /* no token needed to listen */
	bool takeover;            /* a second connection of an invitee replaces the first */
	char attendance[512];     /* attendance log; empty: none */
	int clock_tolerance_s;    /* skew allowed at a link's validity edges */
	int ban_failures;         /* bad tokens from one address within ban_window_s ... */
	int ban_window_s;
	int ban_s;                   /* ... ban it this long */
	int max_pending_per_address; /* connections still in their handshake; 0: no cap */
	int max_conns_per_address;   /* open WebSockets; 0: no cap */
	int message_burst;           /* control messages a client may send at once ... */
	int message_rate;            /* ... and per second after that */
	int captioner_burst;         /* the same for captioners (partial lines) */
	int captioner_rate;
};

/* Loads the embedded default. 0 or -errno. */
int puente__config_defaults(struct puente__config *c);

/* Reads an INI file over c. Errors are logged with the file and line. 0 or -errno. */
int puente__config_load_file(struct puente__config *c, const char *path);

/*
 * Sets one [core] key from text, as the file would (flags use this too).
 * 0, 1 for an unknown key, -1 for an invalid value.
 */
int puente__config_set_core(struct puente__config *c, const char *key, const char *value);

/* Sets one [access] key, with the same results as puente__config_set_core. */
int puente__config_set_access(struct puente__config *c, const char *key, const char *value);

/* Checks ranges and cross-field rules; logs each problem. 0 or -EINVAL. */
int puente__config_validate(const struct puente__config *c);

/* Index of the channel called name, or -1. */
int puente__config_channel(const struct puente__config *c, const char *name);

void puente__config_fini(struct puente__config *c);

/* The embedded default as INI text (for --print-default-config). */
const char *puente__config_default_text(void);

#endif
