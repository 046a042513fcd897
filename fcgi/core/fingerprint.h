/*
 * fingerprint.h - how error events become issues (API.md §17, README
 * "Error tracking: grouping"): the grouping fingerprint of a Sentry event
 * (the JSON an unmodified Sentry SDK sends, or the crash event
 * sql/044 writes), its title, culprit and level, and the normalised
 * occurrence that issue_events stores.  Pure: no I/O, no database;
 * launcher-issues is its one user, tests/unit/test_fingerprint.c its test.
 *
 * The fingerprint, the hex SHA-256 of a list of components:
 *   1. an SDK-sent "fingerprint" array wins: its first FP_CUSTOM_MAX
 *      entries, strings (numbers in %g), where "{{ default }}" stands for
 *      the default fingerprint below (computed once, whatever the number of
 *      markers);
 *   2. else the exceptions ("exception" as {"values": [...]}, as a list, or
 *      one object; chained exceptions all count): each one's type and its
 *      in-app frames (the last FP_FRAMES_MAX of each), a frame being its
 *      module (else its filename without a ":line[:col]" suffix or query
 *      string) and its function, never a line or column number.  When no frame of the event is marked
 *      in_app, every frame counts; an exception without frames adds its
 *      normalised value instead.  A synthetic exception (mechanism
 *      synthetic: @sentry/node's captureMessage) of an event that has a
 *      message does not count: the event is a message event;
 *   3. else the normalised message (fp_normalise): the template
 *      (logentry.message / message.message) when the SDK sent one, else the
 *      formatted text (message as a string, message.formatted,
 *      logentry.formatted);
 *   4. else "<unlabeled event>".
 */
#ifndef LAUNCHER_FINGERPRINT_H
#define LAUNCHER_FINGERPRINT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "arena.h"

/* Bytes kept of a title, a culprit, a message (cut at a UTF-8 boundary). */
#define FP_TITLE_MAX   1000
#define FP_CULPRIT_MAX 500
#define FP_MESSAGE_MAX 8192
/* Frames kept per exception and breadcrumbs per event in data (the last
 * ones: closest to the error).  A frame's "vars" (local variables, which
 * Python SDKs send) are not kept. */
#define FP_FRAMES_MAX      250
#define FP_BREADCRUMBS_MAX 100
/* Tags kept of an event (the first ones). */
#define FP_TAGS_MAX        200
/* Entries of an SDK's fingerprint array that count (the first ones). */
#define FP_CUSTOM_MAX      32

struct fp_event {
	char        fingerprint[65];	/* hex SHA-256 of the components */
	const char *title;	/* "Type: value", else the message's first line */
	const char *culprit;	/* "module in function" of the top in-app frame, else "" */
	const char *level;	/* fatal | error | warning | info | debug (default error) */
	const char *message;	/* the formatted message, else the title */
	const char *release;	/* NULL: none */
	const char *environment;	/* NULL: none */
	double      timestamp;	/* unix seconds; 0: none given or unreadable */
	cJSON      *data;	/* issue_events.data; the caller cJSON_Delete()s */
};

/*
 * Reads the event ev (a JSON object) into e; strings are allocated in a
 * (or point into ev: keep ev alive while e is used).  0, or -1 when ev is
 * not an object (e untouched).
 */
int fp_event_read(struct arena *a, const cJSON *ev, struct fp_event *e);

/*
 * e for a payload that is not a JSON object: the issue "Malformed event"
 * (one per application), level error, data {"malformed": true,
 * "payload_head": the first 1000 bytes}.
 */
void fp_event_malformed(struct arena *a, const char *payload, struct fp_event *e);

/*
 * msg (its first 16 KB) with what varies between occurrences replaced:
 * quoted strings '<str>', ISO timestamps <ts>, UUIDs <uuid>, IPv4 and IPv6
 * addresses <ip>, 0x... and long hex ids <hex>, numbers <num>.  A
 * placeholder starts at a boundary (not inside a word: "utf8" stays) and
 * ends at one.  In a.
 */
char *fp_normalise(struct arena *a, const char *msg);

#endif
