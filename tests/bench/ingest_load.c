/*
 * tests/bench/ingest_load.c - the open-loop load generator of make
 * bench-ingest (tests/bench/ingest_bench.py builds and drives it).
 *
 *   ingest-load BASE_URL REQUESTS_FILE RATE CONNECTIONS [API_PATH API_HEADER API_RATE SECONDS]
 *
 * Sends the requests of REQUESTS_FILE (tests/bench/ingest_bench.py writes
 * it: real SDK requests replayed, one fresh event id each) to BASE_URL, the
 * i-th at t0 + i / RATE whatever the answers before it (open loop: a slow
 * server gets no respite, and a request that waits for a free connection
 * is timed from its scheduled moment, so queueing shows in the latency),
 * over at most CONNECTIONS keep-alive connections (libcurl multi, one
 * thread).  With API_PATH, GET BASE_URL API_PATH (header API_HEADER) at
 * API_RATE per second for SECONDS (at least as long as the ingest) on
 * connections of its own: the latency of the other routes under the load.
 * RATE 0 sends no ingest request (the idle reference).
 *
 * REQUESTS_FILE: per request a line "PATH\tHEADER\tHEADER...\tBODY_LENGTH\n"
 * then BODY_LENGTH bytes; POST.
 *
 * Writes one line per ingest request on stdout: "i status answered_ms
 * latency_us" (answered_ms: wall clock, ms since the epoch, for the grouping
 * lag; status 0: no answer), then "api latency_us service_us" per probe
 * (latency from its scheduled moment, service time from its start; -1 -1:
 * not 2xx) and "end sent N seconds S".  Exit 1 on a usage or setup
 * error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* API probes get connections of their own beyond CONNECTIONS: a probe
 * waits for the server, not for the load generator. */
enum { MAX_HEADERS = 8, API_CONNECTIONS = 16 };

struct req {
	char *path;
	char *headers[MAX_HEADERS];
	int nheaders;
	char *body;
	long body_len;
	/* results */
	long status;
	int64_t answered_ms;
	int64_t latency_us;
};

struct xfer {
	CURL *easy;
	struct curl_slist *hdrs;
	long index; /* request index, or -1 - probe number for an API probe */
	int64_t scheduled_us;
	int64_t started_us;
};

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Reads the whole file; the requests point into the returned buffer (the
 * caller keeps it for the run).  Returns the number of requests, -1 on a
 * malformed file. */
static long load(const char *file, char **buf_out, struct req **reqs_out)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	buf[size] = 0;
	long cap = 1024, n = 0;
	struct req *reqs = calloc((size_t)cap, sizeof *reqs);
	char *p = buf, *end = buf + size;
	while (reqs && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return -1;
		*nl = 0;
		if (n == cap) {
			struct req *r = realloc(reqs, (size_t)cap * 2 * sizeof *reqs);
			if (!r)
				return -1;
			memset(r + cap, 0, (size_t)cap * sizeof *reqs);
			reqs = r;
			cap *= 2;
		}
		struct req *r = &reqs[n];
		char *fields[MAX_HEADERS + 2];
		int nf = 0;
		for (char *s = p;; ) {
			char *tab = strchr(s, '\t');
			if (nf == MAX_HEADERS + 2)
				return -1;
			fields[nf++] = s;
			if (!tab)
				break;
			*tab = 0;
			s = tab + 1;
		}
		if (nf < 2 || parse_long(fields[nf - 1], 0, 10 << 20, &r->body_len) != 0)
			return -1;
		r->path = fields[0];
		for (int i = 1; i < nf - 1; i++)
			r->headers[r->nheaders++] = fields[i];
		r->body = nl + 1;
		if (r->body + r->body_len > end)
			return -1;
		p = r->body + r->body_len;
		n++;
	}
	if (!reqs)
		return -1;
	*buf_out = buf;
	*reqs_out = reqs;
	return n;
}

static char url[4096];

static struct xfer *start(CURLM *m, const char *base, const char *path, struct curl_slist *hdrs,
			  const char *body, long body_len, long index, int64_t scheduled_us)
{
	struct xfer *x = calloc(1, sizeof *x);
	int len = snprintf(url, sizeof url, "%s%s", base, path);
	if (!x || len < 0 || (size_t)len >= sizeof url)
		return NULL;
	x->easy = curl_easy_init();
	x->hdrs = hdrs;
	x->index = index;
	x->scheduled_us = scheduled_us;
	x->started_us = mono_us();
	curl_easy_setopt(x->easy, CURLOPT_URL, url);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, body_len);
	}
	curl_multi_add_handle(m, x->easy);
	return x;
}

int main(int argc, char **argv)
{
	long rate, conns, api_rate = 0, seconds = 0;
	if ((argc != 5 && argc != 9) || parse_long(argv[3], 0, 1000000, &rate) ||
	    parse_long(argv[4], 1, 4096, &conns) ||
	    (argc == 9 && (parse_long(argv[7], 1, 100000, &api_rate) ||
			   parse_long(argv[8], 1, 3600, &seconds)))) {
		fprintf(stderr, "usage: ingest-load BASE_URL REQUESTS_FILE RATE CONNECTIONS "
				"[API_PATH API_HEADER API_RATE SECONDS]\n");
		return 1;
	}
	const char *base = argv[1];
	char *buf = NULL;
	struct req *reqs = NULL;
	long n = load(argv[2], &buf, &reqs);
	if (n < 0) {
		fprintf(stderr, "ingest-load: %s: unreadable or malformed\n", argv[2]);
		return 1;
	}
	if (rate == 0)
		n = 0;
	long n_api = api_rate * seconds;
	int64_t *api_lat = calloc((size_t)n_api * 2 + 1, sizeof *api_lat);
	struct curl_slist *api_hdrs = argc == 9 ? curl_slist_append(NULL, argv[6]) : NULL;
	struct curl_slist **hdrs = calloc((size_t)n + 1, sizeof *hdrs);
	if (!api_lat || !hdrs || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return 1;
	for (long i = 0; i < n; i++) {
		/* libcurl would add "Expect: 100-continue" to bodies over 1 KB and
		 * a form Content-Type where the SDK sent none: neither is the SDK's. */
		hdrs[i] = curl_slist_append(NULL, "Expect:");
		hdrs[i] = curl_slist_append(hdrs[i], "Content-Type:");
		for (int h = 0; h < reqs[i].nheaders; h++)
			hdrs[i] = curl_slist_append(hdrs[i], reqs[i].headers[h]);
	}
	CURLM *m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns + API_CONNECTIONS);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, conns + API_CONNECTIONS);

	int64_t t0 = mono_us();
	long next = 0, next_api = 0, inflight = 0, inflight_api = 0, done = 0, done_api = 0;
	while (done < n || done_api < n_api) {
		int64_t now = mono_us();
		while (next < n && t0 + next * 1000000 / rate <= now && inflight < conns) {
			if (!start(m, base, reqs[next].path, hdrs[next], reqs[next].body, reqs[next].body_len,
				   next, t0 + next * 1000000 / rate))
				return 1;
			next++;
			inflight++;
		}
		while (next_api < n_api && t0 + next_api * 1000000 / api_rate <= now &&
		       inflight_api < API_CONNECTIONS) {
			if (!start(m, base, argv[5], api_hdrs, NULL, 0, -1 - next_api,
				   t0 + next_api * 1000000 / api_rate))
				return 1;
			next_api++;
			inflight_api++;
		}
		int running;
		curl_multi_perform(m, &running);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct xfer *x;
			long status = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
			int64_t lat = mono_us() - x->scheduled_us;
			if (x->index >= 0) {
				reqs[x->index].status = status;
				reqs[x->index].answered_ms = wall_ms();
				reqs[x->index].latency_us = lat;
				inflight--;
				done++;
			} else {
				int ok = status >= 200 && status < 300;
				api_lat[2 * (-1 - x->index)] = ok ? lat : -1;
				api_lat[2 * (-1 - x->index) + 1] = ok ? mono_us() - x->started_us : -1;
				inflight_api--;
				done_api++;
			}
			curl_multi_remove_handle(m, x->easy);
			curl_easy_cleanup(x->easy);
			free(x);
		}
		/* Sleep until the next scheduled request at most (1 ms floor of
		 * curl_multi_poll), or until a socket is ready. */
		int64_t wake = INT64_MAX;
		if (next < n && inflight < conns)
			wake = t0 + next * 1000000 / rate;
		if (next_api < n_api && inflight_api < API_CONNECTIONS && t0 + next_api * 1000000 / api_rate < wake)
			wake = t0 + next_api * 1000000 / api_rate;
		int64_t wait_ms = wake == INT64_MAX ? 100 : (wake - mono_us()) / 1000;
		if (wait_ms > 0)
			curl_multi_poll(m, NULL, 0, (int)(wait_ms > 100 ? 100 : wait_ms), NULL);
	}
	double secs = (double)(mono_us() - t0) / 1e6;
	for (long i = 0; i < n; i++)
		printf("%ld %ld %lld %lld\n", i, reqs[i].status, (long long)reqs[i].answered_ms,
		       (long long)reqs[i].latency_us);
	for (long i = 0; i < n_api; i++)
		printf("api %lld %lld\n", (long long)api_lat[2 * i], (long long)api_lat[2 * i + 1]);
	printf("end sent %ld seconds %.3f\n", n, secs);
	curl_multi_cleanup(m);
	curl_global_cleanup();
	return 0;
}
