/*
 * err.h - the one error enum of the plane and its HTTP mapping.
 *
 * Fallible functions return enum err; ERR_OK is zero.  The table in err.c
 * is the single place an error becomes an HTTP status and an envelope code.
 */
#ifndef LAUNCHER_ERR_H
#define LAUNCHER_ERR_H

enum err {
	ERR_OK = 0,
	ERR_BAD_REQUEST,	/* 400 */
	ERR_UNAUTHORIZED,	/* 401 */
	ERR_FORBIDDEN,		/* 403 */
	ERR_NOT_FOUND,		/* 404 */
	ERR_METHOD_NOT_ALLOWED,	/* 405 */
	ERR_CONFLICT,		/* 409 */
	ERR_PRECONDITION_FAILED,/* 412 */
	ERR_PAYLOAD_TOO_LARGE,	/* 413 */
	ERR_UNSUPPORTED_MEDIA_TYPE, /* 415 */
	ERR_TOO_MANY_REQUESTS,	/* 429 */
	ERR_INTERNAL,		/* 500 */
	ERR_UNAVAILABLE,	/* 503 */
	ERR_RETRY,		/* serialization failure: retry the transaction */
	ERR__COUNT
};

int         err_status(enum err e);
const char *err_code(enum err e);
const char *err_reason(int status);

#endif
