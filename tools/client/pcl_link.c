/*
 * Personal links for the tools: the token from --token, --token-file, the
 * link given as --url or PUENTE_TOKEN, the relay's WebSocket URL with it,
 * and what a refused upgrade means. The token is a secret: nothing here
 * puts it in a message.
 */
#include "pcl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool pcl_token_valid(const char *token)
{
	size_t n = strlen(token);

	if (n < 1 || n >= PCL_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = token[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

int pcl_token_read(const char *path, char token[PCL_TOKEN_MAX])
{
	char line[PCL_TOKEN_MAX + 2];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\n");
	line[n] = '\0';
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	if (!pcl_token_valid(line))
		return -EINVAL;
	strcpy(token, line);
	return 0;
}

/*
 * Walks the '&'-separated parameters of s[0..len): the value of "t" goes to
 * token (unless it has one already), the others are appended to rest.
 * False when the value of "t" is not a token or rest overflows.
 */
static bool split_params(const char *s, size_t len, char token[PCL_TOKEN_MAX], char *rest,
                         size_t restcap)
{
	const char *end = s + len;

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		size_t n = (size_t)((amp ? amp : end) - s);

		if (n >= 2 && s[0] == 't' && s[1] == '=') {
			if (n - 2 >= PCL_TOKEN_MAX)
				return false;
			if (!token[0]) {
				memcpy(token, s + 2, n - 2);
				token[n - 2] = '\0';
				if (!pcl_token_valid(token))
					return false;
			}
		} else if (n) {
			size_t used = strlen(rest);

			if (used + n + 2 > restcap)
				return false;
			if (used)
				rest[used++] = '&';
			memcpy(rest + used, s, n);
			rest[used + n] = '\0';
		}
		s += n + 1;
	}
	return true;
}

int pcl_link_parse(const char *url, char ws_url[PCL_URL_MAX], char token[PCL_TOKEN_MAX])
{
	static const struct {
		const char *in, *out, *port; /* port: a page link's default, NULL for ws */
	} schemes[] = {
	    {"ws://", "ws://", NULL},
	    {"wss://", "wss://", NULL},
	    {"http://", "ws://", "80"},
	    {"https://", "wss://", "443"},
	};
	const char *rest = NULL, *out = NULL, *port = NULL, *auth_end, *hash, *query, *path_end;
	char params[PCL_URL_MAX] = "";
	bool has_port;
	size_t auth_len;
	int n;

	token[0] = '\0';
	if (!url)
		return -EINVAL;
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return -EINVAL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t len = strlen(schemes[i].in);

		if (!strncasecmp(url, schemes[i].in, len)) {
			rest = url + len;
			out = schemes[i].out;
			port = schemes[i].port;
			break;
		}
	}
	if (!rest)
		return -EINVAL;
	auth_end = rest + strcspn(rest, "/?#");
	auth_len = (size_t)(auth_end - rest);
	if (!auth_len || memchr(rest, '@', auth_len))
		return -EINVAL;
	/* "[::1]" alone has colons but no port. */
	has_port = rest[0] == '[' ? auth_end[-1] != ']' : memchr(rest, ':', auth_len) != NULL;

	/* The fragment's t wins: that is where a personal link carries it. */
	hash = strchr(auth_end, '#');
	path_end = hash ? hash : auth_end + strlen(auth_end);
	query = memchr(auth_end, '?', (size_t)(path_end - auth_end));
	if (hash && !split_params(hash + 1, strlen(hash + 1), token, params, sizeof(params)))
		return -EINVAL;
	params[0] = '\0'; /* what else a fragment says is the page's business */
	if (query &&
	    !split_params(query + 1, (size_t)(path_end - query - 1), token, params, sizeof(params)))
		return -EINVAL;

	if (port) /* a page: the relay's WebSocket is at PUENTE_WS_PATH on the same host */
		n = snprintf(ws_url, PCL_URL_MAX, "%s%.*s%s%s%s", out, (int)auth_len, rest,
		             has_port ? "" : ":", has_port ? "" : port, PUENTE_WS_PATH);
	else /* as pcl_url_parse() would: no path is PUENTE_WS_PATH */
		n = snprintf(ws_url, PCL_URL_MAX, "%s%.*s%s%s%s", out,
		             (int)((query ? query : path_end) - rest), rest,
		             (query ? query : path_end) == auth_end ? PUENTE_WS_PATH : "",
		             params[0] ? "?" : "", params);
	return n < 0 || n >= PCL_URL_MAX ? -EINVAL : 0;
}

int pcl_target_resolve(struct pcl_target *out, const char *url, const char *token,
                       const char *token_file, const char *env, char *err, size_t errlen)
{
	char from_url[PCL_TOKEN_MAX], chosen[PCL_TOKEN_MAX] = "";
	struct pcl_url parsed;
	int e;

	/* No echo of url in these messages: a personal link holds the token. */
	if (pcl_link_parse(url ? url : PCL_DEFAULT_URL, out->url, from_url) < 0) {
		snprintf(err, errlen,
		         "bad --url: expected ws://HOST[:PORT][/PATH] or a personal link "
		         "http(s)://HOST[:PORT]/PAGE#t=TOKEN");
		return -EINVAL;
	}
	if (pcl_url_parse(out->url, &parsed) < 0) {
		snprintf(err, errlen, "bad --url: expected ws://HOST[:PORT][/PATH]");
		return -EINVAL;
	}
	if (token && token_file) {
		snprintf(err, errlen, "--token and --token-file exclude each other");
		return -EINVAL;
	}
	if (token) {
		if (!pcl_token_valid(token)) {
			snprintf(err, errlen,
			         "bad --token: expected the letters, digits, '-' and '_' "
			         "of a personal link's t=");
			return -EINVAL;
		}
		strcpy(chosen, token);
	} else if (token_file) {
		e = pcl_token_read(token_file, chosen);
		if (e < 0) {
			snprintf(err, errlen, "--token-file %s: %s", token_file,
			         e == -EINVAL ? "its first line is not a token" : strerror(-e));
			return e;
		}
	} else if (from_url[0]) {
		strcpy(chosen, from_url);
	} else if (env && *env) {
		if (!pcl_token_valid(env)) {
			snprintf(err, errlen,
			         "bad PUENTE_TOKEN: expected the letters, digits, '-' "
			         "and '_' of a personal link's t=");
			return -EINVAL;
		}
		strcpy(chosen, env);
	}
	out->has_token = chosen[0] != '\0';
	e = snprintf(out->connect, sizeof(out->connect), "%s%s%s", out->url,
	             !out->has_token            ? ""
	             : strchr(parsed.path, '?') ? "&t="
	                                        : "?t=",
	             chosen);
	if (e < 0 || (size_t)e >= sizeof(out->connect)) {
		snprintf(err, errlen, "bad --url: too long");
		return -EINVAL;
	}
	return 0;
}

const char *pcl_refusal_text(int status, char *buf, size_t cap)
{
	const char *why;

	switch (status) {
	case 401:
		why = "no valid personal link: missing, invalid, expired or not valid yet): "
		      "check your personal link";
		break;
	case 403:
		why = "personal link revoked): ask the organisers for a new one";
		break;
	case 409:
		why = "this personal link is connected on another device): close it there first";
		break;
	case 429:
		why = "too many attempts or connections from this address): wait and try again";
		break;
	case 503:
		why = "the relay is shutting down): try again later";
		break;
	default:
		snprintf(buf, cap,
		         "the relay refused the connection (HTTP %d): check your personal link",
		         status);
		return buf;
	}
	snprintf(buf, cap, "the relay refused the connection (HTTP %d: %s", status, why);
	return buf;
}
