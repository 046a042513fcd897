/*
 * mail.c - SMTP delivery through libcurl (see mail.h).
 */
#include "mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int
mail_send(const struct config *cfg, const char *to, const char *subject, const char *body)
{
	CURL              *c;
	struct curl_slist *rcpt = NULL;
	struct payload     p;
	char               from[300], date[64], *msg;
	size_t             cap;
	time_t             now = time(NULL);
	struct tm          tm;
	const char        *pw = getenv("LAUNCHER_SMTP_PASSWORD");
	CURLcode           rc;
	int                n;

	if (cfg->smtp_url[0] == '\0') {
		log_warn("mail: smtp_url is not configured; message dropped");
		return -1;
	}
	/* Header injection: addresses were validated, the subject is ours. */
	if (strpbrk(to, "\r\n<>") != NULL || strpbrk(subject, "\r\n") != NULL)
		return -1;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	cap = strlen(body) + strlen(to) + strlen(subject) + 512;
	if ((msg = malloc(cap)) == NULL)
		return -1;
	n = util_snprintf(msg, cap,
	    "Date: %s\r\nFrom: Launcher <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
	    date, cfg->smtp_from, to, subject, body);
	if (n < 0 || util_snprintf(from, sizeof(from), "<%s>", cfg->smtp_from) < 0 ||
	    (c = curl_easy_init()) == NULL) {
		free(msg);
		return -1;
	}
	p.data = msg;
	p.len = (size_t)n;
	p.off = 0;
	rcpt = curl_slist_append(rcpt, to);
	curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(c, CURLOPT_READDATA, &p);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (strncmp(cfg->smtp_url, "smtp://", 7) == 0 && cfg->smtp_user[0] != '\0')
		curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (cfg->smtp_user[0] != '\0') {
		curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pw ? pw : "");
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		log_error("mail: delivery failed: %s", curl_easy_strerror(rc));
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(msg);
	return rc == CURLE_OK ? 0 : -1;
}
