/*
 * fingerprint.c - the grouping of error events (contract in fingerprint.h).
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"
#include "fingerprint.h"
#include "json.h"
#include "util.h"

/* Exceptions of one event looked at (a chain longer than this is cut). */
#define EXC_MAX 32
/* Bytes of a message normalised for grouping. */
#define NORM_IN_MAX 16384
/* The longest quoted string replaced (a longer one is left as it is). */
#define QUOTE_MAX 500

/* ------------------------------------------------------------ helpers */

static const cJSON *
obj(const cJSON *o, const char *key)
{
	const cJSON *x = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return cJSON_IsObject(x) ? x : NULL;
}

/* A copy of s in a, at most max bytes, cut at a UTF-8 boundary; first_line
 * stops at the first newline. */
static char *
cut(struct arena *a, const char *s, size_t max, bool first_line)
{
	size_t n = first_line ? strcspn(s, "\r\n") : strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	return arena_strndup(a, s, n);
}

/* "{{ default }}", spaces optional, any case. */
static bool
is_default_marker(const char *s)
{
	char   t[32];
	size_t n = 0;

	for (; *s && n < sizeof(t) - 1; s++)
		if (!isspace((unsigned char)*s))
			t[n++] = (char)tolower((unsigned char)*s);
	t[n] = '\0';
	return *s == '\0' && strcmp(t, "{{default}}") == 0;
}

/* The component s (n bytes) into h. */
static void
hash_addn(crypto_hash_sha256_state *h, const char *s, size_t n)
{
	static const unsigned char nul = 0;

	/* The NUL separates components: ("ab","c") and ("a","bc") differ. */
	crypto_hash_sha256_update(h, (const unsigned char *)s, n);
	crypto_hash_sha256_update(h, &nul, 1);
}

static void
hash_add(crypto_hash_sha256_state *h, const char *s)
{
	hash_addn(h, s, strlen(s));
}

static const char *message_of(const cJSON *ev, bool for_grouping);

/* A synthetic exception (@sentry/node's captureMessage: no type, the
 * message as its value, the call site's stack) of an event with a message:
 * the event groups and is titled by its message. */
static bool
synthetic(const cJSON *ev, const cJSON *exc)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(exc, "mechanism");

	return cJSON_IsObject(m) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "synthetic")) &&
	    message_of(ev, false) != NULL;
}

/* The exceptions of ev into out (oldest first, the main one last);
 * grouping: without the synthetic ones. */
static int
exceptions(const cJSON *ev, const cJSON **out, bool grouping)
{
	const cJSON *x = cJSON_IsObject(ev) ? cJSON_GetObjectItemCaseSensitive(ev, "exception") : NULL;
	const cJSON *it;
	int          n = 0;

	if (cJSON_IsObject(x) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(x, "values")))
		x = cJSON_GetObjectItemCaseSensitive(x, "values");
	else if (cJSON_IsObject(x)) {
		out[0] = x;
		return (util_json_str(x, "type") || util_json_str(x, "value")) && !(grouping && synthetic(ev, x)) ? 1 : 0;
	}
	cJSON_ArrayForEach(it, x) {
		if (!cJSON_IsObject(it) || (grouping && synthetic(ev, it)))
			continue;
		if (n == EXC_MAX)	/* keep the newest: shift the oldest out */
			memmove(out, out + 1, (EXC_MAX - 1) * sizeof(*out)), n--;
		out[n++] = it;
	}
	return n;
}

static const cJSON *
frames_of(const cJSON *exc)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj(exc, "stacktrace"), "frames");

	return cJSON_IsArray(f) ? f : NULL;
}

static bool
in_app(const cJSON *frame)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(frame, "in_app"));
}

/* The frame's place: its module, else its filename (or abs_path) without a
 * query string and ":line[:col]" suffix; *n its length (no copy: it points
 * into f). */
static const char *
frame_place(const cJSON *f, size_t *n)
{
	const char *m = util_json_str(f, "module"), *fn;

	if (m != NULL) {
		*n = strlen(m);
		return m;
	}
	if ((fn = util_json_str(f, "filename")) == NULL && (fn = util_json_str(f, "abs_path")) == NULL) {
		*n = 0;
		return "";
	}
	*n = strcspn(fn, "?#");
	for (int k = 0; k < 2; k++) {	/* ":12:7", ":12" */
		size_t e = *n;

		while (e > 0 && isdigit((unsigned char)fn[e - 1]))
			e--;
		if (e < *n && e > 0 && fn[e - 1] == ':')
			*n = e - 1;
		else
			break;
	}
	return fn;
}

static const char *
frame_function(const cJSON *f)
{
	const char *fn = util_json_str(f, "function");

	return fn ? fn : "?";
}

/* The message for grouping (template first) and for display (formatted first). */
static const char *
message_of(const cJSON *ev, bool for_grouping)
{
	const cJSON *m = cJSON_IsObject(ev) ? cJSON_GetObjectItemCaseSensitive(ev, "message") : NULL;
	const cJSON *le = obj(ev, "logentry");
	const char  *tmpl = util_json_str(le, "message"), *fmt = util_json_str(le, "formatted");

	if (cJSON_IsString(m) && m->valuestring[0] != '\0')
		fmt = fmt ? fmt : m->valuestring;
	else if (cJSON_IsObject(m)) {
		tmpl = tmpl ? tmpl : util_json_str(m, "message");
		fmt = fmt ? fmt : util_json_str(m, "formatted");
	}
	if (for_grouping)
		return tmpl ? tmpl : fmt;
	return fmt ? fmt : tmpl;
}

/* The frames of exc that count (in-app ones when the event has any). */
static int
frames_counted(const cJSON *exc, bool any_in_app)
{
	const cJSON *f;
	int          n = 0;

	cJSON_ArrayForEach(f, frames_of(exc))
		n += !any_in_app || in_app(f);
	return n;
}

/*
 * The default components into h: exceptions (type + the last FP_FRAMES_MAX
 * frames that count of each), else the normalised message, else
 * "<unlabeled event>".  Linear in the event's size, no allocation per frame.
 */
static void
hash_default(crypto_hash_sha256_state *h, struct arena *a, const cJSON *ev)
{
	const cJSON *exc[EXC_MAX], *f;
	int          n = exceptions(ev, exc, true);
	bool         any_in_app = false, any = false;
	const char  *msg;

	for (int i = 0; i < n && !any_in_app; i++)
		cJSON_ArrayForEach(f, frames_of(exc[i]))
			if ((any_in_app = in_app(f)))
				break;
	for (int i = 0; i < n; i++) {
		const char *type = util_json_str(exc[i], "type"), *value = util_json_str(exc[i], "value");
		int         skip = frames_counted(exc[i], any_in_app) - FP_FRAMES_MAX;
		bool        framed = false;

		if (type == NULL && value == NULL && frames_of(exc[i]) == NULL)
			continue;
		if (!any)
			hash_add(h, "exception");
		any = true;
		hash_add(h, type ? type : "");
		cJSON_ArrayForEach(f, frames_of(exc[i])) {
			const char *place;
			size_t      len;

			if ((any_in_app && !in_app(f)) || skip-- > 0)
				continue;
			place = frame_place(f, &len);
			hash_addn(h, place, len);
			hash_add(h, frame_function(f));
			framed = true;
		}
		if (!framed)
			hash_add(h, value ? fp_normalise(a, value) : "");
	}
	if (any)
		return;
	if ((msg = message_of(ev, true)) != NULL) {
		hash_add(h, "message");
		hash_add(h, fp_normalise(a, msg));
		return;
	}
	hash_add(h, "<unlabeled event>");
}

static void
hash_hex(crypto_hash_sha256_state *h, char out[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256_final(h, d);
	sodium_bin2hex(out, 65, d, sizeof(d));
}

/* The default fingerprint into out. */
static void
fingerprint_default(struct arena *a, const cJSON *ev, char out[65])
{
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	hash_default(&h, a, ev);
	hash_hex(&h, out);
}

/* An SDK's fingerprint: its first FP_CUSTOM_MAX entries, each "{{ default }}"
 * standing for the default fingerprint (computed once). */
static void
fingerprint(struct arena *a, const cJSON *ev, char out[65])
{
	const cJSON              *fp = cJSON_GetObjectItemCaseSensitive(ev, "fingerprint"), *x;
	crypto_hash_sha256_state  h;
	char                      def[65] = "";
	bool                      custom = false;
	int                       k = 0;

	cJSON_ArrayForEach(x, (cJSON_IsArray(fp) ? fp : NULL))
		if ((custom = cJSON_IsString(x) || cJSON_IsNumber(x)) || ++k == FP_CUSTOM_MAX)
			break;
	if (!custom) {
		fingerprint_default(a, ev, out);
		return;
	}
	crypto_hash_sha256_init(&h);
	hash_add(&h, "custom");
	k = 0;
	cJSON_ArrayForEach(x, fp) {
		char num[32];

		if (k++ == FP_CUSTOM_MAX)
			break;
		if (cJSON_IsString(x) && is_default_marker(x->valuestring)) {
			if (def[0] == '\0')
				fingerprint_default(a, ev, def);
			hash_add(&h, "default");
			hash_add(&h, def);
		} else if (cJSON_IsString(x))
			hash_add(&h, x->valuestring);
		else if (cJSON_IsNumber(x) && util_snprintf(num, sizeof(num), "%g", x->valuedouble) > 0)
			hash_add(&h, num);
	}
	hash_hex(&h, out);
}

/* --------------------------------------------------- title, culprit, level */

/* The top frame (the last) that counts: in-app when any is. */
static const cJSON *
top_frame(const cJSON *exc)
{
	const cJSON *f, *top = NULL, *top_app = NULL;

	cJSON_ArrayForEach(f, frames_of(exc)) {
		if (!cJSON_IsObject(f))
			continue;
		top = f;
		if (in_app(f))
			top_app = f;
	}
	return top_app ? top_app : top;
}

static const char *
level_of(const cJSON *ev)
{
	static const struct { const char *in, *out; } map[] = {
		{"fatal", "fatal"}, {"critical", "fatal"}, {"error", "error"}, {"warning", "warning"},
		{"warn", "warning"}, {"info", "info"}, {"log", "info"}, {"debug", "debug"},
	};
	const char *l = util_json_str(ev, "level");

	for (size_t i = 0; l && i < sizeof(map) / sizeof(*map); i++)
		if (util_ieq(l, map[i].in))
			return map[i].out;
	return "error";
}

static int
digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static double
timestamp_of(const cJSON *ev)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "timestamp");
	double       v;

	if (cJSON_IsNumber(t))
		return isfinite(t->valuedouble) && t->valuedouble > 0 && t->valuedouble < 1e11 ?
		    t->valuedouble : 0;
	/* RFC 3339 with a zone (the Python SDK's "...Z"), core/json.c's parser. */
	return cJSON_IsString(t) && json_time_epoch(t->valuestring, &v) && v > 0 ? v : 0;
}

/* ------------------------------------------------------------ data */

static void
add_copy(cJSON *d, const char *key, const cJSON *x)
{
	if (x != NULL)
		cJSON_AddItemToObject(d, key, cJSON_Duplicate(x, true));
}

/* A tag's value as a string (Sentry's are strings; numbers and booleans
 * are written as such). */
static cJSON *
tag_value(const cJSON *v)
{
	char num[32];

	if (cJSON_IsString(v))
		return cJSON_CreateString(v->valuestring);
	if (cJSON_IsNumber(v) && util_snprintf(num, sizeof(num), "%g", v->valuedouble) > 0)
		return cJSON_CreateString(num);
	if (cJSON_IsBool(v))
		return cJSON_CreateString(cJSON_IsTrue(v) ? "true" : "false");
	return NULL;
}

/* tags as {k: v}, from an object, a list of [k, v] pairs or of {key, value}:
 * the first FP_TAGS_MAX entries (a later duplicate key replaces an earlier
 * one: a search of at most FP_TAGS_MAX keys per entry). */
static cJSON *
tags_of(const cJSON *ev)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "tags"), *x;
	cJSON       *o = cJSON_CreateObject();
	int          seen = 0;

	cJSON_ArrayForEach(x, (cJSON_IsObject(t) || cJSON_IsArray(t) ? t : NULL)) {
		const char  *k = NULL;
		const cJSON *v = NULL;
		cJSON       *s;

		if (seen++ == FP_TAGS_MAX)
			break;
		if (cJSON_IsObject(t)) {
			k = x->string;
			v = x;
		} else if (cJSON_IsArray(x) && cJSON_GetArraySize(x) == 2 &&
		    cJSON_IsString(cJSON_GetArrayItem(x, 0))) {
			k = cJSON_GetArrayItem(x, 0)->valuestring;
			v = cJSON_GetArrayItem(x, 1);
		} else if (util_json_str(x, "key") != NULL) {
			k = util_json_str(x, "key");
			v = cJSON_GetObjectItemCaseSensitive(x, "value");
		}
		if (k == NULL || (s = tag_value(v)) == NULL)
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(o, k);
		cJSON_AddItemToObject(o, k, s);
	}
	return o;
}

/* The last max objects of list (an array, or {"values": [...]}), without
 * their member drop (NULL: none). */
static cJSON *
tail_of(const cJSON *list, int max, const char *drop)
{
	cJSON       *out = cJSON_CreateArray();
	const cJSON *x;
	int          n, skip;

	if (cJSON_IsObject(list))
		list = cJSON_GetObjectItemCaseSensitive(list, "values");
	if (!cJSON_IsArray(list))
		return out;
	n = cJSON_GetArraySize(list);
	skip = n > max ? n - max : 0;
	cJSON_ArrayForEach(x, list) {
		cJSON *c;

		if (skip-- > 0 || !cJSON_IsObject(x) || (c = cJSON_Duplicate(x, true)) == NULL)
			continue;
		if (drop != NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(c, drop);
		cJSON_AddItemToArray(out, c);
	}
	return out;
}

static cJSON *
exception_data(const cJSON *const *exc, int n)
{
	cJSON *out = cJSON_CreateArray();

	for (int i = 0; i < n; i++) {
		cJSON       *e = cJSON_CreateObject(), *st = cJSON_CreateObject();
		const char  *type = util_json_str(exc[i], "type"), *value = util_json_str(exc[i], "value");
		const char  *module = util_json_str(exc[i], "module");

		cJSON_AddItemToObject(e, "type", type ? cJSON_CreateString(type) : cJSON_CreateNull());
		cJSON_AddItemToObject(e, "value", value ? cJSON_CreateString(value) : cJSON_CreateNull());
		cJSON_AddItemToObject(e, "module", module ? cJSON_CreateString(module) :
		    cJSON_CreateNull());
		add_copy(e, "mechanism", obj(exc[i], "mechanism"));
		cJSON_AddItemToObject(st, "frames", tail_of(frames_of(exc[i]), FP_FRAMES_MAX, "vars"));
		cJSON_AddItemToObject(e, "stacktrace", st);
		cJSON_AddItemToArray(out, e);
	}
	return out;
}

static cJSON *
data_of(const cJSON *ev, const cJSON *const *exc, int n)
{
	static const char *const strings[] = {"server_name", "logger", "platform", "transaction", "dist"};
	static const char *const objects[] = {"user", "contexts", "request", "extra"};
	cJSON       *d = cJSON_CreateObject(), *sdk = cJSON_CreateObject();
	const cJSON *s = obj(ev, "sdk");

	cJSON_AddItemToObject(d, "exception", exception_data(exc, n));
	cJSON_AddItemToObject(d, "tags", tags_of(ev));
	for (size_t i = 0; i < sizeof(objects) / sizeof(*objects); i++)
		add_copy(d, objects[i], obj(ev, objects[i]));
	cJSON_AddItemToObject(d, "breadcrumbs", tail_of(cJSON_GetObjectItemCaseSensitive(ev,
	    "breadcrumbs"), FP_BREADCRUMBS_MAX, NULL));
	for (size_t i = 0; i < sizeof(strings) / sizeof(*strings); i++)
		if (util_json_str(ev, strings[i]) != NULL)
			cJSON_AddStringToObject(d, strings[i], util_json_str(ev, strings[i]));
	if (util_json_str(s, "name") != NULL)
		cJSON_AddStringToObject(sdk, "name", util_json_str(s, "name"));
	if (util_json_str(s, "version") != NULL)
		cJSON_AddStringToObject(sdk, "version", util_json_str(s, "version"));
	cJSON_AddItemToObject(d, "sdk", sdk);
	return d;
}

/* ------------------------------------------------------------ the event */

int
fp_event_read(struct arena *a, const cJSON *ev, struct fp_event *e)
{
	const cJSON *exc[EXC_MAX], *all[EXC_MAX], *top;
	int          n, n_all;
	const char  *msg, *tx;

	if (!cJSON_IsObject(ev))
		return -1;
	memset(e, 0, sizeof(*e));
	n = exceptions(ev, exc, true);
	n_all = exceptions(ev, all, false);
	fingerprint(a, ev, e->fingerprint);
	msg = message_of(ev, false);
	e->title = "<unlabeled event>";
	e->culprit = "";
	if (n > 0) {
		const char *type = util_json_str(exc[n - 1], "type"), *value = util_json_str(exc[n - 1], "value");

		if (type && value)
			e->title = cut(a, arena_printf(a, "%s: %s", type, value), FP_TITLE_MAX, true);
		else if (type || value)
			e->title = cut(a, type ? type : value, FP_TITLE_MAX, true);
		if ((top = top_frame(exc[n - 1])) != NULL) {
			size_t      len;
			const char *place = frame_place(top, &len);

			e->culprit = cut(a, arena_printf(a, "%.*s in %s", (int)len, place,
			    frame_function(top)), FP_CULPRIT_MAX, false);
		}
	}
	if (n == 0 && msg != NULL)
		e->title = cut(a, msg, FP_TITLE_MAX, true);
	if (e->culprit[0] == '\0' && ((tx = util_json_str(ev, "culprit")) || (tx = util_json_str(ev, "transaction"))))
		e->culprit = cut(a, tx, FP_CULPRIT_MAX, false);
	e->level = level_of(ev);
	e->message = msg ? cut(a, msg, FP_MESSAGE_MAX, false) : e->title;
	e->release = util_json_str(ev, "release");
	e->environment = util_json_str(ev, "environment");
	e->timestamp = timestamp_of(ev);
	e->data = data_of(ev, all, n_all);
	return 0;
}

void
fp_event_malformed(struct arena *a, const char *payload, struct fp_event *e)
{
	crypto_hash_sha256_state h;

	memset(e, 0, sizeof(*e));
	crypto_hash_sha256_init(&h);
	hash_add(&h, "malformed");
	hash_hex(&h, e->fingerprint);
	e->title = "Malformed event";
	e->culprit = "";
	e->level = "error";
	e->message = "The event's payload is not a JSON object.";
	e->data = cJSON_CreateObject();
	cJSON_AddBoolToObject(e->data, "malformed", true);
	cJSON_AddStringToObject(e->data, "payload_head", cut(a, payload ? payload : "", 1000, false));
}

/* ------------------------------------------------------- normalisation */

static bool
alnum(unsigned char c)
{
	return isalnum(c) != 0;
}

/* The match of length n at s ends at a boundary. */
static size_t
ends(const char *s, size_t n)
{
	return n > 0 && !alnum((unsigned char)s[n]) ? n : 0;
}

static size_t
run(const char *s, int (*cls)(int))
{
	size_t n = 0;

	while (s[n] && cls((unsigned char)s[n]))
		n++;
	return n;
}

static size_t
m_timestamp(const char *s)
{
	size_t n;
	int    v;

	if (digits(s, 4, &v) || s[4] != '-' || digits(s + 5, 2, &v) || s[7] != '-' ||
	    digits(s + 8, 2, &v))
		return 0;
	n = 10;
	if ((s[n] == 'T' || s[n] == ' ') && !digits(s + n + 1, 2, &v) && s[n + 3] == ':' &&
	    !digits(s + n + 4, 2, &v)) {
		n += 6;
		if (s[n] == ':' && !digits(s + n + 1, 2, &v)) {
			n += 3;
			if (s[n] == '.' && isdigit((unsigned char)s[n + 1]))
				n += 1 + run(s + n + 1, isdigit);
		}
		if (s[n] == 'Z')
			n++;
		else if ((s[n] == '+' || s[n] == '-') && !digits(s + n + 1, 2, &v)) {
			n += 3;
			if (s[n] == ':' && !digits(s + n + 1, 2, &v))
				n += 3;
			else if (!digits(s + n, 2, &v))
				n += 2;
		}
	}
	return ends(s, n);
}

static size_t
m_uuid(const char *s)
{
	static const size_t groups[] = {8, 4, 4, 4, 12};
	size_t              n = 0;

	for (size_t g = 0; g < 5; g++) {
		if (g > 0 && s[n++] != '-')
			return 0;
		for (size_t i = 0; i < groups[g]; i++, n++)
			if (!isxdigit((unsigned char)s[n]))
				return 0;
	}
	return ends(s, n);
}

static size_t
m_ipv4(const char *s)
{
	size_t n = 0;

	for (int part = 0; part < 4; part++) {
		size_t d = run(s + n, isdigit);
		int    v;

		if (part > 0 && s[n - 1] != '.')
			return 0;
		if (d == 0 || d > 3 || digits(s + n, (int)d, &v) || v > 255)
			return 0;
		n += d;
		if (part < 3) {
			if (s[n] != '.')
				return 0;
			n++;
		}
	}
	return ends(s, n);
}

static int
hex_or_colon(int c)
{
	return isxdigit(c) || c == ':';
}

/* An IPv6 address: hex and colons, two colons at least, a digit, and a
 * letter or "::" (so that a time "10:30:00" stays numbers). */
static size_t
m_ipv6(const char *s)
{
	size_t n = run(s, hex_or_colon), colons = 0;
	bool   digit = false, letter = false, dcolon = false;

	while (n > 0 && s[n - 1] == ':' && !(n >= 2 && s[n - 2] == ':'))
		n--;	/* "fe80::1:" at the end of a sentence */
	for (size_t i = 0; i < n; i++) {
		colons += s[i] == ':';
		dcolon = dcolon || (s[i] == ':' && s[i + 1] == ':');
		digit = digit || isdigit((unsigned char)s[i]);
		letter = letter || isalpha((unsigned char)s[i]);
	}
	return colons >= 2 && digit && (letter || dcolon) && n >= 3 ? ends(s, n) : 0;
}

/* 0x1f..., or a run of 8+ hex characters with a digit and a letter. */
static size_t
m_hex(const char *s)
{
	size_t n;
	bool   digit = false, letter = false;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && (n = run(s + 2, isxdigit)) > 0)
		return ends(s, n + 2);
	n = run(s, isxdigit);
	for (size_t i = 0; i < n; i++) {
		digit = digit || isdigit((unsigned char)s[i]);
		letter = letter || isalpha((unsigned char)s[i]);
	}
	return n >= 8 && digit && letter ? ends(s, n) : 0;
}

static size_t
m_number(const char *s)
{
	size_t n = run(s, isdigit);

	if (n > 0 && s[n] == '.' && isdigit((unsigned char)s[n + 1]))
		n += 1 + run(s + n + 1, isdigit);
	return ends(s, n);
}

/* A quoted string at s (a quote after a boundary): its length with both
 * quotes, 0 when it does not close on this line within QUOTE_MAX. */
static size_t
m_quoted(const char *s)
{
	char q = s[0];

	for (size_t i = 1; i < QUOTE_MAX && s[i] && s[i] != '\n'; i++) {
		if (s[i] == '\\' && s[i + 1] != '\0') {
			i++;
			continue;
		}
		if (s[i] == q && !alnum((unsigned char)s[i + 1]))
			return i + 1;
	}
	return 0;
}

char *
fp_normalise(struct arena *a, const char *msg)
{
	static const struct {
		size_t (*match)(const char *);
		const char *as;
	} rules[] = {
		{m_timestamp, "<ts>"}, {m_uuid, "<uuid>"}, {m_ipv4, "<ip>"}, {m_ipv6, "<ip>"},
		{m_hex, "<hex>"}, {m_number, "<num>"},
	};
	char      *in = cut(a, msg, NORM_IN_MAX, false);
	struct buf b;

	buf_init(&b, a, strlen(in) + 16, NORM_IN_MAX * 6);
	for (size_t i = 0; in[i];) {
		bool   boundary = i == 0 || !alnum((unsigned char)in[i - 1]);
		size_t n = 0;

		if (boundary && (in[i] == '\'' || in[i] == '"' || in[i] == '`') &&
		    (n = m_quoted(in + i)) > 0) {
			char q[2] = {in[i], '\0'};

			buf_adds(&b, q);
			buf_adds(&b, "<str>");
			buf_adds(&b, q);
			i += n;
			continue;
		}
		for (size_t r = 0; boundary && r < sizeof(rules) / sizeof(*rules); r++)
			if ((n = rules[r].match(in + i)) > 0) {
				buf_adds(&b, rules[r].as);
				break;
			}
		if (n > 0) {
			i += n;
			continue;
		}
		/* Not a placeholder: copy up to the next boundary. */
		do
			buf_add(&b, in + i, 1);
		while (alnum((unsigned char)in[i++]) && alnum((unsigned char)in[i]));
	}
	return buf_ok(&b) ? b.data : in;
}
