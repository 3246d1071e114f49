/*
 * Plugin loader and event dispatch (see plugins.h). Each refusal is one log
 * line naming the plugin and the reason; the relay goes on without it.
 */
#include "plugins.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

/* The members every ABI-1 descriptor must have. */
#define DESC_MIN_SIZE (offsetof(struct puente_plugin, destroy) + sizeof(void (*)(void *)))

static bool valid_plugin_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PUENTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/*
 * dlopen + the descriptor checks. Returns the descriptor and the handle, or
 * NULL with why filled (the handle closed).
 */
static const struct puente_plugin *open_plugin(const char *path, const char *expect, void **dl,
                                               char *why, size_t cap)
{
	puente_plugin_entry_fn entry;
	const struct puente_plugin *d;

	*dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		snprintf(why, cap, "cannot load: %s", dlerror());
		return NULL;
	}
	*(void **)&entry = dlsym(*dl, PUENTE_PLUGIN_SYMBOL);
	if (!entry) {
		snprintf(why, cap, "no symbol %s in %s", PUENTE_PLUGIN_SYMBOL, path);
		goto refuse;
	}
	d = entry();
	if (!d) {
		snprintf(why, cap, "%s() returned no descriptor", PUENTE_PLUGIN_SYMBOL);
		goto refuse;
	}
	if (d->abi != PUENTE_PLUGIN_ABI) {
		snprintf(why, cap, "ABI %u, core speaks %u", d->abi, PUENTE_PLUGIN_ABI);
		goto refuse;
	}
	if (d->size < DESC_MIN_SIZE) {
		snprintf(why, cap, "descriptor of %u bytes, ABI %u needs at least %zu", d->size,
		         PUENTE_PLUGIN_ABI, (size_t)DESC_MIN_SIZE);
		goto refuse;
	}
	if (!d->name || !valid_plugin_name(d->name) || (expect && strcmp(d->name, expect))) {
		snprintf(why, cap, "its name '%s' is not valid or not its file's name",
		         d->name ? d->name : "(none)");
		goto refuse;
	}
	if (!d->init || !d->destroy) {
		snprintf(why, cap, "no init or destroy function");
		goto refuse;
	}
	return d;
refuse:
	dlclose(*dl);
	*dl = NULL;
	return NULL;
}

static bool plugin_required(const struct puente__config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_plugin_kv; i++) {
		const struct puente__plugin_kv *kv = &cfg->plugin_kv[i];

		if (!strcmp(kv->section, name) && !strcmp(kv->key, "required"))
			return !strcasecmp(kv->value, "yes") || !strcasecmp(kv->value, "true") ||
			       !strcmp(kv->value, "1");
	}
	return false;
}

/* Splits "a, b c" into names; calls fn for each. Stops at the first non-zero. */
static int each_name(const char *list, int (*fn)(void *, const char *), void *arg)
{
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
		int rc = fn(arg, t);
		if (rc)
			return rc;
	}
	return 0;
}

static int load_one(void *arg, const char *name)
{
	struct puente__plugins *p = arg;
	bool required = plugin_required(p->cfg, name);
	char path[700], why[300];
	void *dl = NULL;
	const struct puente_plugin *d = NULL;
	struct puente__plugin_slot *slot = &p->slots[p->n];

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->slots[i].name, name)) {
			log_warn("plugin %s: listed twice; loaded once", name);
			return 0;
		}
	if (!valid_plugin_name(name)) {
		snprintf(why, sizeof(why), "not a plugin name (a-z 0-9 _)");
	} else if (p->n == PUENTE_MAX_PLUGINS) {
		snprintf(why, sizeof(why), "more than %d plugins", PUENTE_MAX_PLUGINS);
	} else {
		snprintf(path, sizeof(path), "%s/%s.so", p->cfg->plugin_dir, name);
		d = open_plugin(path, name, &dl, why, sizeof(why));
	}
	if (d) {
		memset(slot, 0, sizeof(*slot));
		snprintf(slot->name, sizeof(slot->name), "%s", name);
		slot->dl = dl;
		slot->desc = d;
		slot->owner = p;
		puente__plugin_host_init(slot);
		slot->can_call_init_services = true;
		int rc = d->init(&slot->host, &slot->state);
		slot->can_call_init_services = false;
		if (rc == 0) {
			p->n++;
			log_info("plugin %s %s: loaded", name, d->version ? d->version : "");
			return 0;
		}
		/* Routes it registered before failing go with it. */
		while (p->n_routes && p->routes[p->n_routes - 1].slot == slot)
			p->n_routes--;
		snprintf(why, sizeof(why), "init failed: %s", strerror(rc < 0 ? -rc : rc));
		dlclose(dl);
	}
	if (required) {
		log_error("plugin %s: refused, %s; it is required ([plugin.%s] required = yes): "
		          "not starting",
		          name, why, name);
		return -EINVAL;
	}
	log_error("plugin %s: refused, %s; running without it", name, why);
	return 0;
}

int puente__plugins_load(struct puente__plugins *p, const struct puente__config *cfg,
                         struct puente__room *room, struct puente__server *srv)
{
	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->room = room;
	p->srv = srv;
	for (size_t i = 0; i < cfg->n_channels; i++)
		p->channels[i] = (struct puente_channel_info){
		    .id = (int)i,
		    .name = cfg->channels[i].name,
		    .label = cfg->channels[i].label,
		    .lang = cfg->channels[i].lang,
		};
	int rc = each_name(cfg->plugins, load_one, p);
	if (rc)
		puente__plugins_unload(p);
	return rc;
}

void puente__plugins_unload(struct puente__plugins *p)
{
	while (p->n > 0) {
		struct puente__plugin_slot *s = &p->slots[--p->n];

		lws_sul_cancel(&s->tick);
		s->desc->destroy(s->state);
		dlclose(s->dl);
	}
	p->n_routes = 0;
}

static int is_wanted(void *arg, const char *name)
{
	return !strcmp(arg, name);
}

int puente__plugins_list(const char *dir, const char *wanted, FILE *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d) {
		fprintf(out, "cannot read the plugin folder %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	fprintf(out, "plugins in %s (enabled: [core] plugins):\n", dir);
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char path[700], why[300], name[64];
		void *dl;

		if (n < 4 || strcmp(e->d_name + n - 3, ".so") || n - 3 >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 3), e->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		const struct puente_plugin *pd = open_plugin(path, name, &dl, why, sizeof(why));
		bool on = each_name(wanted, is_wanted, name) != 0;

		fprintf(out, "  %-16s %-8s %-8s %s%s\n", name,
		        pd && pd->version ? pd->version : "-", on ? "enabled" : "-",
		        pd ? "would load" : "refused: ", pd ? "" : why);
		if (dl)
			dlclose(dl);
		found++;
	}
	closedir(d);
	if (!found)
		fprintf(out, "  (none)\n");
	return 0;
}

void puente__plugins_join(struct puente__plugins *p, puente_client_id id, enum puente_role role)
{
	for (size_t i = 0; i < p->n; i++)
		if (PUENTE_HAS(p->slots[i].desc, client_join) && p->slots[i].desc->client_join)
			p->slots[i].desc->client_join(p->slots[i].state, id, role);
}

void puente__plugins_leave(struct puente__plugins *p, puente_client_id id)
{
	for (size_t i = 0; i < p->n; i++)
		if (PUENTE_HAS(p->slots[i].desc, client_leave) && p->slots[i].desc->client_leave)
			p->slots[i].desc->client_leave(p->slots[i].state, id);
}

int puente__plugins_message(struct puente__plugins *p, puente_client_id from, const char *type,
                            const json_t *body)
{
	const char *dot = strchr(type, '.');

	if (!dot)
		return -ENOENT;
	for (size_t i = 0; i < p->n; i++) {
		struct puente__plugin_slot *s = &p->slots[i];
		size_t n = strlen(s->name);

		if ((size_t)(dot - type) != n || strncmp(type, s->name, n))
			continue;
		if (!PUENTE_HAS(s->desc, message) || !s->desc->message)
			return -ENOENT;
		return s->desc->message(s->state, from, dot + 1, body);
	}
	return -ENOENT;
}

int puente__plugins_audio(struct puente__plugins *p, puente_client_id from,
                          const struct puente_packet *pkt)
{
	int rc = -EPERM;

	for (size_t i = 0; i < p->n; i++) {
		struct puente__plugin_slot *s = &p->slots[i];

		if (PUENTE_HAS(s->desc, audio) && s->desc->audio &&
		    s->desc->audio(s->state, from, pkt) == 0)
			rc = 0;
	}
	return rc;
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct puente__plugin_slot *s = lws_container_of(sul, struct puente__plugin_slot, tick);
	struct lws_context *ctx = atomic_load(&s->owner->room->lws);

	s->desc->tick(s->state, puente__now_unix_us());
	if (ctx)
		lws_sul_schedule(ctx, 0, &s->tick, on_tick, (lws_usec_t)s->tick_ms * 1000);
}

void puente__plugins_start_timers(struct puente__plugins *p, struct lws_context *ctx)
{
	for (size_t i = 0; i < p->n; i++) {
		struct puente__plugin_slot *s = &p->slots[i];

		if (s->tick_ms && PUENTE_HAS(s->desc, tick) && s->desc->tick)
			lws_sul_schedule(ctx, 0, &s->tick, on_tick, (lws_usec_t)s->tick_ms * 1000);
	}
}
