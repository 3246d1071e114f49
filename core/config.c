/* Relay configuration: embedded default INI, file overlay (inih), validation. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#ifndef PUENTE_WEB_DIR
#define PUENTE_WEB_DIR "core/web"
#endif
#ifndef PUENTE_PLUGIN_DIR
#define PUENTE_PLUGIN_DIR "plugins"
#endif
#ifndef PUENTE_PLUGIN_WEB_DIR
#define PUENTE_PLUGIN_WEB_DIR "plugins"
#endif

/* The room a fresh checkout runs with: no file, no sound card needed. */
static const char default_ini[] = "[core]\n"
                                  "bind = 127.0.0.1\n"
                                  "port = 8080\n"
                                  "room = puente\n"
                                  "input = default\n"
                                  "frame_ms = 20\n"
                                  "bitrate = 32000\n"
                                  "output_channel = floor\n"
                                  "drain_ms = 2000\n"
                                  "stall_timeout = 15\n"
                                  "send_lowat = 16384\n"
                                  "ring_slots = 64\n"
                                  "event_loop = libev\n"
                                  "bundle_above = 1500\n"
                                  "bundle_auto = 3\n"
                                  "log_level = info\n"
                                  "plugins = interpretation, captions, levels\n"
                                  "\n"
                                  "[access]\n"
                                  "anonymous_listeners = no\n"
                                  "duplicate = takeover\n"
                                  "clock_tolerance = 120\n"
                                  "ban_failures = 10\n"
                                  "ban_window = 120\n"
                                  "ban_time = 300\n"
                                  "max_pending_per_address = 8\n"
                                  "max_conns_per_address = 20\n"
                                  "message_burst = 20\n"
                                  "message_rate = 5\n"
                                  "captioner_burst = 100\n"
                                  "captioner_rate = 30\n"
                                  "\n"
                                  "[channel.floor]\n"
                                  "label = Floor\n"
                                  "lang =\n"
                                  "\n"
                                  "[channel.es]\n"
                                  "label = Español\n"
                                  "lang = es\n"
                                  "\n"
                                  "[channel.en]\n"
                                  "label = English\n"
                                  "lang = en\n";

const char *puente__config_default_text(void)
{
	return default_ini;
}

struct load_ctx {
	struct puente__config *c;
	const char *origin; /* file name, for messages */
	bool is_file;
	int errors;
};

static int copy_str(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n >= cap)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") ||
	         !strcasecmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_level(const char *v, int *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++)
		if (!strcasecmp(v, names[i])) {
			*out = i;
			return 0;
		}
	return -1;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= PUENTE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

int puente__config_set_core(struct puente__config *c, const char *k, const char *v)
{
	bool b;

	if (!strcmp(k, "bind"))
		return copy_str(c->bind, sizeof(c->bind), v);
	if (!strcmp(k, "port"))
		return parse_int(v, 0, 65535, &c->port);
	if (!strcmp(k, "web_root"))
		return copy_str(c->web_root, sizeof(c->web_root), v);
	if (!strcmp(k, "room"))
		return copy_str(c->room, sizeof(c->room), v);
	if (!strcmp(k, "input")) {
		c->source = !strcmp(v, "default") ? PUENTE_SOURCE_AUTO : PUENTE_SOURCE_DEVICE;
		return copy_str(c->input, sizeof(c->input), v);
	}
	if (!strcmp(k, "input_file")) {
		if (*v)
			c->source = PUENTE_SOURCE_FILE;
		return copy_str(c->input_file, sizeof(c->input_file), v);
	}
	if (!strcmp(k, "tone")) {
		if (parse_bool(v, &b))
			return -1;
		if (b)
			c->source = PUENTE_SOURCE_TONE;
		return 0;
	}
	if (!strcmp(k, "frame_ms"))
		return parse_int(v, 10, 20, &c->frame_ms);
	if (!strcmp(k, "bitrate"))
		return parse_int(v, 6000, 510000, &c->bitrate);
	if (!strcmp(k, "output"))
		return copy_str(c->output, sizeof(c->output), v);
	if (!strcmp(k, "output_channel"))
		return copy_str(c->output_channel, sizeof(c->output_channel), v);
	if (!strcmp(k, "drain_ms"))
		return parse_int(v, 0, 60000, &c->drain_ms);
	if (!strcmp(k, "stall_timeout"))
		return parse_int(v, 1, 3600, &c->stall_timeout_s);
	if (!strcmp(k, "send_lowat"))
		return parse_int(v, 2048, 1 << 24, &c->send_lowat);
	if (!strcmp(k, "ring_slots"))
		return parse_int(v, 8, 4096, &c->ring_slots);
	if (!strcmp(k, "event_loop")) {
		if (strcmp(v, "poll") && strcmp(v, "libev"))
			return -1;
		c->libev = !strcmp(v, "libev");
		return 0;
	}
	if (!strcmp(k, "bundle_above"))
		return parse_int(v, 0, 1000000, &c->bundle_above);
	if (!strcmp(k, "bundle_auto"))
		return parse_int(v, 1, PUENTE_MAX_BUNDLE, &c->bundle_auto);
	if (!strcmp(k, "log_level"))
		return parse_level(v, &c->log_level);
	if (!strcmp(k, "plugins"))
		return copy_str(c->plugins, sizeof(c->plugins), v);
	if (!strcmp(k, "plugin_dir"))
		return copy_str(c->plugin_dir, sizeof(c->plugin_dir), v);
	if (!strcmp(k, "plugin_web_root"))
		return copy_str(c->plugin_web_root, sizeof(c->plugin_web_root), v);
	if (!strcmp(k, "cert"))
		return copy_str(c->cert, sizeof(c->cert), v);
	if (!strcmp(k, "key"))
		return copy_str(c->key, sizeof(c->key), v);
	if (!strcmp(k, "tls_required")) {
		if (parse_bool(v, &b))
			return -1;
		c->tls_required = b;
		return 0;
	}
	if (!strcmp(k, "public_url"))
		return copy_str(c->public_url, sizeof(c->public_url), v);
	return 1;
}

int puente__config_set_access(struct puente__config *c, const char *k, const char *v)
{
	if (!strcmp(k, "invitees"))
		return copy_str(c->invitees, sizeof(c->invitees), v);
	if (!strcmp(k, "anonymous_listeners"))
		return parse_bool(v, &c->anonymous_listeners);
	if (!strcmp(k, "duplicate")) {
		if (strcmp(v, "takeover") && strcmp(v, "refuse"))
			return -1;
		c->takeover = !strcmp(v, "takeover");
		return 0;
	}
	if (!strcmp(k, "attendance"))
		return copy_str(c->attendance, sizeof(c->attendance), v);
	if (!strcmp(k, "clock_tolerance"))
		return parse_int(v, 0, 86400, &c->clock_tolerance_s);
	if (!strcmp(k, "ban_failures"))
		return parse_int(v, 1, 1000000, &c->ban_failures);
	if (!strcmp(k, "ban_window"))
		return parse_int(v, 1, 86400, &c->ban_window_s);
	if (!strcmp(k, "ban_time"))
		return parse_int(v, 0, 86400, &c->ban_s);
	if (!strcmp(k, "max_pending_per_address"))
		return parse_int(v, 0, 1000000, &c->max_pending_per_address);
	if (!strcmp(k, "max_conns_per_address"))
		return parse_int(v, 0, 1000000, &c->max_conns_per_address);
	if (!strcmp(k, "message_burst"))
		return parse_int(v, 1, 100000, &c->message_burst);
	if (!strcmp(k, "message_rate"))
		return parse_int(v, 1, 100000, &c->message_rate);
	if (!strcmp(k, "captioner_burst"))
		return parse_int(v, 1, 100000, &c->captioner_burst);
	if (!strcmp(k, "captioner_rate"))
		return parse_int(v, 1, 100000, &c->captioner_rate);
	return 1;
}

static struct puente__channel_conf *channel_for(struct load_ctx *x, const char *id)
{
	struct puente__config *c = x->c;
	int i = puente__config_channel(c, id);

	if (i >= 0)
		return &c->channels[i];
	if (c->n_channels >= PUENTE_MAX_CHANNELS || !valid_name(id))
		return NULL;
	struct puente__channel_conf *ch = &c->channels[c->n_channels++];
	memset(ch, 0, sizeof(*ch));
	copy_str(ch->name, sizeof(ch->name), id);
	copy_str(ch->label, sizeof(ch->label), id);
	return ch;
}

static int channel_key(struct load_ctx *x, const char *id, const char *k, const char *v)
{
	struct puente__config *c = x->c;

	if (x->is_file && !c->channels_from_file) {
		/* A file that names channels describes the whole room. */
		c->channels_from_file = true;
		c->n_channels = 0;
	}
	struct puente__channel_conf *ch = channel_for(x, id);
	if (!ch) {
		log_error("%s: [channel.%s]: channel ids are 1-31 characters of a-z 0-9 - _, "
		          "at most %d channels",
		          x->origin, id, PUENTE_MAX_CHANNELS);
		return -1;
	}
	if (!strcmp(k, "label"))
		return copy_str(ch->label, sizeof(ch->label), v);
	if (!strcmp(k, "lang"))
		return copy_str(ch->lang, sizeof(ch->lang), v);
	return 1;
}

static int plugin_key(struct puente__config *c, const char *name, const char *k, const char *v)
{
	struct puente__plugin_kv *kv =
	    realloc(c->plugin_kv, (c->n_plugin_kv + 1) * sizeof(*c->plugin_kv));

	if (!kv)
		return -1;
	c->plugin_kv = kv;
	kv = &c->plugin_kv[c->n_plugin_kv];
	kv->section = strdup(name);
	kv->key = strdup(k);
	kv->value = strdup(v);
	if (!kv->section || !kv->key || !kv->value) {
		free(kv->section);
		free(kv->key);
		free(kv->value);
		return -1;
	}
	c->n_plugin_kv++;
	return 0;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct load_ctx *x = user;
	int rc;

	if (!strcmp(section, "core"))
		rc = puente__config_set_core(x->c, key, value);
	else if (!strcmp(section, "access"))
		rc = puente__config_set_access(x->c, key, value);
	else if (!strncmp(section, "channel.", 8))
		rc = channel_key(x, section + 8, key, value);
	else if (!strncmp(section, "plugin.", 7) && section[7])
		rc = plugin_key(x->c, section + 7, key, value);
	else {
		log_warn("%s: unknown section [%s] (ignored)", x->origin, section);
		return 1;
	}
	if (rc > 0) {
		log_warn("%s: [%s] unknown key '%s' (ignored)", x->origin, section, key);
		return 1;
	}
	if (rc < 0) {
		log_error("%s: [%s] %s = '%s': invalid value", x->origin, section, key, value);
		x->errors++;
		return 0;
	}
	return 1;
}

int puente__config_defaults(struct puente__config *c)
{
	struct load_ctx x = {.c = c, .origin = "embedded default"};

	memset(c, 0, sizeof(*c));
	copy_str(c->web_root, sizeof(c->web_root), PUENTE_WEB_DIR);
	copy_str(c->plugin_dir, sizeof(c->plugin_dir), PUENTE_PLUGIN_DIR);
	copy_str(c->plugin_web_root, sizeof(c->plugin_web_root), PUENTE_PLUGIN_WEB_DIR);
	c->tls_required = -1;
	if (ini_parse_string(default_ini, on_entry, &x) != 0 || x.errors)
		return -EINVAL;
	return 0;
}

int puente__config_load_file(struct puente__config *c, const char *path)
{
	struct load_ctx x = {.c = c, .origin = path, .is_file = true};
	int rc = ini_parse(path, on_entry, &x);

	if (rc < 0) {
		log_error("%s: cannot read: %s", path, strerror(errno));
		return -ENOENT;
	}
	if (rc > 0 && !x.errors) {
		log_error("%s:%d: syntax error (expected [section] or key = value)", path, rc);
		return -EINVAL;
	}
	return x.errors ? -EINVAL : 0;
}

int puente__config_channel(const struct puente__config *c, const char *name)
{
	for (size_t i = 0; i < c->n_channels; i++)
		if (!strcmp(c->channels[i].name, name))
			return (int)i;
	return -1;
}

int puente__config_validate(const struct puente__config *c)
{
	int bad = 0;

	if (c->frame_ms != 10 && c->frame_ms != 20) {
		log_error("frame_ms must be 10 or 20, not %d", c->frame_ms);
		bad++;
	}
	if (puente__config_channel(c, "floor") < 0) {
		log_error("the room needs a channel named 'floor': it carries the room's input");
		bad++;
	}
	if (c->output[0] && puente__config_channel(c, c->output_channel) < 0) {
		log_error("output_channel '%s' is not a channel of this room", c->output_channel);
		bad++;
	}
	if (c->source == PUENTE_SOURCE_FILE && !c->input_file[0]) {
		log_error("input_file is empty");
		bad++;
	}
	if (!c->cert[0] != !c->key[0]) {
		log_error("TLS needs both a certificate (cert) and its private key (key)");
		bad++;
	}
	if (c->tls_required == 1 && !c->cert[0]) {
		log_error("tls_required = yes needs a certificate and key (cert, key)");
		bad++;
	}
	if ((c->ring_slots & (c->ring_slots - 1)) != 0) {
		log_error("ring_slots must be a power of two, not %d", c->ring_slots);
		bad++;
	}
	return bad ? -EINVAL : 0;
}

void puente__config_fini(struct puente__config *c)
{
	for (size_t i = 0; i < c->n_plugin_kv; i++) {
		free(c->plugin_kv[i].section);
		free(c->plugin_kv[i].key);
		free(c->plugin_kv[i].value);
	}
	free(c->plugin_kv);
	c->plugin_kv = NULL;
	c->n_plugin_kv = 0;
}
