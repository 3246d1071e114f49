/* Wire frame header: byte layout, round trip, refusal of bad input; bundles:
 * the walker and the check on good bundles and on every malformed shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <puente/protocol.h>

static void test_layout_is_network_order(void **state)
{
	struct puente_header h = {
	    .version = PUENTE_PROTO_VERSION,
	    .kind = PUENTE_KIND_OPUS,
	    .channel = 2,
	    .flags = PUENTE_FLAG_DISCONT | PUENTE_FLAG_SILENCE,
	    .seq = 0x01020304u,
	    .media_time = 0x1122334455667788ull,
	};
	const unsigned char want[PUENTE_HEADER_LEN] = {
	    1, 1, 2, 3, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
	unsigned char out[PUENTE_HEADER_LEN];

	(void)state;
	puente_header_pack(&h, out);
	assert_memory_equal(out, want, PUENTE_HEADER_LEN);
}

static void test_round_trip(void **state)
{
	unsigned char buf[PUENTE_HEADER_LEN + 3] = {0};
	struct puente_header in = {PUENTE_PROTO_VERSION, PUENTE_KIND_OPUS, 31, 0,
	                           UINT32_MAX,           UINT64_MAX - 5};
	struct puente_header out;

	(void)state;
	puente_header_pack(&in, buf);
	assert_int_equal(puente_header_parse(buf, sizeof(buf), &out), 0);
	assert_int_equal(out.channel, 31);
	assert_int_equal(out.seq, UINT32_MAX);
	assert_true(out.media_time == UINT64_MAX - 5);
}

static void test_refuses_bad_frames(void **state)
{
	unsigned char buf[PUENTE_HEADER_LEN];
	struct puente_header h = {PUENTE_PROTO_VERSION, PUENTE_KIND_OPUS, 0, 0, 1, 2};
	struct puente_header out;

	(void)state;
	puente_header_pack(&h, buf);
	assert_int_equal(puente_header_parse(buf, PUENTE_HEADER_LEN - 1, &out), -1);
	assert_int_equal(puente_header_parse(buf, 0, &out), -1);
	buf[0] = 2;
	assert_int_equal(puente_header_parse(buf, sizeof(buf), &out), -1);
	buf[0] = PUENTE_PROTO_VERSION;
	buf[1] = 9;
	assert_int_equal(puente_header_parse(buf, sizeof(buf), &out), -1);
}

/* Appends one item (length, header with seq, payload_len bytes of 0xAB) at
 * out + off; returns the new offset. */
static size_t put_item(unsigned char *out, size_t off, uint32_t seq, size_t payload_len)
{
	struct puente_header h = {PUENTE_PROTO_VERSION, PUENTE_KIND_OPUS, 1, 0, seq, seq * 960ull};
	size_t n = PUENTE_HEADER_LEN + payload_len;

	out[off] = (unsigned char)(n >> 8);
	out[off + 1] = (unsigned char)n;
	puente_header_pack(&h, out + off + PUENTE_BUNDLE_ITEM);
	memset(out + off + PUENTE_BUNDLE_ITEM + PUENTE_HEADER_LEN, 0xAB, payload_len);
	return off + PUENTE_BUNDLE_ITEM + n;
}

/* A bundle prefix announcing count packets; returns the offset of the first item. */
static size_t put_prefix(unsigned char *out, unsigned count)
{
	out[0] = PUENTE_PROTO_VERSION;
	out[1] = PUENTE_KIND_BUNDLE;
	out[2] = (unsigned char)count;
	out[3] = 0;
	return PUENTE_BUNDLE_PREFIX;
}

/* A well-formed bundle of count items of payload_len bytes, seqs 100.. */
static size_t make_bundle(unsigned char *out, unsigned count, size_t payload_len)
{
	size_t off = put_prefix(out, count);

	for (unsigned i = 0; i < count; i++)
		off = put_item(out, off, 100 + i, payload_len);
	return off;
}

/* Walks a bundle to its end; returns the packets seen, or -1 as the walker does. */
static int walk(const unsigned char *in, size_t len)
{
	size_t off = 0, pkt_len;
	const unsigned char *pkt;
	int n = 0, r;

	while ((r = puente_bundle_next(in, len, &off, &pkt, &pkt_len)) == 1) {
		/* Every packet handed out lies inside the message. */
		assert_true(pkt >= in + PUENTE_BUNDLE_PREFIX && pkt + pkt_len <= in + len);
		n++;
	}
	return r < 0 ? -1 : n;
}

static unsigned char big[PUENTE_MAX_BUNDLE_MESSAGE + 8];

static void test_bundle_good(void **state)
{
	static const size_t sizes[] = {1, 3, 160, PUENTE_MAX_OPUS};

	(void)state;
	for (unsigned count = 1; count <= PUENTE_MAX_BUNDLE; count++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			size_t len = make_bundle(big, count, sizes[s]), off = 0, pkt_len = 0;
			const unsigned char *pkt = NULL;
			struct puente_header h;

			assert_int_equal(puente_bundle_check(big, len), (int)count);
			for (unsigned i = 0; i < count; i++) {
				assert_int_equal(puente_bundle_next(big, len, &off, &pkt, &pkt_len),
				                 1);
				assert_int_equal(pkt_len, PUENTE_HEADER_LEN + sizes[s]);
				assert_int_equal(puente_header_parse(pkt, pkt_len, &h), 0);
				assert_int_equal(h.seq, 100 + i);
				assert_int_equal(h.channel, 1);
				assert_int_equal(pkt[pkt_len - 1], 0xAB);
			}
			assert_int_equal(puente_bundle_next(big, len, &off, &pkt, &pkt_len), 0);
			assert_int_equal(off, len);
		}
	}
	/* The largest bundle there can be, and an item that is a bare header. */
	assert_int_equal(make_bundle(big, PUENTE_MAX_BUNDLE, PUENTE_MAX_OPUS),
	                 PUENTE_MAX_BUNDLE_MESSAGE);
	assert_int_equal(puente_bundle_check(big, PUENTE_MAX_BUNDLE_MESSAGE), PUENTE_MAX_BUNDLE);
	assert_int_equal(puente_bundle_check(big, make_bundle(big, 2, 0)), 2);
}

/* A bundle is not a packet: code that knows only packets refuses it whole. */
static void test_bundle_is_not_a_packet(void **state)
{
	struct puente_header h;
	size_t len = make_bundle(big, 1, 20);

	(void)state;
	assert_int_equal(puente_header_parse(big, len, &h), -1);
}

static void test_bundle_bad_prefix(void **state)
{
	size_t len;

	(void)state;
	len = make_bundle(big, 2, 10);
	/* Shorter than the prefix, down to nothing. */
	for (size_t n = 0; n < PUENTE_BUNDLE_PREFIX; n++) {
		assert_int_equal(walk(big, n), -1);
		assert_int_equal(puente_bundle_check(big, n), -1);
	}
	/* Another version; a plain packet's kind; an unknown kind. */
	big[0] = 0;
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[0] = 2;
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[0] = PUENTE_PROTO_VERSION;
	big[1] = PUENTE_KIND_OPUS;
	assert_int_equal(walk(big, len), -1);
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[1] = 3;
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[1] = PUENTE_KIND_BUNDLE;
	/* A count of 0 or above PUENTE_MAX_BUNDLE, whatever follows. */
	big[2] = 0;
	assert_int_equal(walk(big, len), -1);
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[2] = PUENTE_MAX_BUNDLE + 1;
	assert_int_equal(walk(big, len), -1);
	len = make_bundle(big, PUENTE_MAX_BUNDLE, 10);
	len = put_item(big, len, 200, 10);
	big[2] = PUENTE_MAX_BUNDLE + 1;
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[2] = 255;
	assert_int_equal(puente_bundle_check(big, len), -1);
	/* Reserved not 0. */
	len = make_bundle(big, 2, 10);
	big[3] = 1;
	assert_int_equal(walk(big, len), -1);
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[3] = 0x80;
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[3] = 0;
	assert_int_equal(puente_bundle_check(big, len), 2);
}

static void test_bundle_bad_items(void **state)
{
	size_t len, off;

	(void)state;
	/* An item shorter than a header: 15 bytes, and 0. */
	off = put_prefix(big, 1);
	big[off] = 0;
	big[off + 1] = PUENTE_HEADER_LEN - 1;
	memset(big + off + 2, 0, PUENTE_HEADER_LEN - 1);
	len = off + 2 + PUENTE_HEADER_LEN - 1;
	assert_int_equal(walk(big, len), -1);
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[off + 1] = 0;
	assert_int_equal(puente_bundle_check(big, off + 2), -1);

	/* An item longer than PUENTE_MAX_FRAME, with every byte it claims present. */
	off = put_prefix(big, 1);
	len = put_item(big, off, 1, PUENTE_MAX_OPUS + 1);
	assert_int_equal(len - off - PUENTE_BUNDLE_ITEM, PUENTE_MAX_FRAME + 1);
	assert_int_equal(walk(big, len), -1);
	assert_int_equal(puente_bundle_check(big, len), -1);

	/* An item running past the end: one byte short, and its length field cut. */
	len = make_bundle(big, 2, 40);
	assert_int_equal(walk(big, len - 1), -1);
	assert_int_equal(puente_bundle_check(big, len - 1), -1);
	off = put_item(big, put_prefix(big, 2), 1, 40);
	assert_int_equal(puente_bundle_check(big, off + 1), -1);
	/* A length field saying 65535 over a short message. */
	big[off] = 0xff;
	big[off + 1] = 0xff;
	assert_int_equal(puente_bundle_check(big, off + 2 + PUENTE_HEADER_LEN), -1);

	/* Trailing bytes after the last item: 1 (a cut length), 2 (a zero length), 18. */
	len = make_bundle(big, 2, 40);
	memset(big + len, 0, 32);
	assert_int_equal(puente_bundle_check(big, len + 1), -1);
	assert_int_equal(puente_bundle_check(big, len + 2), -1);
	assert_int_equal(puente_bundle_check(big, len + 18), -1);
	assert_int_equal(puente_bundle_check(big, len), 2);

	/* The count disagrees with the items: fewer, more, none at all. */
	len = make_bundle(big, 2, 40);
	big[2] = 3;
	assert_int_equal(walk(big, len), 2);
	assert_int_equal(puente_bundle_check(big, len), -1);
	big[2] = 1;
	assert_int_equal(walk(big, len), 2);
	assert_int_equal(puente_bundle_check(big, len), -1);
	put_prefix(big, 1);
	assert_int_equal(walk(big, PUENTE_BUNDLE_PREFIX), 0);
	assert_int_equal(puente_bundle_check(big, PUENTE_BUNDLE_PREFIX), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout_is_network_order),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_refuses_bad_frames),
	    cmocka_unit_test(test_bundle_good),
	    cmocka_unit_test(test_bundle_is_not_a_packet),
	    cmocka_unit_test(test_bundle_bad_prefix),
	    cmocka_unit_test(test_bundle_bad_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
