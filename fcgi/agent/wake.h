/*
 * wake.h - the agent's wake-up channel: one WebSocket to the plane's
 * launcher-ws (GET <plane>/<tenant>/ws/agent, the agent token in
 * x-lnchr-agent-token), on which the plane says "wake" when a job of this
 * server is queued or cancelled.  The loop then claims (or renews its
 * lease) at once instead of at its next poll.
 *
 * Polling stays the source of truth: when the channel is down (no daemon,
 * a proxy without WebSockets, a network cut) the agent reconnects with
 * back-off and meanwhile loses only the poll interval.
 *
 * The socket comes from libcurl (CURLOPT_CONNECT_ONLY: TCP, TLS and the
 * certificate checks of every other plane call); the HTTP upgrade and the
 * few frames (RFC 6455) are written here.  Connecting blocks the loop for at
 * most WAKE_CONNECT_MS.
 */
#ifndef LAUNCHER_AGENT_WAKE_H
#define LAUNCHER_AGENT_WAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define WAKE_CONNECT_MS  2000
#define WAKE_BACKOFF_MIN 1000
#define WAKE_BACKOFF_MAX 60000
#define WAKE_BUF         4096

struct wake {
	void         *h;		/* CURL *, NULL when closed */
	int           fd;		/* -1 when closed */
	unsigned char in[WAKE_BUF];
	size_t        inlen;
	int64_t       retry_at;		/* monotonic ms of the next attempt */
	int64_t       backoff_ms;
	int64_t       since;		/* monotonic ms when it opened */
	int64_t       last_rx;		/* monotonic ms of the last bytes received */
	bool          said_down;	/* "unavailable" logged since the last success */
	bool          ever;		/* connected at least once */
};

void    wake_init(struct wake *w);
void    wake_close(struct wake *w);
/* Connects if it is time to (now >= retry_at); 1 = connected now, 0 = not
 * due or already connected, -1 = failed (retry_at moved on). */
int     wake_connect(struct wake *w, const struct agent_conf *c, const char *token, int64_t now);
/* Reads what is there; the number of "wake" messages, or -1 when the
 * connection ended (closed; retry_at set). */
int     wake_read(struct wake *w, int64_t now);
/*
 * A channel on which nothing arrived for idle_ms is dead (launcher-ws pings
 * an idle one every 30 s; a cut network or a plane gone without a FIN
 * sends nothing): closed, to be reopened at once.  -1 when it was.
 */
int     wake_check(struct wake *w, int64_t now, int64_t idle_ms);

/*
 * The frame reader, separate for the unit tests: consumes whole frames at
 * the start of buf, counts "wake" text frames into *wakes and copies a
 * ping's payload into pong (length into *pong_len, -1 when none).
 * Returns the bytes consumed, or -1 for a protocol error or a close frame.
 */
long    wake_parse(const unsigned char *buf, size_t len, int *wakes, unsigned char pong[125],
    int *pong_len);

/*
 * The client pieces any other plane WebSocket of the agent uses (a
 * terminal session, term.h): one connection per struct wake.
 *
 * wake_open connects to <plane_url><path> with the agent token header
 * and completes the upgrade by deadline (monotonic ms); 0, or -1 with
 * the reason in why (closed).  Bytes that followed the answer are in
 * w->in.
 */
int     wake_open(struct wake *w, const struct agent_conf *c, const char *token,
    const char *path, int64_t deadline, char *why, size_t whylen);
/* Sends one masked frame (op 0x1 text, 0x2 binary, 0x8 close, 0xa pong)
 * of at most WAKE_BUF bytes, waiting for the socket until deadline; 0 or -1. */
int     wake_send(struct wake *w, unsigned op, const void *data, size_t len, int64_t deadline);
/*
 * One server frame at the start of buf: *op, *payload (inside buf) and its
 * length.  Returns the bytes it takes, 0 when incomplete, -1 for a masked
 * frame or a payload that could not fit in max bytes with its header.
 */
long    wake_frame(const unsigned char *buf, size_t len, size_t max, unsigned *op,
    const unsigned char **payload, size_t *plen);

/* base64(SHA-1(key + RFC 6455 GUID)): the Sec-WebSocket-Accept expected. */
void    wake_accept_value(const char *key, char out[29]);

#endif
