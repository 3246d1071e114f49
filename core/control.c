/* Control message parsing and validation (see control.h). */
#include "control.h"

#include <errno.h>
#include <string.h>

#include <puente/protocol.h>

static int fail(struct puente__ctl *c, const char *error, const char *message)
{
	c->error = error;
	c->message = message;
	return -EINVAL;
}

int puente__ctl_parse(const char *text, size_t len, struct puente__ctl *c)
{
	json_error_t err;

	memset(c, 0, sizeof(*c));
	c->kind = PUENTE_CTL_UNKNOWN;
	/* Duplicate keys are refused: two "channel"s would be read differently by other parsers. */
	c->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	c->type = json_string_value(json_object_get(c->root, "type"));
	if (!json_is_object(c->root) || !c->type)
		return fail(c, "bad_json", "expected a JSON object with a string 'type'");

	if (!strcmp(c->type, "core.subscribe")) {
		c->kind = PUENTE_CTL_SUBSCRIBE;
		c->channel = json_string_value(json_object_get(c->root, "channel"));
		if (!c->channel)
			return fail(c, "bad_field", "core.subscribe needs a string 'channel'");
	} else if (!strcmp(c->type, "core.unsubscribe")) {
		c->kind = PUENTE_CTL_UNSUBSCRIBE;
	} else if (!strcmp(c->type, "core.hello")) {
		json_t *role = json_object_get(c->root, "role");

		c->kind = PUENTE_CTL_HELLO;
		if (role && !json_is_string(role))
			return fail(c, "bad_field", "core.hello 'role' must be a string");
		c->role = json_string_value(role);
		json_t *bundle = json_object_get(c->root, "bundle");

		if (json_is_integer(bundle) && json_integer_value(bundle) >= 1 &&
		    json_integer_value(bundle) <= PUENTE_MAX_BUNDLE)
			c->bundle = (int)json_integer_value(bundle);
		else if (bundle &&
		         !(json_is_string(bundle) && !strcmp(json_string_value(bundle), "auto")))
			return fail(c, "bad_field",
			            "core.hello 'bundle' must be 1, 2, 3 or \"auto\"");
	} else if (!strcmp(c->type, "core.ping")) {
		c->kind = PUENTE_CTL_PING;
		c->id = json_object_get(c->root, "id");
	} else if (!strcmp(c->type, "core.unban")) {
		c->kind = PUENTE_CTL_UNBAN;
		c->address = json_string_value(json_object_get(c->root, "address"));
		/* An address as the relay writes it: 47 characters hold any IPv6 text. */
		if (!c->address || !c->address[0] || strlen(c->address) > 47)
			return fail(c, "bad_field", "core.unban needs a string 'address'");
	} else {
		return fail(c, "unknown_type", "unknown message type");
	}
	return 0;
}

void puente__ctl_fini(struct puente__ctl *c)
{
	json_decref(c->root);
	c->root = NULL;
}
