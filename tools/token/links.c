/* Writing links.csv: quoted by libcsv, flushed to disk, readable by its owner only. */
#include "token/links.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

bool links_base_ok(const char *base)
{
	const char *host = !strncasecmp(base, "https://", 8)  ? base + 8
	                   : !strncasecmp(base, "http://", 7) ? base + 7
	                                                      : NULL;

	return host && *host && *host != '/' && !strpbrk(base, "?# \t\r\n\"<>");
}

FILE *links_create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0)
		return NULL;
	/* The umask can only take bits away; 0600 whatever it is. */
	if (fchmod(fd, 0600) < 0 || !(f = fdopen(fd, "w"))) {
		int e = errno;

		close(fd);
		unlink(path);
		errno = e;
		return NULL;
	}
	fputs("email,name,role,lang,link\n", f);
	return f;
}

static void field(FILE *f, const char *s, bool last)
{
	s = s ? s : "";
	csv_fwrite(f, s, strlen(s));
	fputc(last ? '\n' : ',', f);
}

int links_row(FILE *f, const char *base, const struct puente_invitee *inv, const char *token)
{
	size_t blen = strlen(base);
	const char *page = puente_role_page(puente_role_from_name(inv->role));
	char link[4096];
	int n;

	/* base "https://x/" + page "/": one slash between them. */
	while (blen && base[blen - 1] == '/')
		blen--;
	n = snprintf(link, sizeof(link), "%.*s%s#t=%s", (int)blen, base, page ? page : "/", token);
	if (n < 0 || (size_t)n >= sizeof(link))
		return -ENAMETOOLONG;
	field(f, inv->email, false);
	field(f, inv->name, false);
	field(f, inv->role, false);
	field(f, inv->lang, false);
	field(f, link, true);
	explicit_bzero(link, sizeof(link));
	return ferror(f) ? -EIO : 0;
}

int links_close(FILE *f)
{
	int rc = 0;

	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		rc = -errno;
	if (fclose(f) != 0 && !rc)
		rc = -errno;
	return rc;
}
