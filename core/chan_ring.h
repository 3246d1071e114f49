/*
 * Channel ring: one writer publishes wire frames (16-byte header + Opus),
 * any number of readers follow with their own cursor. The writer never
 * waits for or reads the state of a reader; a reader that is lapped skips
 * forward, counts the packets it lost, and flags its next packet DISCONT.
 *
 * Slots carry a sequence word (2n+1 while packet n is written, 2n+2 once it
 * is complete): a seqlock made of release stores and acquire loads only, so
 * ThreadSanitizer models it (no standalone fences).
 */
#ifndef PUENTE_CORE_CHAN_RING_H
#define PUENTE_CORE_CHAN_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <puente/protocol.h>

#define PUENTE_SLOT_WORDS ((PUENTE_MAX_FRAME + 7) / 8)
/* Packets a new or skipped reader starts behind the writer: its jitter cushion. */
#define PUENTE_RING_MARGIN 3
/* Distance kept from the slot being overwritten when a reader is lapped. */
#define PUENTE_RING_GUARD 4

struct puente__slot {
	_Atomic uint64_t seq;
	_Atomic uint64_t len;
	_Atomic uint64_t w[PUENTE_SLOT_WORDS];
};

struct puente__chan_ring {
	alignas(64) _Atomic uint64_t next; /* next packet number; writer stores */
	uint32_t mask;                     /* slots - 1 */
	uint8_t channel;                   /* wire channel index */
	struct puente__slot *slots;
};

struct puente__cursor {     /* owned by exactly one reader thread */
	uint64_t pos;       /* next packet number wanted */
	uint64_t delivered; /* packets returned */
	uint64_t dropped;   /* packets skipped because the reader was lapped */
	bool discont;       /* the next packet returned gets PUENTE_FLAG_DISCONT */
};

/* Allocates slots (a power of two >= 2 * GUARD). 0, -EINVAL or -ENOMEM. */
int puente__chan_ring_init(struct puente__chan_ring *r, uint8_t channel, uint32_t slots);
void puente__chan_ring_fini(struct puente__chan_ring *r);

/*
 * Writer only. Publishes one Opus packet as packet number `next`, whose low
 * 32 bits are its wire seq. Returns the packet number, or -EINVAL if len is
 * 0 or over PUENTE_MAX_OPUS.
 */
int64_t puente__chan_publish(struct puente__chan_ring *r, uint8_t flags, uint64_t media_time,
                             const unsigned char *opus, size_t len);

/*
 * Reader: place the cursor `behind` packets before the live edge (at most
 * PUENTE_RING_MARGIN: a new listener's jitter cushion; 0: from the next
 * packet on). The first packet it gets is flagged DISCONT.
 */
void puente__cursor_start(const struct puente__chan_ring *r, struct puente__cursor *c,
                          uint32_t behind);

/*
 * Reader. Copies the next frame (header + Opus) into dst and returns its
 * length, or 0 if the reader is caught up. cap must be >= PUENTE_MAX_FRAME.
 */
size_t puente__chan_read(const struct puente__chan_ring *r, struct puente__cursor *c,
                         unsigned char *dst, size_t cap);

/* Reader: how many packets are waiting for this cursor (a lapped one counts
 * those it will skip too). */
uint64_t puente__chan_waiting(const struct puente__chan_ring *r, const struct puente__cursor *c);

/* Any thread: packets published so far. */
uint64_t puente__chan_published(const struct puente__chan_ring *r);

#endif
