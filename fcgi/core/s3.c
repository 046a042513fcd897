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
	/* s3_request: the whole body (any status) grows here up to dyn_max,
	 * and one more request header (NULL = none) */
	char  *dyn;
	size_t dyn_len, dyn_cap, dyn_max;
	bool   dyn_over;
	const char *req_header;
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
	if (r->dyn_max > 0) {
		if (r->dyn_len + n > r->dyn_max) {
			r->dyn_over = true;
			return 0;   /* aborts the transfer */
		}
		if (r->dyn_len + n + 1 > r->dyn_cap) {
			size_t cap = r->dyn_cap ? r->dyn_cap : 4096;
			char *nb;

			while (cap < r->dyn_len + n + 1)
				cap *= 2;
			if ((nb = realloc(r->dyn, cap)) == NULL) {
				r->dyn_over = true;
				return 0;
			}
			r->dyn = nb;
			r->dyn_cap = cap;
		}
		memcpy(r->dyn + r->dyn_len, data, n);
		r->dyn_len += n;
		r->dyn[r->dyn_len] = '\0';
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
		r->dyn_len = 0;
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
 * The URL of key in d's bucket (query appended when not NULL; key "" = the
 * bucket itself, without a trailing slash in path style).  Virtual host:
 * the bucket becomes the first label of the endpoint's host.
 */
int
s3_url_of(const struct objstore_dest *d, const char *key, const char *query, char *out, size_t outlen)
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
		return util_snprintf(out, outlen, "%s/%s%s%s%s%s", ep, d->bucket, key[0] ? "/" : "", key,
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
	if (r->req_header != NULL) {
		h2 = curl_slist_append(h, r->req_header);
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
	r->dyn_len = 0;
	r->dyn_over = false;
	rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	if (rc == CURLE_WRITE_ERROR && r->dyn_over) {
		util_snprintf(err, errlen, "the answer is larger than %zu bytes", r->dyn_max);
		return -1;
	}
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

	if (s3_url_of(u->d, u->key, "uploads=", url, sizeof(url)) != 0) {
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
	    s3_url_of(u->d, u->key, q, url, sizeof(url)) != 0) {
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
	    s3_url_of(u->d, u->key, q, url, sizeof(url)) != 0) {
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
	if (upload_query(u, 0, q, sizeof(q)) == 0 && s3_url_of(u->d, u->key, q, url, sizeof(url)) == 0)
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
		if (s3_url_of(u->d, u->key, NULL, url, sizeof(url)) != 0) {
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
	if (s3_url_of(d, key, NULL, url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "URL too long");
		curl_easy_cleanup(c);
		return -1;
	}
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

/* ------------------------------------------------ SigV4 (query presigning) */

#define SIG_MAX_HEADERS 32
#define SIG_MAX_PARAMS  64

/* Appends s (n bytes) percent-encoded the SigV4 way to out at *len ('/'
 * kept when keep_slash: paths). */
static int
sig_encode(const char *s, size_t n, bool keep_slash, char *out, size_t outlen, size_t *len)
{
	long w;

	if (*len >= outlen || (w = util_pct_encode(out + *len, outlen - *len, s, n,
	    keep_slash ? "/" : NULL)) < 0)
		return -1;
	*len += (size_t)w;
	return 0;
}

static int
sig_add(char *out, size_t outlen, size_t *len, const char *s, size_t n)
{
	if (*len + n >= outlen)
		return -1;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return 0;
}

/* The path with "." and ".." segments and empty segments removed (not S3). */
static int
sig_normalize(const char *path, char *out, size_t outlen)
{
	size_t len = 0;
	const char *p = path;
	bool trailing = path[0] != '\0' && path[strlen(path) - 1] == '/';

	if (outlen < 2)
		return -1;
	out[0] = '\0';
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
		} else if (sig_add(out, outlen, &len, "/", 1) != 0 || sig_add(out, outlen, &len, p, n) != 0) {
			return -1;
		}
		p += n;
	}
	if ((len == 0 || trailing) && sig_add(out, outlen, &len, "/", 1) != 0)
		return -1;
	if (len > 1 && out[len - 1] == '/' && out[len - 2] == '/')
		out[--len] = '\0';
	return 0;
}

/* Header value trimmed, runs of spaces collapsed to one (appended at *len). */
static int
sig_header_value(const char *v, char *out, size_t outlen, size_t *len)
{
	bool space = false, any = false;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = any;
			continue;
		}
		if (space && sig_add(out, outlen, len, " ", 1) != 0)
			return -1;
		if (sig_add(out, outlen, len, v, 1) != 0)
			return -1;
		space = false;
		any = true;
	}
	return 0;
}

struct sig_kv { char *k, *v; const char *raw; size_t order; };

static int
sig_kv_cmp(const void *a, const void *b)
{
	const struct sig_kv *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	if (c == 0)
		c = strcmp(x->v, y->v);
	if (c == 0)
		c = x->order < y->order ? -1 : x->order > y->order;
	return c;
}

static void
sig_kv_free(struct sig_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].k);
		free(kv[i].v);
	}
}

int
s3_sigv4_canonical_request(const char *method, const char *path, const struct s3_sig_param *q,
                           size_t nq, const struct s3_sig_param *h, size_t nh,
                           const char *payload_hash, enum s3_sig_path mode, char *out, size_t outlen,
                           char *signed_headers, size_t shlen)
{
	struct sig_kv kv[SIG_MAX_PARAMS > SIG_MAX_HEADERS ? SIG_MAX_PARAMS : SIG_MAX_HEADERS];
	char norm[2048], tmp[4096];
	size_t len = 0, shl = 0, n = 0;
	int rc = -1;

	if (nq > SIG_MAX_PARAMS || nh > SIG_MAX_HEADERS || outlen == 0 || shlen == 0)
		return -1;
	out[0] = signed_headers[0] = '\0';
	if (sig_add(out, outlen, &len, method, strlen(method)) != 0 || sig_add(out, outlen, &len, "\n", 1) != 0)
		return -1;
	if (mode == S3_SIG_PATH_NORMALIZE) {
		if (sig_normalize(path, norm, sizeof(norm)) != 0)
			return -1;
		path = norm;
	}
	if (path[0] == '\0')
		path = "/";
	if ((mode == S3_SIG_PATH_ENCODED ? sig_add(out, outlen, &len, path, strlen(path))
	                                 : sig_encode(path, strlen(path), true, out, outlen, &len)) != 0 ||
	    sig_add(out, outlen, &len, "\n", 1) != 0)
		return -1;
	/* Query: names and values encoded, then sorted by name, then value. */
	for (n = 0; n < nq; n++) {
		size_t kl = 0, vl = 0;

		kv[n].k = kv[n].v = NULL;
		kv[n].order = n;
		if (sig_encode(q[n].name, strlen(q[n].name), false, tmp, sizeof(tmp), &kl) != 0 ||
		    (kv[n].k = strdup(tmp)) == NULL ||
		    sig_encode(q[n].value ? q[n].value : "", q[n].value ? strlen(q[n].value) : 0, false,
		               tmp, sizeof(tmp), &vl) != 0 || (kv[n].v = strdup(tmp)) == NULL) {
			n++;
			goto out;
		}
	}
	qsort(kv, n, sizeof(kv[0]), sig_kv_cmp);
	for (size_t i = 0; i < n; i++)
		if ((i > 0 && sig_add(out, outlen, &len, "&", 1) != 0) ||
		    sig_add(out, outlen, &len, kv[i].k, strlen(kv[i].k)) != 0 ||
		    sig_add(out, outlen, &len, "=", 1) != 0 ||
		    sig_add(out, outlen, &len, kv[i].v, strlen(kv[i].v)) != 0)
			goto out;
	if (sig_add(out, outlen, &len, "\n", 1) != 0)
		goto out;
	sig_kv_free(kv, n);
	n = 0;
	/* Headers: lowercase names sorted (stable), duplicates joined by ','. */
	for (n = 0; n < nh; n++) {
		size_t kl = strlen(h[n].name);

		kv[n].v = NULL;
		kv[n].order = n;
		kv[n].raw = h[n].value;
		if ((kv[n].k = strdup(h[n].name)) == NULL || (kv[n].v = strdup("")) == NULL) {
			n++;
			goto out;
		}
		for (size_t i = 0; i < kl; i++)
			kv[n].k[i] = (char)tolower((unsigned char)kv[n].k[i]);
	}
	qsort(kv, n, sizeof(kv[0]), sig_kv_cmp);
	for (size_t i = 0; i < n; i++) {
		bool first = i == 0 || strcmp(kv[i].k, kv[i - 1].k) != 0;

		if (first) {
			if (i > 0 && sig_add(out, outlen, &len, "\n", 1) != 0)
				goto out;
			if (sig_add(out, outlen, &len, kv[i].k, strlen(kv[i].k)) != 0 ||
			    sig_add(out, outlen, &len, ":", 1) != 0)
				goto out;
			if ((shl > 0 && sig_add(signed_headers, shlen, &shl, ";", 1) != 0) ||
			    sig_add(signed_headers, shlen, &shl, kv[i].k, strlen(kv[i].k)) != 0)
				goto out;
		} else if (sig_add(out, outlen, &len, ",", 1) != 0) {
			goto out;
		}
		if (sig_header_value(kv[i].raw, out, outlen, &len) != 0)
			goto out;
	}
	if (sig_add(out, outlen, &len, "\n\n", 2) != 0 ||
	    sig_add(out, outlen, &len, signed_headers, shl) != 0 ||
	    sig_add(out, outlen, &len, "\n", 1) != 0 ||
	    sig_add(out, outlen, &len, payload_hash, strlen(payload_hash)) != 0)
		goto out;
	rc = 0;
out:
	sig_kv_free(kv, n);
	return rc;
}

int
s3_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *creq,
                        char *out, size_t outlen)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[65];

	crypto_hash_sha256(h, (const unsigned char *)creq, strlen(creq));
	util_hex(hex, h, sizeof(h));
	return util_snprintf(out, outlen, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, hex) < 0 ? -1 : 0;
}

static void
hmac(unsigned char out[32], const void *key, size_t klen, const char *msg)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, strlen(msg));
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int
s3_sigv4_signature(const char *secret, const char *date8, const char *region, const char *service,
                   const char *sts, char hex[65])
{
	char k0[200];
	unsigned char a[32], b[32];

	if (util_snprintf(k0, sizeof(k0), "AWS4%s", secret) < 0)
		return -1;
	hmac(a, k0, strlen(k0), date8);
	hmac(b, a, sizeof(a), region);
	hmac(a, b, sizeof(b), service);
	hmac(b, a, sizeof(a), "aws4_request");
	hmac(a, b, sizeof(b), sts);
	util_hex(hex, a, sizeof(a));
	sodium_memzero(k0, sizeof(k0));
	sodium_memzero(b, sizeof(b));
	return 0;
}

bool
s3_key_ok(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (n == 0 || n > S3_KEY_MAX)
		return false;
	/* Segments between '/': none empty, none "." or ".." (a URL client
	 * would fold them: the signed path would not be the one requested). */
	for (const char *p = key;;) {
		size_t sl = strcspn(p, "/");

		if (sl == 0 || (sl == 1 && p[0] == '.') || (sl == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (p[sl] == '\0')
			return true;
		p += sl + 1;
	}
}

int
s3_presign(const char *method, const char *endpoint, const char *region, const char *bucket,
           const char *key, const char *access_key, const char *secret_key, long expires,
           time_t now, char *out, size_t outlen)
{
	/* base, "/", the bucket (63 bytes) and the key, each byte encoded to 3 at most */
	char host[512], base[512], path[512 + 3 * 63 + 3 * S3_KEY_MAX + 4], date8[9], amz[17], scope[256], cred[512], exp[24];
	char creq[8192], sts[512], sh[64], sig[65];
	const char *h, *slash;
	size_t pl = 0, hl;
	struct tm tm;
	struct s3_sig_param q[5], hdr[1];

	if (method == NULL || (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0) ||
	    endpoint == NULL || key == NULL || key[0] == '\0' || access_key == NULL ||
	    secret_key == NULL || expires < 1 || expires > 604800 || gmtime_r(&now, &tm) == NULL ||
	    !s3_key_ok(key))
		return -1;
	if (region == NULL || region[0] == '\0')
		region = "us-east-1";
	if (strncmp(endpoint, "http://", 7) == 0)
		h = endpoint + 7;
	else if (strncmp(endpoint, "https://", 8) == 0)
		h = endpoint + 8;
	else
		return -1;
	hl = strcspn(h, "/?#");
	if (hl == 0 || hl >= sizeof(host) || h[hl] == '?' || h[hl] == '#')
		return -1;
	/* The Host header a client sends: lowercase, no default port. */
	for (size_t i = 0; i < hl; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[hl] = '\0';
	if ((h == endpoint + 7 && hl > 3 && strcmp(host + hl - 3, ":80") == 0) ||
	    (h == endpoint + 8 && hl > 4 && strcmp(host + hl - 4, ":443") == 0))
		*strrchr(host, ':') = '\0';
	/* The endpoint's own path (a base), without its trailing slash. */
	slash = h + hl;
	if (util_snprintf(base, sizeof(base), "%s", slash) < 0)
		return -1;
	while (base[0] != '\0' && base[strlen(base) - 1] == '/')
		base[strlen(base) - 1] = '\0';
	path[0] = '\0';
	if (sig_add(path, sizeof(path), &pl, base, strlen(base)) != 0 ||
	    (bucket != NULL && bucket[0] != '\0' &&
	     (sig_add(path, sizeof(path), &pl, "/", 1) != 0 ||
	      sig_encode(bucket, strlen(bucket), false, path, sizeof(path), &pl) != 0)) ||
	    sig_add(path, sizeof(path), &pl, "/", 1) != 0 ||
	    sig_encode(key, strlen(key), true, path, sizeof(path), &pl) != 0)
		return -1;
	if (strftime(date8, sizeof(date8), "%Y%m%d", &tm) == 0 ||
	    strftime(amz, sizeof(amz), "%Y%m%dT%H%M%SZ", &tm) == 0 ||
	    util_snprintf(scope, sizeof(scope), "%s/%s/s3/aws4_request", date8, region) < 0 ||
	    util_snprintf(cred, sizeof(cred), "%s/%s", access_key, scope) < 0 ||
	    util_snprintf(exp, sizeof(exp), "%ld", expires) < 0)
		return -1;
	q[0] = (struct s3_sig_param){"X-Amz-Algorithm", "AWS4-HMAC-SHA256"};
	q[1] = (struct s3_sig_param){"X-Amz-Credential", cred};
	q[2] = (struct s3_sig_param){"X-Amz-Date", amz};
	q[3] = (struct s3_sig_param){"X-Amz-Expires", exp};
	q[4] = (struct s3_sig_param){"X-Amz-SignedHeaders", "host"};
	hdr[0] = (struct s3_sig_param){"host", host};
	/* The path is already encoded: signed as is (S3 encodes once). */
	if (s3_sigv4_canonical_request(method, path, q, 5, hdr, 1, "UNSIGNED-PAYLOAD",
	                               S3_SIG_PATH_ENCODED, creq, sizeof(creq), sh, sizeof(sh)) != 0)
		return -1;
	if (s3_sigv4_string_to_sign(amz, scope, creq, sts, sizeof(sts)) != 0 ||
	    s3_sigv4_signature(secret_key, date8, region, "s3", sts, sig) != 0)
		return -1;
	{
		/* The canonical query line is the URL's query. */
		const char *ql = strchr(creq, '\n') + 1;
		size_t qn;

		ql = strchr(ql, '\n') + 1;
		qn = strcspn(ql, "\n");
		if (util_snprintf(out, outlen, "%.*s%s?%.*s&X-Amz-Signature=%s",
		                  (int)(h - endpoint + hl), endpoint, path, (int)qn, ql, sig) < 0)
			return -1;
	}
	sodium_memzero(creq, sizeof(creq));
	return 0;
}

/* ------------------------------------------------ any request, listing */

int
s3_request(const struct objstore_dest *d, const char *method, const char *url, const char *header,
           const void *body, size_t n, size_t max, int flags, struct s3_answer *a, char *err,
           size_t errlen)
{
	struct s3_resp *r = calloc(1, sizeof(*r));
	unsigned char sha[crypto_hash_sha256_BYTES];
	char hex[65];
	CURL *c;
	int rc = -1;

	a->status = 0;
	a->body = NULL;
	a->len = 0;
	if (r == NULL || (c = new_curl(err, errlen)) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		free(r);
		return -1;
	}
	crypto_hash_sha256(sha, body, body ? n : 0);
	util_hex(hex, sha, sizeof(sha));
	r->dyn_max = max;
	r->req_header = header;
	for (int attempt = 1;; attempt++) {
		int prc = s3_perform(c, d, method, url, body, body ? n : 0, hex, r, err, errlen);

		if ((prc == 0 && !retryable(prc, r)) || attempt >= S3_ATTEMPTS || r->dyn_over ||
		    (flags & S3_ONCE)) {
			rc = prc;
			break;
		}
		sleep(1u << (attempt - 1));
	}
	curl_easy_cleanup(c);
	if (rc == 0) {
		a->status = r->status;
		a->len = r->dyn_len;
		a->body = r->dyn != NULL ? r->dyn : strdup("");
		r->dyn = NULL;
		if (a->body == NULL) {
			util_snprintf(err, errlen, "out of memory");
			rc = -1;
		}
	}
	free(r->dyn);
	free(r);
	return rc;
}

/* The text of the first <tag> of [p, end) (an element of one <Contents>). */
static bool
xml_field(const char *p, const char *end, const char *tag, char *out, size_t outlen)
{
	return xml_text(p, (size_t)(end - p), tag, out, outlen);
}

int
s3_list_parse(const char *xml, size_t len, s3_list_cb cb, void *ud, bool *truncated,
              char *err, size_t errlen)
{
	const char *p = xml, *end = xml + len;
	char tr[16], key[S3_KEY_MAX * 2], size[32], etag[128], mtime[64];

	*truncated = false;
	if (memmem(xml, len, "<ListBucketResult", 17) == NULL) {
		util_snprintf(err, errlen, "the store answered no ListBucketResult");
		return -1;
	}
	for (;;) {
		const char *a = memmem(p, (size_t)(end - p), "<Contents>", 10), *b;
		int64_t sz = 0;

		if (a == NULL)
			break;
		b = memmem(a, (size_t)(end - a), "</Contents>", 11);
		if (b == NULL) {
			util_snprintf(err, errlen, "the store answered a truncated listing");
			return -1;
		}
		if (!xml_field(a, b, "Key", key, sizeof(key)) || key[0] == '\0' ||
		    !xml_field(a, b, "Size", size, sizeof(size)) ||
		    util_parse_i64(size, 0, INT64_MAX, &sz) != 0) {
			util_snprintf(err, errlen, "the store answered an object without key or size");
			return -1;
		}
		if (!xml_field(a, b, "ETag", etag, sizeof(etag)))
			etag[0] = '\0';
		if (!xml_field(a, b, "LastModified", mtime, sizeof(mtime)))
			mtime[0] = '\0';
		util_sanitize(etag, 0);
		util_sanitize(mtime, 0);
		if (cb(ud, key, (uint64_t)sz, etag, mtime) != 0) {
			util_snprintf(err, errlen, "the listing was stopped");
			return -1;
		}
		p = b + 11;
	}
	/* IsTruncated sits before the first <Contents>, outside any key. */
	{
		const char *first = memmem(xml, len, "<Contents>", 10);
		size_t head = first ? (size_t)(first - xml) : len;

		*truncated = xml_text(xml, head, "IsTruncated", tr, sizeof(tr)) && strcmp(tr, "true") == 0;
	}
	return 0;
}

int
s3_list(const struct objstore_dest *d, const char *prefix, const char *start_after, int max,
        s3_list_cb cb, void *ud, bool *truncated, char *err, size_t errlen)
{
	char q[3 * 2 * S3_KEY_MAX + 128], url[8192];
	char *ep = NULL, *es = NULL;
	struct s3_answer a;
	CURL *c;
	int rc = -1;

	*truncated = false;
	if (max < 1 || max > 1000 || (prefix && strlen(prefix) > S3_KEY_MAX) ||
	    (start_after && strlen(start_after) > S3_KEY_MAX)) {
		util_snprintf(err, errlen, "bad listing arguments");
		return -1;
	}
	if ((c = new_curl(err, errlen)) == NULL)
		return -1;
	/* Names in order and values encoded: libcurl signs the query as is. */
	if ((prefix && *prefix && (ep = curl_easy_escape(c, prefix, 0)) == NULL) ||
	    (start_after && *start_after && (es = curl_easy_escape(c, start_after, 0)) == NULL) ||
	    util_snprintf(q, sizeof(q), "list-type=2&max-keys=%d%s%s%s%s", max,
	                  ep ? "&prefix=" : "", ep ? ep : "", es ? "&start-after=" : "", es ? es : "") < 0 ||
	    s3_url_of(d, "", q, url, sizeof(url)) != 0) {
		util_snprintf(err, errlen, "URL too long");
		goto out;
	}
	if (s3_request(d, "GET", url, NULL, NULL, 0, S3_LIST_MAX, 0, &a, err, errlen) != 0)
		goto out;
	if (a.status != 200) {
		s3_error_text(a.status, a.body, a.len, err, errlen);
		scrub(d, err);
	} else {
		rc = s3_list_parse(a.body, a.len, cb, ud, truncated, err, errlen);
	}
	free(a.body);
out:
	curl_free(ep);
	curl_free(es);
	curl_easy_cleanup(c);
	return rc;
}
