/*
 * util.c - checked parsing and formatting helpers (see util.h).
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"

int
util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char     *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

bool
util_is_uuid(const char *s)
{
	static const int dash[] = {8, 13, 18, 23};
	size_t           i;
	unsigned         d = 0;

	if (s == NULL || strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return false;
			d++;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

bool
util_is_slug(const char *s)
{
	size_t n, i;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
		    s[i] == '-'))
			return false;
	return !util_is_uuid(s);
}

bool
util_is_email(const char *s)
{
	const char *at, *dot, *p;
	size_t      n;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n < 3 || n > 254)
		return false;
	at = strchr(s, '@');
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	dot = strrchr(at, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0')
		return false;
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"' ||
		    *p == ',' || *p == ';' || *p == '\\' || (unsigned char)*p == 0x7f)
			return false;
	return true;
}

int
util_snprintf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

const char *
util_json_str(const cJSON *o, const char *k)
{
	/* Not an object: NULL (cJSON would answer an array's first item). */
	const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;

	return cJSON_IsString(v) && v->valuestring[0] != '\0' ? v->valuestring : NULL;
}

long
util_pct_encode(char *out, size_t outlen, const char *s, size_t n, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t            o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool          plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
		    (c != '\0' && keep != NULL && strchr(keep, c) != NULL);

		if (o + (plain ? 1 : 3) >= outlen)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}

void
util_hex(char *out, const unsigned char *in, size_t n)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

char *
util_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

bool
util_ieq(const char *a, const char *b)
{
	while (*a && *b) {
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++;
		b++;
	}
	return *a == *b;
}

int
util_url_split_cred(const char *url, char *out, size_t outlen, char *cred, size_t credlen)
{
	const char *h = strstr(url, "://"), *at, *end;
	size_t      n;

	cred[0] = '\0';
	if (h == NULL)
		return util_snprintf(out, outlen, "%s", url) < 0 ? -1 : 0;
	h += 3;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	/* The last '@' of the authority: a token may not hold one, a user may. */
	for (const char *p = at; p != NULL && p < end; p = memchr(p + 1, '@', (size_t)(end - p - 1)))
		at = p;
	if (at == NULL)
		return util_snprintf(out, outlen, "%s", url) < 0 ? -1 : 0;
	n = (size_t)(at - h);
	if (n + 1 > credlen)
		return -1;
	memcpy(cred, h, n);
	cred[n] = '\0';
	return util_snprintf(out, outlen, "%.*s%s", (int)(h - url), url, at + 1) < 0 ? -1 : 0;
}

int
util_drop_privileges(const char *user)
{
	struct passwd *pw;

	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		log_error("unknown user %s", user);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_error("cannot drop privileges to %s", user);
		return -1;
	}
	return 0;
}

int
util_socket_access(const char *path, const char *group, int64_t mode)
{
	if (group[0] != '\0') {
		struct group *g = getgrnam(group);

		if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) != 0) {
			log_error("cannot give %s to group %s", path, group);
			return -1;
		}
	}
	if (chmod(path, (mode_t)mode) != 0) {
		log_error("cannot chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t
utf8_len(const unsigned char *p)
{
	size_t        n;
	unsigned long cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are invalid. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void
util_sanitize(char *s, int keep_newlines)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = utf8_len(p);

		if (n == 0) {
			*p++ = '?';
			continue;
		}
		if (n == 1 && (*p < 0x20 || *p == 0x7f) && *p != '\t' &&
		    !(keep_newlines && *p == '\n'))
			*p = ' ';
		p += n;
	}
}

int
util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int         fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st = {0};
	char       *b;
	size_t      got = 0;

	*out = NULL;
	if (len != NULL)
		*len = 0;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (size_t)st.st_size > max) {
		int e = st.st_size < 0 || (size_t)st.st_size > max ? EFBIG : errno;

		close(fd);
		errno = e;
		return -1;
	}
	if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	b[got] = '\0';
	*out = b;
	if (len != NULL)
		*len = got;
	return 0;
}

int
util_write_atomic(const char *path, const char *data, size_t n, unsigned mode)
{
	char   tmp[4096];
	size_t off = 0;
	int    fd, e;

	if (util_snprintf(tmp, sizeof(tmp), "%s.tmp", path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode)) < 0)
		return -1;
	/* The mode exactly (a umask could have taken bits nginx needs). */
	if (fchmod(fd, (mode_t)mode) != 0)
		goto fail;
	while (off < n) {
		ssize_t w = write(fd, data + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

bool
util_env_name_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 255 || (k[0] >= '0' && k[0] <= '9'))
		return false;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}
