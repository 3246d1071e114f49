/*
 * pcl: the puente client library shared by the command-line tools (listen,
 * caption, booth, meter, bench). It speaks the wire protocol of README.md
 * ("Wire protocol") over one libwebsockets client connection per object,
 * and keeps the accounting every listener-side tool needs (room-clock delay,
 * sequence gaps, discontinuities).
 *
 * Threads: a struct pcl_client belongs to the thread that calls
 * pcl_run_for(); every pcl_client call and every callback happens there.
 * struct pcl_stats is plain data owned by one thread. Audio handed to a
 * real-time callback goes through <puente/spsc.h>.
 *
 * Errors: actions return 0 or -errno; constructors return NULL and fill an
 * optional int *err.
 */
#ifndef PCL_H
#define PCL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <puente/protocol.h>

#define PCL_DEFAULT_URL  "ws://127.0.0.1:8080/ws"
#define PCL_DEFAULT_PORT 8080
#define PCL_HOST_MAX     256
#define PCL_PATH_MAX     512
/* Longest close reason RFC 6455 allows (125-byte control payload - code). */
#define PCL_REASON_MAX 123
/* Outgoing messages queued before pcl_send_json() says -ENOBUFS. */
#define PCL_TX_QUEUE_MAX 64
/*
 * Audio messages queued before pcl_send_audio() says -ENOBUFS: 25 packets
 * of 20 ms = 0.5 s. A sender that hits it is faster than its network, and
 * should drop (old audio is worthless live); control messages keep their
 * own PCL_TX_QUEUE_MAX room so a backlog of audio never blocks them.
 */
#define PCL_TX_AUDIO_MAX 25
/*
 * Largest text message a client accepts after pcl_set_text_max(); beyond
 * the limit in force it closes with 1009. The default is PUENTE_MAX_MESSAGE,
 * the relay's own limit; caption messages can be larger (README, "Caption
 * messages": a full history is up to ~70 KB), so a client that chooses
 * captions raises it to PCL_CAPTIONS_TEXT_MAX.
 */
#define PCL_TEXT_MAX_LIMIT    (16u << 20)
#define PCL_CAPTIONS_TEXT_MAX (256u << 10)
/* Longest Opus packet in samples at 48 kHz (120 ms, RFC 6716). */
#define PCL_MAX_PACKET_SAMPLES 5760

/* A parsed ws:// or wss:// URL. */
struct pcl_url {
	char host[PCL_HOST_MAX]; /* name or address; IPv6 without brackets */
	uint16_t port;
	char path[PCL_PATH_MAX]; /* starts with '/' */
	bool tls;                /* wss:// */
};

/*
 * Parses "ws://HOST[:PORT][/PATH]" or the same with wss:// (HOST may be
 * "[v6addr]"). A missing port is PCL_DEFAULT_PORT (the relay's, with or
 * without TLS) and a missing path is PUENTE_WS_PATH, so "ws://host" reaches
 * a relay with default settings. Returns 0, or -EINVAL for anything else
 * (other schemes, empty host, bad port, user info, spaces, overlong).
 */
int pcl_url_parse(const char *url, struct pcl_url *out);

/*
 * wss:// checks the relay's certificate against the system's authorities,
 * or, once this is called with a file, against the certificates in it (a
 * relay with a self-signed certificate). Before pcl_create(); the path is
 * kept, not copied.
 */
void pcl_set_ca_file(const char *path);

/* --- personal links (pcl_link.c) --- */

/* Longest token accepted, NUL included; the relay's are 22 characters. */
#define PCL_TOKEN_MAX 128
#define PCL_URL_MAX   (PCL_HOST_MAX + PCL_PATH_MAX + PCL_TOKEN_MAX + 16)

/* Where a tool connects, and with which token. */
struct pcl_target {
	char url[PCL_URL_MAX];     /* the WebSocket URL without the token: safe to print */
	char connect[PCL_URL_MAX]; /* url with t=TOKEN when there is one: for pcl_create() */
	bool has_token;
};

/*
 * True for 1 to PCL_TOKEN_MAX - 1 characters of base64url ([A-Za-z0-9_-]):
 * what can go into a URL as it is. Whether the relay knows it is its call.
 */
bool pcl_token_valid(const char *token);

/*
 * Reads a token from the first line of path (trailing CR, spaces and tabs
 * dropped). 0, -errno (unreadable), or -EINVAL (empty or not a token).
 */
int pcl_token_read(const char *path, char token[PCL_TOKEN_MAX]);

/*
 * Splits url, a WebSocket URL (ws:// or wss://) or a personal link
 * (http:// or https://, the page anywhere, "#t=TOKEN" or "?t=TOKEN"), into
 * the relay's WebSocket URL without the token (ws_url) and the token
 * (token, "" when there is none). A link's http becomes ws and https wss,
 * its port stays (80 and 443 by default) and its path becomes
 * PUENTE_WS_PATH; a WebSocket URL keeps its path. Returns 0 or -EINVAL.
 */
int pcl_link_parse(const char *url, char ws_url[PCL_URL_MAX], char token[PCL_TOKEN_MAX]);

/*
 * The tools' --url, --token, --token-file and PUENTE_TOKEN (env) in one
 * target; each may be NULL. The token is the first of: --token,
 * --token-file, the one in url, env. Returns 0, or -EINVAL / -errno with
 * one line in err for "PROG: ..." that never contains the token.
 */
int pcl_target_resolve(struct pcl_target *out, const char *url, const char *token,
                       const char *token_file, const char *env, char *err, size_t errlen);

/*
 * What an HTTP status refusing the WebSocket upgrade means for a personal
 * link, as one line ("the relay refused the connection (HTTP 403: ...): ..."),
 * written to buf. Returns buf.
 */
const char *pcl_refusal_text(int status, char *buf, size_t cap);

/* One audio packet, validated; everything borrowed for the callback only. */
struct pcl_audio {
	struct puente_header hdr;
	const unsigned char *payload; /* one Opus packet */
	size_t len;                   /* 1..PUENTE_MAX_OPUS */
	uint32_t samples;             /* packet duration at 48 kHz, from its TOC */
	int64_t arrival_us;           /* wall clock (µs since 1970) at arrival */
};

/* Every member optional (NULL). All run on the pcl_run_for() thread. */
struct pcl_callbacks {
	/* The WebSocket is open; nothing has been received yet. */
	void (*open)(void *user);
	/* A JSON object with a string "type" (== type); both borrowed. */
	void (*json)(void *user, const char *type, json_t *msg);
	/* One valid audio packet; a bundle's packets come one call each, in order. */
	void (*audio)(void *user, const struct pcl_audio *a);
	/*
	 * The connection is over; called once. code: the close code the peer
	 * sent, or the one pcl_close() or pcl itself (1009 message too big)
	 * sent; 1006 if it ended without a close frame; 0 if it never opened.
	 * reason: sanitised text, never NULL, maybe empty; for one that never
	 * opened, one line saying why and what to do (a refused upgrade:
	 * pcl_refusal_text(); a failed TLS handshake; nothing answering).
	 */
	void (*closed)(void *user, int code, const char *reason);
};

/* What the client delivered, sent, dropped or refused; never reset. */
struct pcl_counters {
	uint64_t rx_text;   /* JSON messages delivered */
	uint64_t rx_audio;  /* audio packets delivered (each of a bundle's counts) */
	uint64_t bad_json;  /* text that was not a JSON object with a string type */
	uint64_t bad_audio; /* packets with a bad header, size or Opus TOC; malformed bundles */
	uint64_t tx_sent;   /* messages written to the socket */
	uint64_t tx_audio;  /* of which audio (binary) messages */
};

struct pcl_client;

/*
 * Creates a client and starts connecting to url (NULL: PCL_DEFAULT_URL)
 * with subprotocol PUENTE_WS_SUBPROTOCOL. Nothing happens until
 * pcl_run_for(); a failed connection is reported through cb->closed.
 * cb is copied. Returns NULL with *err = -EINVAL (bad URL) or -ENOMEM.
 */
struct pcl_client *pcl_create(const char *url, const struct pcl_callbacks *cb, void *user,
                              int *err);

/*
 * Sets the largest text message c accepts (PUENTE_MAX_MESSAGE by default)
 * to max bytes, PUENTE_MAX_MESSAGE..PCL_TEXT_MAX_LIMIT. Not from inside a
 * callback. Returns 0, -EINVAL or -ENOMEM.
 */
int pcl_set_text_max(struct pcl_client *c, size_t max);

/* Closes the socket without a handshake and frees everything. NULL is fine.
 * Not from inside a callback. */
void pcl_destroy(struct pcl_client *c);

/*
 * Services the connection for up to ms milliseconds, running callbacks as
 * events arrive. Returns early once the connection is over (after calling
 * cb->closed). Returns 0 while connecting or open, -ENOTCONN once over.
 */
int pcl_run_for(struct pcl_client *c, uint32_t ms);

/*
 * Queues msg (compact JSON, at most PUENTE_MAX_MESSAGE bytes) to be sent
 * once the connection is open. msg stays the caller's. Returns 0, -ENOTCONN
 * (over or closing), -EMSGSIZE, -ENOBUFS (PCL_TX_QUEUE_MAX queued), -ENOMEM.
 */
int pcl_send_json(struct pcl_client *c, const json_t *msg);

/*
 * Queues one audio message: the 16-byte header packed from hdr (network
 * byte order, protocol.h), then payload, one Opus packet of 1..PUENTE_MAX_OPUS
 * bytes, sent as one binary WebSocket message in order with the JSON ones.
 * Only clients of a role that may send audio (interpreters) should: the
 * relay closes a listener that does with 1008. Returns 0, -ENOTCONN (not
 * open yet, over or closing: audio is never held for later), -EMSGSIZE (len
 * 0 or too long), -ENOBUFS (PCL_TX_AUDIO_MAX audio messages queued; drop
 * the packet), -ENOMEM.
 */
int pcl_send_audio(struct pcl_client *c, const struct puente_header *hdr,
                   const unsigned char *payload, size_t len);

/*
 * Any thread: makes the pcl_run_for() in progress return soon (or the next
 * one return at once), so its thread can act on something another thread
 * produced (an encoded packet, a command). Safe while pcl_run_for() runs;
 * not after pcl_destroy().
 */
void pcl_wake(struct pcl_client *c);

/*
 * Starts a closing handshake with code (1000..4999) and reason (<=
 * PCL_REASON_MAX bytes, may be NULL) after the queued messages. Then run
 * pcl_run_for() until it returns -ENOTCONN. Closing before the connection
 * opened just abandons it. Returns 0, -ENOTCONN (over or already closing)
 * or -EINVAL (code).
 */
int pcl_close(struct pcl_client *c, int code, const char *reason);

const struct pcl_counters *pcl_counters(const struct pcl_client *c);

/*
 * The HTTP status with which the relay refused the WebSocket upgrade (401,
 * 403, 409, 429, 503 ...), or 0 when it did not (never reached, or opened).
 * Then cb->closed had code 0 and pcl_refusal_text() as its reason.
 */
int pcl_http_status(const struct pcl_client *c);

/* Wall clock, microseconds since 1970. */
int64_t pcl_now_unix_us(void);

/*
 * Copies at most cap - 1 bytes of src (NULL: "") into dst with control
 * characters (C0, DEL and UTF-8-encoded C1) replaced by '?', so text from
 * the network cannot drive a terminal. Returns dst.
 */
char *pcl_sanitize(char *dst, size_t cap, const char *src);

/* --- room clock and listener accounting --- */

/* The room clock's anchor: the sample at media_time was captured at unix_us. */
struct pcl_clock {
	uint64_t media_time;
	int64_t unix_us;
};

/*
 * Reads {"media_time": N, "unix_us": N} (both non-negative integers) from
 * obj: core.subscribed's "clock" or a core.clock message. 0 or -EINVAL.
 */
int pcl_clock_parse(const json_t *obj, struct pcl_clock *out);

/*
 * Delay in µs between the capture of a packet's last sample and its arrival:
 * arrival_us - (anchor.unix_us + (media_time + samples - anchor.media_time)
 * * 1e6 / 48000). Exact on one machine; across machines, as good as their
 * clocks' sync.
 */
int64_t pcl_delay_us(const struct pcl_clock *anchor, uint64_t media_time, uint32_t samples,
                     int64_t arrival_us);

/* Delay samples kept exactly; beyond this a uniform reservoir of this size. */
#define PCL_STATS_DELAYS_MAX (1u << 20)

/* What pcl_stats_packet() saw in one packet. */
enum pcl_seq_event {
	PCL_SEQ_OK = 0,
	PCL_SEQ_FIRST,   /* first packet since init/restart: nothing to compare */
	PCL_SEQ_DISCONT, /* flagged DISCONT: the relay skipped packets */
	PCL_SEQ_GAP,     /* seq is not previous + 1 and no DISCONT flag */
};

struct pcl_stats {
	uint64_t packets; /* packets accounted */
	uint64_t gaps;    /* PCL_SEQ_GAP events */
	uint64_t discont; /* PCL_SEQ_DISCONT events (the first packet never counts) */
	uint64_t missing; /* packets skipped over by gaps (seq distance - 1) */
	/* private */
	bool have_clock, have_seq;
	struct pcl_clock clock;
	uint32_t last_seq;
	int32_t *delays; /* µs, clamped to int32 */
	size_t n_delays, cap_delays;
	uint64_t seen_delays;
	uint64_t rng;
	bool sorted;
};

void pcl_stats_init(struct pcl_stats *s);
void pcl_stats_fini(struct pcl_stats *s);
/* A new room-clock anchor (core.subscribed, core.clock). */
void pcl_stats_set_clock(struct pcl_stats *s, const struct pcl_clock *clock);
/* Forget the previous seq: call on (re)subscribing, when the relay restarts the stream. */
void pcl_stats_restart(struct pcl_stats *s);
/* Accounts one packet; its delay is recorded once a clock is set. */
enum pcl_seq_event pcl_stats_packet(struct pcl_stats *s, const struct pcl_audio *a);
/* Nearest-rank percentile (0..100) of the recorded delays in ms; NAN if none. */
double pcl_stats_delay_ms(struct pcl_stats *s, double percentile);

#endif
