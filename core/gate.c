/* Limits per client address: handshakes, WebSockets, bans for bad links. */
#include "gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "log.h"

#define GATE_MIN_CAP 1024
#define GATE_MAX_CAP 65536 /* beyond this, new addresses pass untracked */
#define GATE_MAX_FDS 65536 /* connections on higher descriptors pass untracked */
#define NS_PER_S     1000000000ull

static uint64_t hash_addr(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct puente__gate_entry *find_slot(struct puente__gate_entry *tab, size_t cap,
                                            const char *addr)
{
	size_t i = hash_addr(addr) & (cap - 1);

	while (tab[i].addr[0] && strcmp(tab[i].addr, addr))
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static bool idle(const struct puente__gate_entry *e, uint64_t now, uint64_t window_ns)
{
	return !e->pending && !e->conns && e->banned_until_ns <= now &&
	       (!e->failures || now - e->window_ns > window_ns);
}

/* Rebuilds the table at cap, keeping the addresses that still matter. */
static int rebuild(struct puente__gate *g, size_t cap)
{
	uint64_t now = puente__now_mono_ns();
	uint64_t window_ns = (uint64_t)g->cfg->ban_window_s * NS_PER_S;
	struct puente__gate_entry *tab = calloc(cap, sizeof(*tab));
	size_t used = 0, banned = 0;

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < g->cap; i++) {
		struct puente__gate_entry *e = &g->tab[i];

		if (!e->addr[0] || idle(e, now, window_ns))
			continue;
		*find_slot(tab, cap, e->addr) = *e;
		used++;
		banned += e->banned_until_ns > now;
	}
	free(g->tab);
	g->tab = tab;
	g->cap = cap;
	g->used = used;
	atomic_store(&g->stats->banned_now, banned);
	return 0;
}

/* The entry for addr, created if need be; NULL when the table cannot grow. */
static struct puente__gate_entry *entry(struct puente__gate *g, const char *addr)
{
	struct puente__gate_entry *e = find_slot(g->tab, g->cap, addr);

	if (e->addr[0])
		return e;
	if ((g->used + 1) * 4 > g->cap * 3) {
		size_t cap = g->cap;

		if (rebuild(g, cap) == 0 && (g->used + 1) * 4 > cap * 3 && cap < GATE_MAX_CAP)
			rebuild(g, cap * 2);
		if ((g->used + 1) * 4 > g->cap * 3) {
			log_warn("address table full (%zu addresses): not limiting %s", g->used,
			         addr);
			return NULL;
		}
		e = find_slot(g->tab, g->cap, addr);
	}
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	g->used++;
	return e;
}

static struct puente__gate_entry *lookup(struct puente__gate *g, const char *addr)
{
	struct puente__gate_entry *e = find_slot(g->tab, g->cap, addr);

	return e->addr[0] ? e : NULL;
}

int puente__gate_init(struct puente__gate *g, const struct puente__config *cfg,
                      struct puente__stats *stats)
{
	struct rlimit rl;

	memset(g, 0, sizeof(*g));
	g->cfg = cfg;
	g->stats = stats;
	g->cap = GATE_MIN_CAP;
	g->tab = calloc(g->cap, sizeof(*g->tab));
	/* One slot per descriptor the process may have: the accept callback gets the fd. */
	g->n_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < GATE_MAX_FDS
	               ? (size_t)rl.rlim_cur
	               : GATE_MAX_FDS;
	g->fds = calloc(g->n_fds, sizeof(*g->fds));
	if (!g->tab || !g->fds) {
		puente__gate_fini(g);
		return -ENOMEM;
	}
	return 0;
}

void puente__gate_fini(struct puente__gate *g)
{
	free(g->tab);
	free(g->fds);
	g->tab = NULL;
	g->fds = NULL;
}

void puente__gate_addr_tidy(char addr[PUENTE_ADDR_MAX])
{
	if (!strncmp(addr, "::ffff:", 7) && strchr(addr + 7, '.'))
		memmove(addr, addr + 7, strlen(addr + 7) + 1);
}

void puente__gate_addr(const struct sockaddr *sa, char out[PUENTE_ADDR_MAX])
{
	const void *a = sa->sa_family == AF_INET6
	                    ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                    : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, a, out, PUENTE_ADDR_MAX))
		snprintf(out, PUENTE_ADDR_MAX, "?");
	puente__gate_addr_tidy(out);
}

static void release_pending(struct puente__gate *g, struct puente__gate_fd *f)
{
	struct puente__gate_entry *e = lookup(g, f->addr);

	if (e && e->pending)
		e->pending--;
	f->pending = false;
}

bool puente__gate_accept(struct puente__gate *g, const struct sockaddr *sa, int fd)
{
	struct puente__gate_entry *e;
	struct puente__gate_fd *f;
	struct stat st;
	char addr[PUENTE_ADDR_MAX];

	if (fd < 0 || (size_t)fd >= g->n_fds || fstat(fd, &st))
		return true;
	f = &g->fds[fd];
	/* The descriptor was reused, so whatever it was before has closed. */
	if (f->pending)
		release_pending(g, f);
	puente__gate_addr(sa, addr);
	e = entry(g, addr);
	if (!e)
		return true;
	if (g->cfg->max_pending_per_address &&
	    e->pending >= (uint32_t)g->cfg->max_pending_per_address) {
		atomic_fetch_add(&g->stats->refused_pending, 1);
		return false;
	}
	e->pending++;
	*f = (struct puente__gate_fd){.pending = true, .ino = st.st_ino};
	snprintf(f->addr, sizeof(f->addr), "%s", addr);
	return true;
}

void puente__gate_ready(struct puente__gate *g, int fd)
{
	if (fd >= 0 && (size_t)fd < g->n_fds && g->fds[fd].pending)
		release_pending(g, &g->fds[fd]);
}

enum puente__gate_verdict puente__gate_check(struct puente__gate *g, const char *addr,
                                             unsigned *retry_s)
{
	struct puente__gate_entry *e = lookup(g, addr);
	uint64_t now = puente__now_mono_ns();

	if (e && e->banned_until_ns > now) {
		*retry_s = (unsigned)((e->banned_until_ns - now + NS_PER_S - 1) / NS_PER_S);
		atomic_fetch_add(&g->stats->refused_banned, 1);
		return PUENTE_GATE_BANNED;
	}
	if (e && g->cfg->max_conns_per_address &&
	    e->conns >= (uint32_t)g->cfg->max_conns_per_address) {
		atomic_fetch_add(&g->stats->refused_conns, 1);
		return PUENTE_GATE_TOO_MANY;
	}
	return PUENTE_GATE_OK;
}

bool puente__gate_failed(struct puente__gate *g, const char *addr)
{
	struct puente__gate_entry *e = entry(g, addr);
	uint64_t now = puente__now_mono_ns();
	uint64_t window_ns = (uint64_t)g->cfg->ban_window_s * NS_PER_S;

	if (!e)
		return false;
	if (!e->failures || now - e->window_ns > window_ns) {
		e->failures = 0;
		e->window_ns = now;
	}
	if (++e->failures < (uint32_t)g->cfg->ban_failures || !g->cfg->ban_s)
		return false;
	e->failures = 0;
	if (e->banned_until_ns <= now)
		atomic_fetch_add(&g->stats->banned_now, 1);
	e->banned_until_ns = now + (uint64_t)g->cfg->ban_s * NS_PER_S;
	atomic_fetch_add(&g->stats->bans, 1);
	log_warn("address %s banned for %d s: %d bad links within %d s", addr, g->cfg->ban_s,
	         g->cfg->ban_failures, g->cfg->ban_window_s);
	return true;
}

int puente__gate_unban(struct puente__gate *g, const char *addr)
{
	struct puente__gate_entry *e = lookup(g, addr);

	if (!e || e->banned_until_ns <= puente__now_mono_ns())
		return -ENOENT;
	e->banned_until_ns = 0;
	e->failures = 0;
	atomic_fetch_sub(&g->stats->banned_now, 1);
	return 0;
}

size_t puente__gate_bans(const struct puente__gate *g, struct puente__gate_ban *out, size_t cap)
{
	uint64_t now = puente__now_mono_ns();
	size_t n = 0;

	for (size_t i = 0; i < g->cap; i++) {
		const struct puente__gate_entry *e = &g->tab[i];

		if (!e->addr[0] || e->banned_until_ns <= now)
			continue;
		if (n < cap) {
			snprintf(out[n].addr, sizeof(out[n].addr), "%s", e->addr);
			out[n].seconds =
			    (unsigned)((e->banned_until_ns - now + NS_PER_S - 1) / NS_PER_S);
		}
		n++;
	}
	return n;
}

void puente__gate_open(struct puente__gate *g, const char *addr)
{
	struct puente__gate_entry *e = entry(g, addr);

	if (e)
		e->conns++;
}

void puente__gate_close(struct puente__gate *g, const char *addr)
{
	struct puente__gate_entry *e = lookup(g, addr);

	if (e && e->conns)
		e->conns--;
}

void puente__gate_sweep(struct puente__gate *g)
{
	struct stat st;

	for (size_t fd = 0; fd < g->n_fds; fd++) {
		struct puente__gate_fd *f = &g->fds[fd];

		if (f->pending && (fstat((int)fd, &st) || st.st_ino != f->ino))
			release_pending(g, f);
	}
	rebuild(g, g->cap);
}
