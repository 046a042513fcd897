/*
 * wake.c - the agent's wake-up channel (see wake.h).
 */
#include "wake.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "../core/log.h"
#include "../core/util.h"
#include "timefmt.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* Standard base64 with padding: n = 16 gives 24 characters, 20 gives 28. */
static void
b64(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

void
wake_accept_value(const char *key, char out[29])
{
	unsigned char d[SHA_DIGEST_LENGTH];
	char          m[128];

	util_snprintf(m, sizeof(m), "%s" WS_GUID, key);
	SHA1((const unsigned char *)m, strlen(m), d);
	b64(d, sizeof(d), out);
}

void
wake_init(struct wake *w)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->backoff_ms = WAKE_BACKOFF_MIN;
}

void
wake_close(struct wake *w)
{
	if (w->h != NULL)
		curl_easy_cleanup(w->h);
	w->h = NULL;
	w->fd = -1;
	w->inlen = 0;
}

/* Gives up this attempt: closed, retry later (doubling, capped). */
static int
failed(struct wake *w, int64_t now, const char *why)
{
	wake_close(w);
	if (!w->said_down)
		log_info("wake-up channel unavailable (%s): polling only; retrying with back-off", why);
	w->said_down = true;
	w->retry_at = now + w->backoff_ms;
	w->backoff_ms = w->backoff_ms * 2 > WAKE_BACKOFF_MAX ? WAKE_BACKOFF_MAX : w->backoff_ms * 2;
	return -1;
}

/*
 * An open channel ended.  nginx closes it when a reload retires the worker
 * that carried it (worker_shutdown_timeout, and every deploy reloads), so
 * one that lived a while is reopened at once; one that dies young backs
 * off like a failed attempt (a proxy that drops every upgrade).
 */
static int
lost(struct wake *w, int64_t now)
{
	if (now - w->since < 1000)
		return failed(w, now, "closed right after opening");
	wake_close(w);
	log_debug("wake-up channel closed by the plane: reopening");
	w->retry_at = now;
	return -1;
}

/* Waits for the socket; 0 when ready, -1 at the deadline. */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t       left = deadline - timefmt_mono_ms();
		struct pollfd p = {.fd = fd, .events = ev};
		int           n;

		if (left <= 0)
			return -1;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

static int
send_all(struct wake *w, const void *data, size_t len, int64_t deadline)
{
	const char *p = data;

	while (len > 0) {
		size_t   n = 0;
		CURLcode cc = curl_easy_send(w->h, p, len, &n);

		if (cc == CURLE_AGAIN) {
			if (wait_fd(w->fd, POLLOUT, deadline) != 0)
				return -1;
			continue;
		}
		if (cc != CURLE_OK)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* The request target's host[:port] of the plane URL. */
static void
url_authority(const char *url, char *out, size_t outlen)
{
	const char *h = strstr(url, "://");
	size_t      n;

	h = h != NULL ? h + 3 : url;
	n = strcspn(h, "/");
	util_snprintf(out, outlen, "%.*s", (int)n, h);
}

/* Reads the 101 answer; leftover bytes (early frames) stay in w->in. */
static int
read_upgrade(struct wake *w, const char *accept, int64_t deadline, char *why, size_t whylen)
{
	char  *end, *line;
	size_t hlen;

	for (;;) {
		size_t   n = 0;
		CURLcode cc;

		w->in[w->inlen] = '\0';
		if ((end = strstr((char *)w->in, "\r\n\r\n")) != NULL)
			break;
		if (w->inlen >= sizeof(w->in) - 1) {
			util_snprintf(why, whylen, "answer headers too long");
			return -1;
		}
		cc = curl_easy_recv(w->h, w->in + w->inlen, sizeof(w->in) - 1 - w->inlen, &n);
		if (cc == CURLE_AGAIN) {
			if (wait_fd(w->fd, POLLIN, deadline) != 0) {
				util_snprintf(why, whylen, "no answer to the upgrade");
				return -1;
			}
			continue;
		}
		if (cc != CURLE_OK || n == 0) {
			util_snprintf(why, whylen, "connection closed during the upgrade");
			return -1;
		}
		w->inlen += n;
	}
	hlen = (size_t)(end - (char *)w->in) + 4;
	*end = '\0';
	if (strncmp((char *)w->in, "HTTP/1.1 101", 12) != 0) {
		util_snprintf(why, whylen, "HTTP %.3s", w->in + 9);
		return -1;
	}
	/* The accept value proves a WebSocket server answered this request. */
	for (line = strstr((char *)w->in, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
		const char *v = line + 2;

		if (strncasecmp(v, "Sec-WebSocket-Accept:", 21) == 0) {
			v += 21;
			while (*v == ' ')
				v++;
			if (strncmp(v, accept, 28) == 0 && (v[28] == '\0' || v[28] == '\r' || v[28] == ' '))
				break;
		}
	}
	if (line == NULL) {
		util_snprintf(why, whylen, "bad Sec-WebSocket-Accept");
		return -1;
	}
	memmove(w->in, w->in + hlen, w->inlen - hlen);
	w->inlen -= hlen;
	return 0;
}

int
wake_open(struct wake *w, const struct agent_conf *c, const char *token, const char *path,
    int64_t deadline, char *why, size_t whylen)
{
	unsigned char raw[16];
	char          key[25], accept[29], url[AGENT_STR_MAX + 256], authority[512];
	char          req[AGENT_STR_MAX + 1024];
	curl_socket_t sock = CURL_SOCKET_BAD;
	CURL         *h;
	int           n;

	wake_close(w);
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		util_snprintf(why, whylen, "no random bytes");
		return -1;
	}
	b64(raw, sizeof(raw), key);
	wake_accept_value(key, accept);
	if (util_snprintf(url, sizeof(url), "%s%s", c->plane_url, path) < 0) {
		util_snprintf(why, whylen, "URL too long");
		return -1;
	}
	url_authority(c->plane_url, authority, sizeof(authority));
	if ((h = curl_easy_init()) == NULL) {
		util_snprintf(why, whylen, "curl_easy_init failed");
		return -1;
	}
	w->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);	/* ALPN: no h2 */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)WAKE_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file[0] != '\0')
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (curl_easy_perform(h) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK || sock == CURL_SOCKET_BAD) {
		util_snprintf(why, whylen, "cannot connect");
		return -1;
	}
	w->fd = (int)sock;
	n = util_snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nx-lnchr-agent-token: %s\r\n"
	    "User-Agent: launcher-agent\r\n\r\n", path, authority, key, token);
	if (n < 0) {
		explicit_bzero(req, sizeof(req));
		util_snprintf(why, whylen, "request too long");
		return -1;
	}
	if (send_all(w, req, (size_t)n, deadline) != 0) {
		explicit_bzero(req, sizeof(req));
		util_snprintf(why, whylen, "cannot send the upgrade");
		return -1;
	}
	explicit_bzero(req, sizeof(req));
	w->inlen = 0;
	if (read_upgrade(w, accept, deadline, why, whylen) != 0)
		return -1;
	w->since = w->last_rx = timefmt_mono_ms();
	return 0;
}

int
wake_connect(struct wake *w, const struct agent_conf *c, const char *token, int64_t now)
{
	char path[128], why[128];

	if (w->h != NULL || now < w->retry_at)
		return 0;
	util_snprintf(path, sizeof(path), "/%s/ws/agent", c->tenant);
	if (wake_open(w, c, token, path, now + WAKE_CONNECT_MS, why, sizeof(why)) != 0)
		return failed(w, now, why);
	/* Said once, and again after it was unavailable; routine reopenings
	 * (nginx retiring a worker) only at debug. */
	if (w->said_down || !w->ever)
		log_info("wake-up channel connected");
	else
		log_debug("wake-up channel connected");
	w->ever = true;
	w->said_down = false;
	w->backoff_ms = WAKE_BACKOFF_MIN;
	return 1;
}

long
wake_frame(const unsigned char *f, size_t len, size_t max, unsigned *op,
    const unsigned char **payload, size_t *plen_out)
{
	uint64_t plen;
	size_t   hdr = 2;

	if (len < 2)
		return 0;
	*op = f[0] & 0x0f;
	plen = f[1] & 0x7f;
	if (f[1] & 0x80)
		return -1;	/* a server never masks */
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = ((uint64_t)f[2] << 8) | f[3];
		hdr = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = (plen << 8) | f[i];
		hdr = 10;
	}
	if (plen > max - hdr)
		return -1;	/* larger than the reader's buffer can ever hold */
	if (len < hdr + plen)
		return 0;
	*payload = f + hdr;
	*plen_out = (size_t)plen;
	return (long)(hdr + plen);
}

long
wake_parse(const unsigned char *buf, size_t len, int *wakes, unsigned char pong[125],
    int *pong_len)
{
	size_t used = 0;

	for (;;) {
		const unsigned char *p;
		size_t               plen;
		unsigned             op;
		long                 n = wake_frame(buf + used, len - used, WAKE_BUF, &op, &p, &plen);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		switch (op) {
		case 0x1:	/* text */
			if (plen == 4 && memcmp(p, "wake", 4) == 0)
				(*wakes)++;
			break;
		case 0x8:	/* close */
			return -1;
		case 0x9:	/* ping: answer with its payload */
			if (plen > 125)
				return -1;
			memcpy(pong, p, plen);
			*pong_len = (int)plen;
			break;
		default:	/* pong, binary, continuation: nothing for us */
			break;
		}
		used += (size_t)n;
	}
	return (long)used;
}

/* A client frame is masked (RFC 6455 5.3). */
int
wake_send(struct wake *w, unsigned op, const void *data, size_t len, int64_t deadline)
{
	unsigned char        f[14 + WAKE_BUF];
	const unsigned char *p = data;
	size_t               hdr = 2;

	if (w->h == NULL || len > WAKE_BUF)
		return -1;
	f[0] = (unsigned char)(0x80 | (op & 0x0f));
	if (len < 126)
		f[1] = (unsigned char)(0x80 | len);
	else {
		f[1] = 0x80 | 126;
		f[2] = (unsigned char)(len >> 8);
		f[3] = (unsigned char)len;
		hdr = 4;
	}
	if (getrandom(f + hdr, 4, 0) != 4)
		return -1;
	for (size_t i = 0; i < len; i++)
		f[hdr + 4 + i] = p[i] ^ f[hdr + (i & 3)];
	return send_all(w, f, hdr + 4 + len, deadline);
}

static int
send_pong(struct wake *w, const unsigned char *payload, int len)
{
	return wake_send(w, 0xa, payload, (size_t)len, timefmt_mono_ms() + 1000);
}

int
wake_read(struct wake *w, int64_t now)
{
	int wakes = 0;

	if (w->h == NULL)
		return 0;
	for (;;) {
		unsigned char pong[125];
		int           pong_len = -1;
		long          used = wake_parse(w->in, w->inlen, &wakes, pong, &pong_len);
		size_t        n = 0;
		CURLcode      cc;

		/* Bytes may be left from the upgrade's answer or the last read. */
		if (used < 0 || (pong_len >= 0 && send_pong(w, pong, pong_len) != 0))
			return lost(w, now);
		memmove(w->in, w->in + used, w->inlen - (size_t)used);
		w->inlen -= (size_t)used;
		cc = curl_easy_recv(w->h, w->in + w->inlen, sizeof(w->in) - w->inlen, &n);
		if (cc == CURLE_AGAIN)
			break;
		if (cc != CURLE_OK || n == 0)
			return lost(w, now);
		w->inlen += n;
		w->last_rx = now;
	}
	return wakes;
}

int
wake_check(struct wake *w, int64_t now, int64_t idle_ms)
{
	if (w->h == NULL || now - w->last_rx < idle_ms)
		return 0;
	log_info("wake-up channel silent for %lld s: reopening", (long long)(idle_ms / 1000));
	wake_close(w);
	w->retry_at = now;
	return -1;
}
