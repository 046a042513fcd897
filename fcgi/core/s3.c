/*
 * s3.c - the S3 API driver behind objstore (see s3.h): URLs for path-style
 * and virtual-host addressing, one request function over libcurl whose
 * built-in SigV4 signer (CURLOPT_AWS_SIGV4) signs every request, the
 * multipart upload (Create / UploadPart / Complete / Abort), GET streamed
 * to a sink, idempotent DELETE, and S3 error documents made readable.
 *
 * Signing: libcurl 7.88 takes the payload hash for the canonical request
 * from our x-amz-content-sha256 header, so we always send it (the hex
 * sha256 of the buffered body; of "" for GET/DELETE) and the signature
 * covers the body.  It does not sort or re-encode the query string, so
 * every query we build is already canonical: names in order, values
 * percent-encoded, "uploads=" rather than "uploads".  Keys are restricted
 * (objstore_full_key) to characters that need no encoding in a path.
 */
#include "s3.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "util.h"

/* S3 allows 10,000 parts: with OBJSTORE_PART that caps an object at ~78 GiB. */
#define S3_MAX_PARTS 10000
/* An answer body we keep (error document, InitiateMultipartUploadResult). */
#define S3_BODY_MAX 8192
/* Attempts of one request on a 500/503 or a dropped connection (S3 asks
 * clients to retry those); the pause doubles from one second. */
#define S3_ATTEMPTS 3
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_upload {
	const struct objstore_dest *d;
	char  key[1024];
	char  upload_id[512];   /* empty until the multipart upload is created */
	char (*etags)[80];      /* one per sent part */
	int   parts;
	CURL *curl;             /* kept for its connection across parts */
};

/* What one request answered. */
struct s3_resp {
	long   status;
	char   body[S3_BODY_MAX];
	size_t body_len;
	char   etag[80];
	/* GET: 2xx bodies go here instead of body */
	int  (*sink)(void *ud, const void *buf, size_t n);
	void  *ud;
	bool   sink_failed;
};

/* A request body held in memory, read by libcurl. */
struct s3_src {
	const unsigned char *p;
	size_t n, off;
};

static size_t
src_read(char *out, size_t size, size_t nitems, void *ud)
{
	struct s3_src *s = ud;
	size_t want = size * nitems, left = s->n - s->off;

	if (want > left)
		want = left;
	memcpy(out, s->p + s->off, want);
	s->off += want;
	return want;
}

static size_t
resp_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct s3_resp *r = ud;
	size_t n = size * nmemb;

	if (r->sink != NULL && r->status >= 200 && r->status < 300) {
		if (r->sink(r->ud, data, n) != 0) {
			r->sink_failed = true;
			return 0;   /* aborts the transfer */
		}
		return n;
	}
	if (r->body_len < sizeof(r->body) - 1) {
		size_t room = sizeof(r->body) - 1 - r->body_len;

		memcpy(r->body + r->body_len, data, n < room ? n : room);
		r->body_len += n < room ? n : room;
		r->body[r->body_len] = '\0';
	}
	return n;
}

/* Header callback: the status line (so the body callback knows whether
 * it is data or an error document) and the ETag. */
static size_t
resp_header(char *data, size_t size, size_t nitems, void *ud)
{
	struct s3_resp *r = ud;
	size_t n = size * nitems;

	if (n > 9 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', n);

		if (sp != NULL && sp + 4 <= data + n)
			r->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
		r->body_len = 0;
		r->body[0] = '\0';
	} else if (n > 5 && strncasecmp(data, "etag:", 5) == 0) {
		size_t i = 5, j = 0;

		while (i < n && (data[i] == ' ' || data[i] == '\t'))
			i++;
		while (i < n && data[i] != '\r' && data[i] != '\n' && j < sizeof(r->etag) - 1)
			r->etag[j++] = data[i++];
		r->etag[j] = '\0';
	}
	return n;
}

/* The text between <tag> and </tag> of xml, entities decoded, into out. */
static bool
xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen)
{
	char open[64], close[64];
	const char *a, *b, *end = xml + len;
	size_t j = 0;

	if (util_snprintf(open, sizeof(open), "<%s>", tag) < 0 ||
	    util_snprintf(close, sizeof(close), "</%s>", tag) < 0 || outlen == 0)
		return false;
	a = memmem(xml, len, open, strlen(open));
	if (a == NULL)
		return false;
	a += strlen(open);
	b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (b == NULL)
		return false;
	while (a < b && j < outlen - 1) {
		static const struct { const char *ent; char c; } ents[] = {
			{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
		};
		bool done = false;

		for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]) && *a == '&'; k++) {
			size_t el = strlen(ents[k].ent);

			if ((size_t)(b - a) >= el && memcmp(a, ents[k].ent, el) == 0) {
				out[j++] = ents[k].c;
				a += el;
				done = true;
				break;
			}
		}
		if (!done)
			out[j++] = *a++;
	}
	out[j] = '\0';
	return true;
}

/* What a code means, for servers that send an empty <Message> (radosgw). */
static const char *
code_meaning(const char *code)
{
	static const struct { const char *code, *text; } t[] = {
		{"SignatureDoesNotMatch", "the secret key does not match the access key"},
		{"InvalidAccessKeyId", "the access key is not known to the server"},
		{"AccessDenied", "the credentials may not access this bucket or object"},
		{"NoSuchBucket", "the bucket does not exist"},
		{"NoSuchKey", "the object does not exist"},
		{"NoSuchUpload", "the multipart upload does not exist"},
		{"RequestTimeTooSkewed", "this server's clock differs too much from the store's"},
		{"XAmzContentSHA256Mismatch", "the body changed after it was signed"},
		{"PermanentRedirect", "the bucket is in another region or needs another endpoint"},
		{"AuthorizationHeaderMalformed", "the region does not match the bucket's"},
		{"QuotaExceeded", "the account's quota is exceeded"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].code, code) == 0)
			return t[i].text;
	return "";
}

void
s3_error_text(long status, const char *xml, size_t len, char *out, size_t outlen)
{
	char code[128], msg[512];

	if (outlen == 0)
		return;
	if (xml != NULL && xml_text(xml, len, "Code", code, sizeof(code)) && code[0] != '\0') {
		if (!xml_text(xml, len, "Message", msg, sizeof(msg)) || msg[0] == '\0')
			util_snprintf(msg, sizeof(msg), "%s", code_meaning(code));
		if (util_snprintf(out, outlen, "%s: %s", code, msg[0] ? msg : "(no message)") < 0)
			out[outlen - 1] = '\0';
	} else if (status == 403) {
		util_snprintf(out, outlen, "AccessDenied: HTTP 403");
	} else if (status == 404) {
		util_snprintf(out, outlen, "NotFound: HTTP 404");
	} else if (util_snprintf(out, outlen, "HTTP %ld", status) < 0) {
		out[outlen - 1] = '\0';
	}
	util_sanitize(out, 0);
}

/* Replaces any occurrence of the keys in err (defence in depth: no server
 * should echo them, and no error of ours contains them). */
static void
scrub(const struct objstore_dest *d, char *err)
{
	const char *keys[2] = {d->secret_key, d->access_key};

	for (int k = 0; k < 2; k++) {
		char *p;
		size_t kl;

		if (keys[k] == NULL || (kl = strlen(keys[k])) < 4)
			continue;
		while ((p = strstr(err, keys[k])) != NULL) {
			memset(p, '*', 3);
			memmove(p + 3, p + kl, strlen(p + kl) + 1);
		}
	}
}

/*
 * The URL of key in d's bucket (query appended when not NULL).  Virtual
 * host: the bucket becomes the first label of the endpoint's host.
 */
static int
s3_url(const struct objstore_dest *d, const char *key, const char *query, char *out, size_t outlen)
{
	char ep[1024];
	const char *host, *rest;
	size_t scheme_len;

	if (objstore_endpoint(d, ep, sizeof(ep)) != 0)
		return -1;
	host = strstr(ep, "://");
	if (host == NULL)
		return -1;
	host += 3;
	scheme_len = (size_t)(host - ep);
	rest = host + strcspn(host, "/");   /* "" or "/base" */
	if (d->path_style)
		return util_snprintf(out, outlen, "%s/%s/%s%s%s", ep, d->bucket, key,
		                     query ? "?" : "", query ? query : "") < 0 ? -1 : 0;
	return util_snprintf(out, outlen, "%.*s%s.%.*s%s/%s%s%s", (int)scheme_len, ep, d->bucket,
	                     (int)(rest - host), host, rest, key,
	                     query ? "?" : "", query ? query : "") < 0 ? -1 : 0;
}

/*
 * One signed request.  method; url; body (may be NULL: empty) and its hex
 * sha256; extra headers (NULL-terminated, may be NULL).  *r holds the
 * answer.  0 when the transfer completed (whatever the status), -1 on a
 * transport failure with err set.
 */
static int
s3_perform(CURL *c, const struct objstore_dest *d, const char *method, const char *url,
           const void *body, size_t n, const char *sha256_hex, struct s3_resp *r,
           char *err, size_t errlen)
{
	char sigv4[160], hsha[128], userpwd_err[CURL_ERROR_SIZE];
	struct curl_slist *h = NULL, *h2;
	struct s3_src src = {body, n, 0};
	CURLcode rc;

	if (util_snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", d->region) < 0 ||
	    util_snprintf(hsha, sizeof(hsha), "x-amz-content-sha256: %s",
	                  sha256_hex ? sha256_hex : EMPTY_SHA256) < 0) {
		util_snprintf(err, errlen, "region too long");
		return -1;
	}
	h2 = curl_slist_append(h, hsha);
	if (h2 == NULL)
		goto oom;
	h = h2;
	if (strcmp(method, "POST") == 0 && body != NULL) {
		h2 = curl_slist_append(h, "Content-Type: application/xml");
		if (h2 == NULL)
			goto oom;
		h = h2;
	}

	curl_easy_reset(c);
	userpwd_err[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, d->access_key);
	curl_easy_setopt(c, CURLOPT_PASSWORD, d->secret_key);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, userpwd_err);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
	/* A stalled transfer (under 1 byte/s for two minutes) fails; a long one does not. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 120L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, resp_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, resp_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (d->ca_file != NULL && d->ca_file[0] != '\0')
		curl_easy_setopt(c, CURLOPT_CAINFO, d->ca_file);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, src_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &src);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)n);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}

	r->status = 0;
	r->body_len = 0;
	r->body[0] = '\0';
	r->etag[0] = '\0';
	r->sink_failed = false;
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->sink_failed)) {
		util_snprintf(err, errlen, "%s", userpwd_err[0] ? userpwd_err : curl_easy_strerror(rc));
		scrub(d, err);
		return -1;
	}
	return 0;
oom:
	curl_slist_free_all(h);
	util_snprintf(err, errlen, "out of memory");
	return -1;
}

/* Worth another attempt: a server error S3 asks to retry, or a dropped connection. */
static bool
retryable(int prc, const struct s3_resp *r)
{
	return prc != 0 || r->status == 500 || r->status == 503;
}

/*
 * s3_perform with retries (S3_ATTEMPTS) and the answer checked: 0 when the
 * status is 2xx (or listed in ok_status), -1 with err = the error text.
 */
static int
s3_call(CURL *c, const struct objstore_dest *d, const char *method, const char *url,
        const void *body, size_t n, const char *sha256_hex, struct s3_resp *r, long ok_status,
        char *err, size_t errlen)
{
	for (int attempt = 1;; attempt++) {
		int prc = s3_perform(c, d, method, url, body, n, sha256_hex, r, err, errlen);

		if (prc == 0 && r->sink_failed) {
			util_snprintf(err, errlen, "the reader stopped the download");
			return -1;
		}
		if (prc == 0 && ((r->status >= 200 && r->status < 300) || r->status == ok_status))
			return 0;
		/* A GET already streamed part of the object to the sink: no retry. */
		if (attempt >= S3_ATTEMPTS || !retryable(prc, r) || r->sink != NULL) {
			if (prc == 0) {
				s3_error_text(r->status, r->body, r->body_len, err, errlen);
				scrub(d, err);
			}
			return -1;
		}
		sleep(1u << (attempt - 1));
	}
}

static CURL *
new_curl(char *err, size_t errlen)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		util_snprintf(err, errlen, "out of memory");
	return c;
}

struct s3_upload *
s3_upload_open(const struct objstore_dest *d, const char *full_key, char *err, size_t errlen)
{
	struct s3_upload *u = calloc(1, sizeof(*u));

	if (u == NULL || util_snprintf(u->key, sizeof(u->key), "%s", full_key) < 0) {
		util_snprintf(err, errlen, u ? "key too long" : "out of memory");
		free(u);
		return NULL;
	}
	u->d = d;
	u->curl = new_curl(err, errlen);
	if (u->curl == NULL) {
		free(u);
		return NULL;
	}
	return u;
}

/* CreateMultipartUpload: the upload id from its answer. */
static int
upload_create(struct s3_upload *u, struct s3_resp *r, char *err, size_t errlen)
{
	char url[2048];

	if (s3_url(u->d, u->key, "uploads=", url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "URL too long");
		return -1;
	}
	if (s3_call(u->curl, u->d, "POST", url, NULL, 0, NULL, r, 0, err, errlen) != 0)
		return -1;
	if (!xml_text(r->body, r->body_len, "UploadId", u->upload_id, sizeof(u->upload_id)) ||
	    u->upload_id[0] == '\0') {
		util_snprintf(err, errlen, "the store answered no UploadId");
		return -1;
	}
	u->etags = calloc(S3_MAX_PARTS, sizeof(*u->etags));
	if (u->etags == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* "partNumber=N&uploadId=<escaped>" (canonical order), or with no part. */
static int
upload_query(struct s3_upload *u, int part, char *out, size_t outlen)
{
	char *id = curl_easy_escape(u->curl, u->upload_id, 0);
	int rc;

	if (id == NULL)
		return -1;
	if (part > 0)
		rc = util_snprintf(out, outlen, "partNumber=%d&uploadId=%s", part, id);
	else
		rc = util_snprintf(out, outlen, "uploadId=%s", id);
	curl_free(id);
	return rc < 0 ? -1 : 0;
}

int
s3_upload_part(struct s3_upload *u, const void *buf, size_t n, const char *sha256_hex,
               char *err, size_t errlen)
{
	struct s3_resp *r = calloc(1, sizeof(*r));
	char q[700], url[2048];
	int rc = -1;

	if (r == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (u->upload_id[0] == '\0' && upload_create(u, r, err, errlen) != 0)
		goto out;
	if (u->parts >= S3_MAX_PARTS) {
		util_snprintf(err, errlen, "object too large (more than %d parts)", S3_MAX_PARTS);
		goto out;
	}
	if (upload_query(u, u->parts + 1, q, sizeof(q)) != 0 ||
	    s3_url(u->d, u->key, q, url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "URL too long");
		goto out;
	}
	if (s3_call(u->curl, u->d, "PUT", url, buf, n, sha256_hex, r, 0, err, errlen) != 0)
		goto out;
	if (r->etag[0] == '\0') {
		util_snprintf(err, errlen, "the store answered a part without ETag");
		goto out;
	}
	memcpy(u->etags[u->parts], r->etag, sizeof(u->etags[0]));
	u->parts++;
	rc = 0;
out:
	free(r);
	return rc;
}

/* CompleteMultipartUpload with every part's ETag. */
static int
upload_complete(struct s3_upload *u, struct s3_resp *r, char *err, size_t errlen)
{
	size_t cap = 128 + (size_t)u->parts * 140, len = 0;
	char *xml = malloc(cap), q[700], url[2048], hex[65];
	unsigned char sha[crypto_hash_sha256_BYTES];
	int rc = -1, w;

	if (xml == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	w = util_snprintf(xml, cap, "<CompleteMultipartUpload>");
	len = (size_t)w;
	for (int i = 0; i < u->parts && w >= 0; i++) {
		w = util_snprintf(xml + len, cap - len,
		                  "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
		                  i + 1, u->etags[i]);
		if (w >= 0)
			len += (size_t)w;
	}
	if (w >= 0)
		w = util_snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
	if (w < 0 || upload_query(u, 0, q, sizeof(q)) != 0 ||
	    s3_url(u->d, u->key, q, url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "URL too long");
		goto out;
	}
	len += (size_t)w;
	crypto_hash_sha256(sha, (const unsigned char *)xml, len);
	util_hex(hex, sha, sizeof(sha));
	if (s3_call(u->curl, u->d, "POST", url, xml, len, hex, r, 0, err, errlen) != 0)
		goto out;
	/* S3 may answer 200 with an error document once the parts are joined. */
	if (memmem(r->body, r->body_len, "<Error>", 7) != NULL) {
		s3_error_text(r->status, r->body, r->body_len, err, errlen);
		goto out;
	}
	rc = 0;
out:
	free(xml);
	return rc;
}

static void
upload_abort(struct s3_upload *u, struct s3_resp *r)
{
	char q[700], url[2048], ignored[256];

	if (u->upload_id[0] == '\0')
		return;
	if (upload_query(u, 0, q, sizeof(q)) == 0 && s3_url(u->d, u->key, q, url, sizeof(url)) == 0)
		(void)s3_call(u->curl, u->d, "DELETE", url, NULL, 0, NULL, r, 404, ignored, sizeof(ignored));
}

int
s3_upload_close(struct s3_upload *u, bool commit, const void *buf, size_t n,
                const char *sha256_hex, char *err, size_t errlen)
{
	struct s3_resp *r = calloc(1, sizeof(*r));
	char url[2048];
	int rc = -1;

	if (r == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (!commit) {
		rc = 0;
		goto out;
	}
	if (u->upload_id[0] == '\0') {
		/* It all fitted in one part: a single PUT. */
		if (s3_url(u->d, u->key, NULL, url, sizeof(url)) != 0) {
			util_snprintf(err, errlen, "URL too long");
			goto out;
		}
		rc = s3_call(u->curl, u->d, "PUT", url, buf, n, sha256_hex, r, 0, err, errlen);
		goto out;
	}
	if (n > 0 && s3_upload_part(u, buf, n, sha256_hex, err, errlen) != 0)
		goto out;
	rc = upload_complete(u, r, err, errlen);
out:
	if (rc != 0 || !commit) {
		if (r != NULL)
			upload_abort(u, r);
	}
	curl_easy_cleanup(u->curl);
	free(u->etags);
	free(u);
	free(r);
	return rc;
}

/*
 * One request on a fresh handle to key (the bucket itself when key is "")
 * with no body; *r (caller's, its sink set for a GET) holds the answer.
 * 0 when 2xx or ok_status, -1 + err otherwise.
 */
static int
s3_simple(const struct objstore_dest *d, const char *key, const char *method, long ok_status,
          struct s3_resp *r, char *err, size_t errlen)
{
	char url[2048];
	CURL *c = new_curl(err, errlen);
	int rc;

	if (c == NULL)
		return -1;
	if (s3_url(d, key, NULL, url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "URL too long");
		curl_easy_cleanup(c);
		return -1;
	}
	/* The bucket's own URL has no trailing slash in path style. */
	if (key[0] == '\0' && d->path_style)
		url[strlen(url) - 1] = '\0';
	rc = s3_call(c, d, method, url, NULL, 0, NULL, r, ok_status, err, errlen);
	curl_easy_cleanup(c);
	return rc;
}

int
s3_get(const struct objstore_dest *d, const char *full_key,
       int (*sink)(void *ud, const void *buf, size_t n), void *ud, char *err, size_t errlen)
{
	struct s3_resp *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->sink = sink;
	r->ud = ud;
	rc = s3_simple(d, full_key, "GET", 0, r, err, errlen);
	free(r);
	return rc;
}

int
s3_delete(const struct objstore_dest *d, const char *full_key, char *err, size_t errlen)
{
	struct s3_resp *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* S3 answers 204 for a missing key too; some servers 404 NoSuchKey.
	 * A 404 for the bucket (NoSuchBucket) stays an error. */
	rc = s3_simple(d, full_key, "DELETE", 404, r, err, errlen);
	if (rc == 0 && r->status == 404 && strstr(r->body, "<Code>NoSuchKey</Code>") == NULL &&
	    r->body_len > 0) {
		s3_error_text(r->status, r->body, r->body_len, err, errlen);
		rc = -1;
	}
	free(r);
	return rc;
}

int
s3_bucket_create(const struct objstore_dest *d, char *err, size_t errlen)
{
	struct s3_resp *r = calloc(1, sizeof(*r));
	int rc;

	if (r == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = s3_simple(d, "", "PUT", 409, r, err, errlen);
	if (rc == 0 && r->status == 409 && strstr(r->body, "BucketAlreadyOwnedByYou") == NULL) {
		s3_error_text(r->status, r->body, r->body_len, err, errlen);
		rc = -1;
	}
	free(r);
	return rc;
}
