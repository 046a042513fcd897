/*
 * multipart.h - the one multipart/form-data reader (uploads).
 *
 * Finds the part named `field` in the request body (already read with
 * http_body) and returns a pointer into the body and its length.  Responds
 * 415 (not multipart), 400 (malformed, or no such part) itself.
 */
#ifndef LAUNCHER_MULTIPART_H
#define LAUNCHER_MULTIPART_H

#include <stddef.h>

#include "http.h"

enum err multipart_file(struct req *r, const char *field, const char **data, size_t *len);

#endif
