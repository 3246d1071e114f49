/* Role names as the store and the personal links spell them. */
#include "puente/access.h"

#include <strings.h>

#include "puente/plugin.h"

static const char *const names[PUENTE_ROLE_COUNT] = {
    [PUENTE_ROLE_LISTENER] = "listener",   [PUENTE_ROLE_INTERPRETER] = "interpreter",
    [PUENTE_ROLE_CAPTIONER] = "captioner", [PUENTE_ROLE_TECHNICIAN] = "technician",
    [PUENTE_ROLE_ORGANISER] = "organiser",
};

static const char *const pages[PUENTE_ROLE_COUNT] = {
    [PUENTE_ROLE_LISTENER] = "/",           [PUENTE_ROLE_INTERPRETER] = "/interpretation/",
    [PUENTE_ROLE_CAPTIONER] = "/captions/", [PUENTE_ROLE_TECHNICIAN] = "/levels/",
    [PUENTE_ROLE_ORGANISER] = "/levels/",
};

/* Case-insensitive: organisers type "Interpreter" in spreadsheets. */
int puente_role_from_name(const char *name)
{
	if (!name)
		return -1;
	for (int r = 0; r < PUENTE_ROLE_COUNT; r++)
		if (!strcasecmp(name, names[r]))
			return r;
	if (!strcasecmp(name, "moderator"))
		return PUENTE_ROLE_ORGANISER;
	return -1;
}

const char *puente_role_to_name(int role)
{
	return role >= 0 && role < PUENTE_ROLE_COUNT ? names[role] : NULL;
}

const char *puente_role_page(int role)
{
	return role >= 0 && role < PUENTE_ROLE_COUNT ? pages[role] : NULL;
}
