/*
 * mail.c - SMTP delivery through libcurl (see mail.h).
 */
#include "mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "log.h"
#include "util.h"

struct payload {
	const char *data;
	size_t      len, off;
};

static size_t
read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct payload *p = arg;
	size_t          room = size * n, left = p->len - p->off;

	if (left < room)
		room = left;
	memcpy(buf, p->data + p->off, room);
	p->off += room;
	return room;
}

static curl_socket_t
open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	const struct mail_server *s = arg;

	(void)purpose;
	if (s->open_ok != NULL && !s->open_ok(s->ud, &a->addr))
		return CURL_SOCKET_BAD;
	return socket(a->family, a->socktype, a->protocol);
}

int
mail_send_via(const struct mail_server *s, const char *const *to, size_t nto,
    const char *subject, const char *body, char *err, size_t errlen)
{
	CURL              *c;
	struct curl_slist *rcpt = NULL;
	struct payload     p;
	char               from[300], date[64], *msg, *tolist;
	size_t             cap, tolen = 0;
	time_t             now = time(NULL);
	struct tm          tm;
	CURLcode           rc;
	int                n;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* Header injection: addresses were validated, the subject is ours. */
	for (size_t i = 0; i < nto; i++) {
		if (strpbrk(to[i], "\r\n<>,") != NULL)
			return -1;
		tolen += strlen(to[i]) + 4;
	}
	if (nto == 0 || strpbrk(subject, "\r\n") != NULL || strpbrk(s->from, "\r\n<>") != NULL)
		return -1;
	if ((tolist = malloc(tolen + 1)) == NULL)
		return -1;
	for (size_t i = 0, off = 0; i < nto; i++) {
		int w = util_snprintf(tolist + off, tolen + 1 - off, "%s<%s>", i ? ", " : "", to[i]);

		if (w < 0) {
			free(tolist);
			return -1;
		}
		off += (size_t)w;
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	cap = strlen(body) + tolen + strlen(subject) + strlen(s->from) + 512;
	if ((msg = malloc(cap)) == NULL) {
		free(tolist);
		return -1;
	}
	n = util_snprintf(msg, cap,
	    "Date: %s\r\nFrom: Launcher <%s>\r\nTo: %s\r\nSubject: %s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
	    date, s->from, tolist, subject, body);
	free(tolist);
	if (n < 0 || util_snprintf(from, sizeof(from), "<%s>", s->from) < 0 ||
	    (c = curl_easy_init()) == NULL) {
		free(msg);
		return -1;
	}
	p.data = msg;
	p.len = (size_t)n;
	p.off = 0;
	for (size_t i = 0; i < nto; i++)
		rcpt = curl_slist_append(rcpt, to[i]);
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &p);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s->timeout < 5 ? s->timeout : 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* No proxy from the environment (all_proxy): the connect-time address
	 * check must see the server's own address. */
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (s->open_ok != NULL) {
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_cb);
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, s);
	}
	if (s->starttls && strncmp(s->url, "smtp://", 7) == 0)
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (s->user != NULL && s->user[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK && err != NULL)
		util_snprintf(err, errlen, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(msg);
	return rc == CURLE_OK ? 0 : -1;
}

int
mail_send(const struct config *cfg, const char *to, const char *subject, const char *body)
{
	struct mail_server s = {0};
	char               err[160];

	if (cfg->smtp_url[0] == '\0') {
		log_warn("mail: smtp_url is not configured; message dropped");
		return -1;
	}
	s.url = cfg->smtp_url;
	s.from = cfg->smtp_from;
	s.user = cfg->smtp_user;
	s.password = getenv("LAUNCHER_SMTP_PASSWORD");
	/* With a user, the password never crosses the network in clear. */
	s.starttls = cfg->smtp_user[0] != '\0';
	s.timeout = 15;
	if (mail_send_via(&s, &to, 1, subject, body, err, sizeof(err)) != 0) {
		log_error("mail: delivery failed: %s", err[0] ? err : "invalid message");
		return -1;
	}
	return 0;
}
