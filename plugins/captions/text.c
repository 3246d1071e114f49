/*
 * Caption text (see text.h). Pure functions on byte strings; any thread.
 */
#include "text.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Decodes the code point at s[0..len): returns its length in bytes (1..4) and
 * stores it in *cp, or 0 when the bytes there are not UTF-8. The ranges are
 * RFC 3629's table: the second byte's range rules out overlong forms (E0, F0),
 * surrogates (ED) and code points past U+10FFFF (F4).
 */
static size_t decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0; /* a continuation byte, C0/C1 (overlong), F5..FF */
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	*cp = *cp << 6 | (s[1] & 0x3f);
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return n;
}

bool text_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		size_t n = decode(p + i, len - i, &cp);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

static bool is_continuation(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

size_t text_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += !is_continuation((unsigned char)s[i]);
	return n;
}

static bool is_control(uint32_t cp)
{
	return (cp < 0x20 && cp != '\n') || (cp >= 0x7f && cp <= 0x9f);
}

size_t text_clean(char *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, start;
	uint32_t cp;

	/* Writing never overtakes reading (each code point shrinks or stays), so out may be s. */
	for (size_t i = 0; i < len;) {
		size_t n = decode(p + i, len - i, &cp);

		if (!n) { /* not for invalid text; drop the byte rather than loop */
			i++;
			continue;
		}
		if (cp == '\t') {
			out[o++] = ' ';
		} else if (!is_control(cp)) {
			memmove(out + o, p + i, n);
			o += n;
		}
		i += n;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\n'))
		o--;
	for (start = 0; start < o && (out[start] == ' ' || out[start] == '\n'); start++)
		;
	memmove(out, out + start, o - start);
	o -= start;
	out[o] = 0;
	return o;
}

size_t text_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && is_continuation((unsigned char)s[max]))
		max--;
	return max;
}

size_t text_cut_chars(const char *s, size_t len, size_t max_chars)
{
	size_t chars = 0;

	for (size_t i = 0; i < len; i++) {
		if (!is_continuation((unsigned char)s[i]) && chars++ == max_chars)
			return i;
	}
	return len;
}

/* Characters that reorder or hide text on a terminal (Trojan Source), shown escaped. */
static bool is_invisible(uint32_t cp)
{
	return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

void text_excerpt(char *out, size_t cap, const char *s, size_t len, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, chars = 0;
	uint32_t cp;

	for (size_t i = 0; i < len;) {
		char esc[16];
		size_t n = decode(p + i, len - i, &cp), add;
		const char *piece;

		if (chars++ == max_chars) {
			if (o + 4 <= cap) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (!n) {
			snprintf(esc, sizeof(esc), "\\x%02X", p[i]);
			n = 1;
			piece = esc;
		} else if (cp == '\n') {
			piece = "\\n";
		} else if (cp == '\\') {
			piece = "\\\\";
		} else if (is_control(cp) || is_invisible(cp)) {
			snprintf(esc, sizeof(esc), cp < 0x80 ? "\\x%02X" : "\\u{%04X}",
			         (unsigned)cp);
			piece = esc;
		} else {
			piece = NULL; /* the character itself */
		}
		add = piece ? strlen(piece) : n;
		if (!piece)
			piece = s + i;
		if (o + add + 1 > cap)
			break;
		memcpy(out + o, piece, add);
		o += add;
		i += n;
	}
	out[o] = 0;
}
