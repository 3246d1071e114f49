/*
 * Writing the store: the whole file is replaced atomically (temporary file
 * in the same directory, fsync, rename, fsync of the directory), so the
 * relay and a crash only ever see the old or the new list. Mode 0600: the
 * hashes are not secrets, but names and e-mails are personal data.
 */
#include "puente/access.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

static json_t *opt_string(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *entry_json(const struct puente_invitee *inv)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I}",
	                 "id", inv->id, "hash", inv->hash, "email", inv->email, "name",
	                 opt_string(inv->name), "role", inv->role, "lang", opt_string(inv->lang),
	                 "country", opt_string(inv->country), "sector", opt_string(inv->sector),
	                 "gender", opt_string(inv->gender), "booths", opt_string(inv->booths),
	                 "languages", opt_string(inv->languages), "not_before",
	                 (json_int_t)inv->not_before, "not_after", (json_int_t)inv->not_after,
	                 "revoked_at", (json_int_t)inv->revoked_at);
}

static char *store_text(const struct puente_invitees *list)
{
	json_t *root = json_pack("{s:i, s:o, s:[]}", "version", 1, "event", opt_string(list->event),
	                         "invitees");
	json_t *arr = json_object_get(root, "invitees");
	char *text = NULL;

	for (size_t i = 0; root && i < list->n; i++) {
		json_t *e = entry_json(&list->v[i]);

		if (!e || json_array_append_new(arr, e))
			goto out;
	}
	if (root)
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
out:
	json_decref(root);
	return text;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Makes the rename itself durable. */
static void sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd;

	if (!copy)
		return;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Writes text to a new file next to path and renames it over path. */
static int replace_file(const char *path, const char *text)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + sizeof(".tmp-XXXXXX"));
	int fd, rc = 0;

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp-XXXXXX", sizeof(".tmp-XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	if (fchmod(fd, 0600) < 0)
		rc = -errno;
	if (!rc)
		rc = write_all(fd, text, strlen(text));
	if (!rc)
		rc = write_all(fd, "\n", 1);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	else
		sync_dir(path);
	free(tmp);
	return rc;
}

int puente_invitees_save(const char *path, const struct puente_invitees *list, char *err,
                         size_t errlen)
{
	char *text = store_text(list);
	int rc = text ? replace_file(path, text) : -ENOMEM;

	if (rc)
		snprintf(err, errlen, "%s: cannot write the store: %s", path, strerror(-rc));
	free(text);
	return rc;
}
