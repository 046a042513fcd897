/*
 * err.c - error enum -> HTTP status and envelope code (one table).
 */
#include "err.h"

static const struct {
	int         status;
	const char *code;
} err_table[ERR__COUNT] = {
	[ERR_OK]                     = {200, "OK"},
	[ERR_BAD_REQUEST]            = {400, "BAD_REQUEST"},
	[ERR_UNAUTHORIZED]           = {401, "UNAUTHORIZED"},
	[ERR_FORBIDDEN]              = {403, "FORBIDDEN"},
	[ERR_NOT_FOUND]              = {404, "NOT_FOUND"},
	[ERR_METHOD_NOT_ALLOWED]     = {405, "METHOD_NOT_ALLOWED"},
	[ERR_CONFLICT]               = {409, "CONFLICT"},
	[ERR_PRECONDITION_FAILED]    = {412, "PRECONDITION_FAILED"},
	[ERR_PAYLOAD_TOO_LARGE]      = {413, "PAYLOAD_TOO_LARGE"},
	[ERR_UNSUPPORTED_MEDIA_TYPE] = {415, "UNSUPPORTED_MEDIA_TYPE"},
	[ERR_TOO_MANY_REQUESTS]      = {429, "TOO_MANY_REQUESTS"},
	[ERR_INTERNAL]               = {500, "INTERNAL_ERROR"},
	[ERR_UNAVAILABLE]            = {503, "SERVICE_UNAVAILABLE"},
	/* A retry that could not be retried any more surfaces as a conflict. */
	[ERR_RETRY]                  = {409, "CONFLICT"},
};

int
err_status(enum err e)
{
	if ((unsigned)e >= ERR__COUNT)
		return 500;
	return err_table[e].status;
}

const char *
err_code(enum err e)
{
	if ((unsigned)e >= ERR__COUNT)
		return "INTERNAL_ERROR";
	return err_table[e].code;
}

const char *
err_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Internal Server Error";
	}
}
