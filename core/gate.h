/*
 * Limits per client address: connections still in their handshake, open
 * WebSockets, and bans for addresses that keep presenting bad links.
 * Service thread only.
 *
 * lws 4.1 as Debian builds it has no peer limits of its own, so the
 * addresses are counted here, in a hash table of bounded size that is
 * compacted once a second.
 */
#ifndef PUENTE_CORE_GATE_H
#define PUENTE_CORE_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"
#include "room.h"

#define PUENTE_ADDR_MAX 48

struct puente__gate_entry {
	char addr[PUENTE_ADDR_MAX]; /* empty: a free slot */
	uint32_t pending;           /* accepted, request not yet read */
	uint32_t conns;             /* open WebSockets */
	uint32_t failures;          /* bad links since window_ns */
	uint64_t window_ns;
	uint64_t banned_until_ns; /* 0: not banned */
};

struct puente__gate_fd {
	bool pending;
	ino_t ino; /* tells a closed-and-reused descriptor from the one we counted */
	char addr[PUENTE_ADDR_MAX];
};

struct puente__gate {
	const struct puente__config *cfg;
	struct puente__stats *stats;
	struct puente__gate_entry *tab;
	size_t cap, used;
	struct puente__gate_fd *fds;
	size_t n_fds;
};

enum puente__gate_verdict {
	PUENTE_GATE_OK,
	PUENTE_GATE_BANNED,   /* retry_s says how long */
	PUENTE_GATE_TOO_MANY, /* open WebSockets from this address */
};

int puente__gate_init(struct puente__gate *g, const struct puente__config *cfg,
                      struct puente__stats *stats);
void puente__gate_fini(struct puente__gate *g);

/* The text form of a peer address, IPv4-mapped IPv6 written as IPv4. */
void puente__gate_addr(const struct sockaddr *sa, char out[PUENTE_ADDR_MAX]);
void puente__gate_addr_tidy(char addr[PUENTE_ADDR_MAX]);

/* A TCP connection was accepted on fd: false to close it (handshake cap). */
bool puente__gate_accept(struct puente__gate *g, const struct sockaddr *sa, int fd);
/* The connection on fd has sent its request: no longer pending. */
void puente__gate_ready(struct puente__gate *g, int fd);

/* Before a WebSocket upgrade. */
enum puente__gate_verdict puente__gate_check(struct puente__gate *g, const char *addr,
                                             unsigned *retry_s);
/* A bad link from addr; true when it starts a ban (logged). */
bool puente__gate_failed(struct puente__gate *g, const char *addr);
/* Lifts addr's ban and forgets its bad links: 0, or -ENOENT when it was not banned. */
int puente__gate_unban(struct puente__gate *g, const char *addr);

struct puente__gate_ban {
	char addr[PUENTE_ADDR_MAX];
	unsigned seconds; /* left */
};
/* The addresses banned now, up to cap; returns how many there are. */
size_t puente__gate_bans(const struct puente__gate *g, struct puente__gate_ban *out, size_t cap);
void puente__gate_open(struct puente__gate *g, const char *addr);
void puente__gate_close(struct puente__gate *g, const char *addr);

/* Once a second: forgets closed handshakes, ended bans and idle addresses. */
void puente__gate_sweep(struct puente__gate *g);

#endif
