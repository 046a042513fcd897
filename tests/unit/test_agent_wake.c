/* test_agent_wake.c - the wake-up channel's WebSocket pieces: the accept
 * value of the handshake (RFC 6455's own example) and the frame reader
 * (wake-ups, pings, split frames, extended lengths, what it refuses). */
#include <string.h>

#include "agent/wake.h"
#include "unit.h"

static long
parse(const unsigned char *b, size_t n, int *wakes, int *pong_len, unsigned char *pong)
{
	*wakes = 0;
	*pong_len = -1;
	return wake_parse(b, n, wakes, pong, pong_len);
}

int
main(void)
{
	unsigned char pong[125];
	char          acc[29];
	int           wakes, pl;

	/* RFC 6455, 1.3 */
	wake_accept_value("dGhlIHNhbXBsZSBub25jZQ==", acc);
	CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "accept value of the RFC's example");

	{
		static const unsigned char two[] = "\x81\x04wake\x81\x04wake";

		CHECK(parse(two, 12, &wakes, &pl, pong) == 12 && wakes == 2, "two wake frames");
		CHECK(parse(two, 9, &wakes, &pl, pong) == 6 && wakes == 1, "a split frame waits");
		CHECK(parse(two, 1, &wakes, &pl, pong) == 0 && wakes == 0, "half a header waits");
	}
	{
		static const unsigned char other[] = "\x81\x05wakes\x82\x04wake\x8a\x00";

		CHECK(parse(other, 15, &wakes, &pl, pong) == 15 && wakes == 0,
		    "other text, binary and pong frames are skipped");
	}
	{
		static const unsigned char ping[] = "\x89\x03" "abc";

		CHECK(parse(ping, 5, &wakes, &pl, pong) == 5 && pl == 3 && memcmp(pong, "abc", 3) == 0,
		    "a ping's payload is kept for the pong");
	}
	{
		unsigned char big[4 + 300];

		memset(big, 'x', sizeof(big));
		big[0] = 0x81;
		big[1] = 126;
		big[2] = 0x01;
		big[3] = 0x2c;	/* 300 */
		CHECK(parse(big, sizeof(big), &wakes, &pl, pong) == (long)sizeof(big) && wakes == 0,
		    "16-bit length");
		CHECK(parse(big, 100, &wakes, &pl, pong) == 0, "16-bit length, incomplete");
	}
	{
		static const unsigned char huge[] = "\x81\x7f\x00\x00\x00\x00\x10\x00\x00\x00";
		static const unsigned char masked[] = "\x81\x84\x01\x02\x03\x04wake";
		static const unsigned char close[] = "\x81\x04wake\x88\x00";

		CHECK(parse(huge, 10, &wakes, &pl, pong) == -1, "a frame larger than the buffer");
		CHECK(parse(masked, 10, &wakes, &pl, pong) == -1, "a masked frame from the server");
		CHECK(parse(close, 8, &wakes, &pl, pong) == -1, "a close frame ends the channel");
	}
	{
		/* wake_frame, which a terminal session reads its frames with. */
		static const unsigned char bin[] = "\x82\x03" "abc" "\x81\x02{}";
		const unsigned char       *p;
		size_t                     n;
		unsigned                   op;

		CHECK(wake_frame(bin, 10, WAKE_BUF, &op, &p, &n) == 5 && op == 2 && n == 3 &&
		    memcmp(p, "abc", 3) == 0, "a binary frame and its payload");
		CHECK(wake_frame(bin + 5, 4, WAKE_BUF, &op, &p, &n) == 4 && op == 1 && n == 2,
		    "a text frame");
		CHECK(wake_frame(bin, 4, WAKE_BUF, &op, &p, &n) == 0, "an incomplete frame waits");
		CHECK(wake_frame(bin, 5, 4, &op, &p, &n) == -1, "a frame beyond the reader's maximum");
	}
	return unit_done("agent-wake");
}
