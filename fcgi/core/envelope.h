/*
 * envelope.h - the Sentry envelope format (what SDKs POST to
 * /api/<dsn-id>/envelope/), parsed in place.
 *
 *   <envelope header: one line of JSON>\n
 *   <item header: one line of JSON with "type" and maybe "length">\n
 *   <payload: "length" bytes, else up to the next \n or the end>\n
 *   ... more items; the last newline is optional.
 *
 * Nothing is copied: items point into the caller's buffer.  The JSON
 * headers are parsed with cJSON and freed with the arena.
 */
#ifndef LAUNCHER_ENVELOPE_H
#define LAUNCHER_ENVELOPE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "arena.h"

/* More items than this is a malformed envelope (SDKs send a handful). */
#define ENVELOPE_MAX_ITEMS 100

struct envelope_item {
	const char  *type;	/* the item header's "type" */
	const cJSON *header;	/* the whole item header (filename, content_type, ...) */
	const char  *payload;	/* into the buffer; not NUL-terminated */
	size_t       len;
};

struct envelope {
	const cJSON          *header;	/* the envelope header (event_id, dsn, sdk, ...) */
	struct envelope_item  items[ENVELOPE_MAX_ITEMS];
	size_t                nitems;
};

/*
 * Parses buf[0..len) into *env (its JSON in a).  Returns NULL, or why the
 * bytes are not an envelope (a message safe to show): a header line that
 * is not a JSON object, an item without a string "type", a "length" that
 * is not a whole number or runs past the end, a payload not followed by a
 * newline or the end, more than ENVELOPE_MAX_ITEMS items.
 */
const char *envelope_parse(struct arena *a, const char *buf, size_t len, struct envelope *env);

/*
 * An event id as Launcher keeps it: 32 lowercase hex digits, from a
 * UUID in either form (with or without dashes, any case).  Writes
 * out[33]; false if s is no such id (out then untouched).
 */
int envelope_event_id(const char *s, char out[33]);

/*
 * The "event_id" of obj (an envelope header or an event) into out[33],
 * when out holds none yet ("") and obj's is one (envelope_event_id).  An
 * absent or malformed one leaves out as it was: the caller then generates
 * an id, as for an event that has none.
 */
void envelope_take_event_id(const cJSON *obj, char out[33]);

/*
 * A DSN public key as Launcher issues them (32 lowercase hex digits):
 * true and copied to out[33] if s is one.
 */
int envelope_key_valid(const char *s, char out[33]);
/*
 * The sentry_key of an X-Sentry-Auth (or Authorization) header value,
 * "Sentry sentry_key=<key>, sentry_version=7, sentry_client=...": true
 * and the key in out[33] if it holds one of the right shape.
 */
int envelope_auth_key(const char *header, char out[33]);

#endif
