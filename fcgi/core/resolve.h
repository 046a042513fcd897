/*
 * resolve.h - the one resolver of references in environment variables: a
 * pure function of a merged map (no I/O, no request, no global state), used
 * by POST /env-vars/preview and by the deploy.
 *
 * Syntax of a value (any number of references, anywhere in the text):
 *   ${VAR}                VAR [A-Za-z_][A-Za-z0-9_]*: another key of the map
 *   ${kind.name.prop}     kind [a-z]+, name [a-z0-9][a-z0-9-]*, prop [a-z_]+:
 *                         handed to the lookup callback
 *   $${                   a literal "${" (read left to right: "$$${A}" is
 *                         "$" then the escape, i.e. the text "$${A}")
 * Any other "$" is literal.  The text that a reference is replaced with is
 * never scanned again: an escape inside a referenced value stays as the
 * referenced value resolved it ("$${x}" in A gives "${x}" in A and in ${A}).
 */
#ifndef LAUNCHER_CORE_RESOLVE_H
#define LAUNCHER_CORE_RESOLVE_H

#include <stddef.h>

#define RESOLVE_MAX_VALUE (1024 * 1024)   /* a resolved value longer than this is an error */
/*
 * The whole resolved map is at most this many bytes: without it, 1,000 keys
 * that each say ${BIG} of a 1 MiB BIG would allocate a gigabyte from a
 * 10 KiB request.  A process receives far less anyway (Linux: 128 KiB per
 * environment string, about 2 MiB for argv and environment together).
 */
#define RESOLVE_MAX_TOTAL (16 * 1024 * 1024)

struct resolve_var { const char *key; const char *value; };   /* the merged map, raw values */

/* Looks up ${kind.name.prop}. Returns 0 and *out (malloc'd, NUL-terminated), or -1 and
 * *why (malloc'd, e.g. "no database named nope in this environment"). */
typedef int (*resolve_lookup_fn)(void *ctx, const char *kind, const char *name,
    const char *prop, char **out, char **why);

struct resolve_error { char *key; char *message; };  /* message: "${db.nope.url}: no database named nope in this environment" */

struct resolve_result {
	char  **values;      /* values[i] = resolved vars[i].value (malloc'd), NULL if it failed */
	size_t  nerr;
	struct resolve_error *errs;   /* one entry per bad reference, in key order */
};

/*
 * Resolves every value of vars[0..n).  Keys are expected to be unique (the
 * merged map); if one repeats, ${KEY} means its last occurrence.
 *
 * Errors, one entry per distinct bad reference of a key (the same bad
 * reference twice in one value is reported once, at its first position),
 * sorted by key, then position in the raw value.  Each message starts with
 * the reference it is about:
 *   "${NOPE}: no variable NOPE in scope"
 *   "${B}: cycle B -> A -> B"          (every reference that lies on a cycle,
 *                                      at the key that writes it; the path
 *                                      starts at the referenced key)
 *   "${db.nope.url}: <the callback's why>"
 *   "${a b}: malformed reference ..." / "${x: unterminated reference ..."
 *   "${B}: the resolved value would be longer than 1048576 bytes ..."
 * A malformed or unterminated reference is echoed only if it consists of
 * reference characters ([A-Za-z0-9_.-], at most 64 of them): such text may
 * be a fragment of a secret, so otherwise it is "${…}" and its byte offset.
 *
 * The root cause is reported once: a value that uses a failed key fails
 * too (values[i] NULL) but gets no entry of its own; the entry is at the
 * key whose value holds the bad reference.  Every key on a cycle fails.
 * Keys are resolved in key order, a key's dependencies first; a value that
 * would take the map past RESOLVE_MAX_TOTAL fails with an entry.
 *
 * fn is called once per distinct ${kind.name.prop} (in sorted order), never
 * for a malformed one; fn NULL makes every such reference
 * "unknown resource kind <kind>".  Cost: linear in the input, plus the
 * shortest paths of cycles (bounded; beyond the bound a path is elided).
 *
 * Returns 0 when every value resolved, 1 when some failed (out->errs
 * filled), -1 when out of memory (out zeroed).  The caller frees out with
 * resolve_result_free(out, n) when 0 or 1 was returned.
 */
int  resolve_all(const struct resolve_var *vars, size_t n, resolve_lookup_fn fn, void *ctx,
                 struct resolve_result *out);
void resolve_result_free(struct resolve_result *res, size_t n);

#endif
