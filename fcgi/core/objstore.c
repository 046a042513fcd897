/*
 * objstore.c - backup destinations (see objstore.h): the payload's
 * "destination" object checked and turned into a struct objstore_dest,
 * endpoints derived per provider, object keys confined, and the streaming
 * put / get / delete / test over two back ends: S3 (s3.c) and `local`, a
 * directory under the agent's backup_local_root.
 *
 * Memory: an S3 upload holds one part buffer (OBJSTORE_PART) and hashes it
 * before sending (its sha256 is the x-amz-content-sha256 libcurl signs); a
 * local upload writes straight through; a download streams in whatever
 * pieces the transport hands over.  The whole object's sha256 is computed
 * on the way in both directions (libsodium).
 */
#include "objstore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "s3.h"
#include "util.h"

/* Read size of a local download. */
#define LOCAL_CHUNK ((size_t)64 * 1024)
/* Size of the probe object of objstore_test. */
#define PROBE_BYTES 1024

static bool
all_in(const char *s, const char *extra)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(extra, c) != NULL))
			return false;
	}
	return true;
}

/*
 * A relative path of [A-Za-z0-9._/-]: no leading '/', no empty, "." or
 * ".." component (a trailing '/' is allowed when trailing_ok).  Used for
 * keys and for a destination's path prefix alike.
 */
/* A path that runs through a database's PITR repository (<dest>/launcher/
 * pitr/<id>), which its container can write into: never a destination. */
static bool
in_pitr_repo(const char *path)
{
	return strncmp(path, "launcher/pitr", 13) == 0 || strstr(path, "/launcher/pitr") != NULL;
}

static bool
rel_path_ok(const char *s, size_t max, bool trailing_ok)
{
	size_t len = strlen(s);
	const char *p = s;

	if (len == 0 || len > max || s[0] == '/' || !all_in(s, "._/-"))
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 && !(trailing_ok && p[0] == '/' && p[1] == '\0'))
			return false;
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

/* S3 bucket naming: 3-63 of [a-z0-9.-], starting and ending alphanumeric. */
static bool
bucket_ok(const char *b)
{
	size_t n = strlen(b);

	return n >= 3 && n <= 63 && all_in(b, ".-") && strpbrk(b, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL &&
	       b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

/* http(s)://host[:port][/base]: no credentials, query or fragment. */
static bool
endpoint_ok(const char *e)
{
	const char *host;

	if (strlen(e) > 512)
		return false;
	if (strncmp(e, "https://", 8) == 0)
		host = e + 8;
	else if (strncmp(e, "http://", 7) == 0)
		host = e + 7;
	else
		return false;
	if (host[0] == '\0' || host[0] == '/' || host[0] == ':')
		return false;
	return all_in(host, ".-:[]/_~");
}

/* Whether the endpoint's host is an IP address: <bucket>.<IP> means nothing,
 * so such an endpoint defaults to path style whatever the provider. */
static bool
endpoint_is_ip(const char *e)
{
	const char *host = strstr(e, "://");
	size_t n;

	host = host ? host + 3 : e;
	if (host[0] == '[')
		return true;
	n = strcspn(host, ":/");
	for (size_t i = 0; i < n; i++)
		if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
			return false;
	return n > 0;
}

static const char *const PROVIDERS[] = {"s3", "r2", "backblaze", "minio", "custom", "local"};

const char *
objstore_dest_check(const cJSON *body, const char **message)
{
	const char *provider = util_json_str(body, "provider"), *v;
	bool known = false, local;

	*message = NULL;
	for (size_t i = 0; provider && i < sizeof(PROVIDERS) / sizeof(PROVIDERS[0]); i++)
		known = known || strcmp(provider, PROVIDERS[i]) == 0;
	if (!known) {
		*message = "must be one of s3, r2, backblaze, minio, custom, local";
		return "provider";
	}
	local = strcmp(provider, "local") == 0;
	v = util_json_str(body, "path");
	if (v != NULL && !rel_path_ok(v, 512, true)) {
		*message = "a relative path of [A-Za-z0-9._/-] without '..' or empty parts, at most 512 characters";
		return "path";
	}
	if (v != NULL && local && in_pitr_repo(v)) {
		*message = "must not lie inside a database's PITR repository (launcher/pitr/...)";
		return "path";
	}
	if (local)
		return NULL;
	v = util_json_str(body, "url_style");
	if (v != NULL && strcmp(v, "path") != 0 && strcmp(v, "virtual") != 0) {
		*message = "must be path or virtual";
		return "url_style";
	}
	v = util_json_str(body, "bucket");
	if (v == NULL || !bucket_ok(v)) {
		*message = "required: 3-63 of [a-z0-9.-], starting and ending with a letter or digit";
		return "bucket";
	}
	v = util_json_str(body, "region");
	if (v != NULL && (strlen(v) > 64 || !all_in(v, "-"))) {
		*message = "letters, digits and '-', at most 64";
		return "region";
	}
	if (v == NULL && strcmp(provider, "backblaze") == 0) {
		*message = "required for backblaze (e.g. us-west-004)";
		return "region";
	}
	v = util_json_str(body, "endpoint");
	if (v != NULL && !endpoint_ok(v)) {
		*message = "an http(s)://host[:port] URL without credentials, query or fragment";
		return "endpoint";
	}
	if (v == NULL && (strcmp(provider, "minio") == 0 || strcmp(provider, "custom") == 0)) {
		*message = "required for minio and custom";
		return "endpoint";
	}
	if (strcmp(provider, "r2") == 0) {
		v = util_json_str(body, "account_id");
		if (v == NULL || strlen(v) > 64 || !all_in(v, "")) {
			*message = "required for r2: the Cloudflare account id";
			return "account_id";
		}
		v = util_json_str(body, "jurisdiction");
		if (v != NULL && strcmp(v, "eu") != 0 && strcmp(v, "fedramp") != 0) {
			*message = "eu, fedramp or absent";
			return "jurisdiction";
		}
	}
	return NULL;
}

int
objstore_endpoint(const struct objstore_dest *d, char *out, size_t outlen)
{
	int rc;

	if (d->endpoint != NULL) {
		size_t n = strlen(d->endpoint);

		while (n > 0 && d->endpoint[n - 1] == '/')
			n--;
		rc = util_snprintf(out, outlen, "%.*s", (int)n, d->endpoint);
	} else if (strcmp(d->provider, "r2") == 0 && d->account_id != NULL) {
		rc = util_snprintf(out, outlen, "https://%s%s%s.r2.cloudflarestorage.com", d->account_id,
		                   d->jurisdiction ? "." : "", d->jurisdiction ? d->jurisdiction : "");
	} else if (strcmp(d->provider, "backblaze") == 0) {
		rc = util_snprintf(out, outlen, "https://s3.%s.backblazeb2.com", d->region);
	} else if (strcmp(d->provider, "s3") == 0) {
		rc = util_snprintf(out, outlen, "https://s3.%s.amazonaws.com", d->region);
	} else {
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

/*
 * The directory rel (relative; "" = dirfd itself) below dirfd, walked one
 * component at a time without following a symbolic link (O_NOFOLLOW on
 * each), made 0700 where missing when create: a link planted anywhere
 * below the root (a database container can write into its own PITR
 * repository) ends the walk with ELOOP or ENOTDIR instead of leading out.
 * Returns a new O_DIRECTORY descriptor, or -1 (errno).  dirfd stays open.
 */
static int
walk_dir(int dirfd, const char *rel, bool create)
{
	char comp[NAME_MAX + 1];
	int  fd = dup(dirfd);

	while (fd >= 0 && *rel != '\0') {
		size_t n = strcspn(rel, "/");
		int    next;

		if (n == 0 || n > NAME_MAX) {
			if (n == 0) {
				rel++;
				continue;
			}
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		rel += n;
		if (create && mkdirat(fd, comp, 0700) != 0 && errno != EEXIST) {
			close(fd);
			return -1;
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd;
}

/* The directory of key below d's local directory (see walk_dir); *base
 * points at key's last component.  -1 (errno) when it is not there. */
static int
key_dir(const struct objstore_dest *d, const char *key, bool create, const char **base)
{
	char        dir[1100];
	const char *slash = strrchr(key, '/');
	int         root, fd;

	*base = slash ? slash + 1 : key;
	if (util_snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - key) : 0, key) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((root = open(d->local_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	fd = walk_dir(root, dir, create);
	close(root);
	return fd;
}

/* <local_root>/<tenant_id>/<path> made and resolved into d->local_dir,
 * refused when it resolves outside the root. */
static int
local_dir(struct objstore_dest *d, const char *local_root, const char *tenant_id,
          char *err, size_t errlen)
{
	char want[4096], rel[4096], root[PATH_MAX], got[PATH_MAX];
	size_t rl;
	int rootfd, fd;

	if (local_root == NULL || local_root[0] != '/') {
		util_snprintf(err, errlen, "no backup_local_root configured for local destinations");
		return -1;
	}
	if (tenant_id == NULL || !util_is_uuid(tenant_id)) {
		util_snprintf(err, errlen, "a local destination needs the tenant's id");
		return -1;
	}
	if (util_snprintf(want, sizeof(want), "%s/%s%s%s", local_root, tenant_id,
	                  d->path ? "/" : "", d->path ? d->path : "") < 0) {
		util_snprintf(err, errlen, "local path too long");
		return -1;
	}
	/* A path through a database's PITR repository (writable from inside
	 * its container) is refused: no destination lives in one. */
	if (d->path != NULL && in_pitr_repo(d->path)) {
		util_snprintf(err, errlen, "local path: inside a PITR repository");
		return -1;
	}
	(void)util_snprintf(rel, sizeof(rel), "%s", want + strlen(local_root) + 1);
	if ((rootfd = open(local_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 &&
	    (mkdir(local_root, 0700) != 0 ||
	     (rootfd = open(local_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)) {
		util_snprintf(err, errlen, "local directory: %s", strerror(errno));
		return -1;
	}
	fd = walk_dir(rootfd, rel, true);
	close(rootfd);
	if (fd < 0) {
		util_snprintf(err, errlen, "local directory: %s", errno == ELOOP || errno == ENOTDIR ?
		    "a symbolic link or a file on the way (links are not followed)" : strerror(errno));
		return -1;
	}
	close(fd);
	if (realpath(local_root, root) == NULL || realpath(want, got) == NULL) {
		util_snprintf(err, errlen, "local directory: %s", strerror(errno));
		return -1;
	}
	rl = strlen(root);
	if (strncmp(got, root, rl) != 0 || (got[rl] != '/' && !(rl == 1 && root[0] == '/'))) {
		util_snprintf(err, errlen, "local path: outside the backup root");
		return -1;
	}
	if (util_snprintf(d->local_dir, sizeof(d->local_dir), "%s", got) < 0) {
		util_snprintf(err, errlen, "local path too long");
		return -1;
	}
	return 0;
}

int
objstore_dest_from_json(const cJSON *dest, const char *local_root, const char *tenant_id,
                        struct objstore_dest *d, char *err, size_t errlen)
{
	const char *field, *message, *style;

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(dest)) {
		util_snprintf(err, errlen, "no destination");
		return -1;
	}
	field = objstore_dest_check(dest, &message);
	if (field != NULL) {
		util_snprintf(err, errlen, "destination %s: %s", field, message);
		return -1;
	}
	d->provider = util_json_str(dest, "provider");
	d->path = util_json_str(dest, "path");
	if (strcmp(d->provider, "local") == 0)
		return local_dir(d, local_root, tenant_id, err, errlen);
	d->bucket = util_json_str(dest, "bucket");
	d->endpoint = util_json_str(dest, "endpoint");
	d->account_id = util_json_str(dest, "account_id");
	d->jurisdiction = util_json_str(dest, "jurisdiction");
	d->access_key = util_json_str(dest, "access_key");
	d->secret_key = util_json_str(dest, "secret_key");
	d->ca_file = util_json_str(dest, "ca_file");
	d->region = util_json_str(dest, "region");
	if (strcmp(d->provider, "r2") == 0)
		d->region = "auto";
	else if (d->region == NULL)
		d->region = "us-east-1";
	style = util_json_str(dest, "url_style");
	if (style != NULL)
		d->path_style = strcmp(style, "path") == 0;
	else
		d->path_style = strcmp(d->provider, "minio") == 0 || strcmp(d->provider, "custom") == 0 ||
		                (d->endpoint != NULL && endpoint_is_ip(d->endpoint));
	if (d->access_key == NULL || d->secret_key == NULL) {
		util_snprintf(err, errlen, "the destination has no credentials");
		return -1;
	}
	return 0;
}

int
objstore_full_key(const struct objstore_dest *d, const char *key, char *out, size_t outlen)
{
	size_t pl;

	if (key == NULL || !rel_path_ok(key, 1024, false))
		return -1;
	if (strcmp(d->provider, "local") == 0 || d->path == NULL)
		return util_snprintf(out, outlen, "%s", key) < 0 ? -1 : 0;
	pl = strlen(d->path);
	while (pl > 0 && d->path[pl - 1] == '/')
		pl--;
	return util_snprintf(out, outlen, "%.*s/%s", (int)pl, d->path, key) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ put */

struct objstore_put {
	const struct objstore_dest *d;
	crypto_hash_sha256_state all;
	uint64_t size;
	bool     failed;
	char     err[512];
	/* s3 */
	struct s3_upload *u;
	unsigned char    *buf;   /* OBJSTORE_PART bytes */
	size_t            len;
	/* local */
	int  fd;
	int  dirfd;
	char name[NAME_MAX + 1], tmp[NAME_MAX + 6];   /* in dirfd, the key's directory */
};

static bool
is_local(const struct objstore_dest *d)
{
	return strcmp(d->provider, "local") == 0;
}

/* The directories of a local key (a/b/c.tar -> a, a/b) under dirfd. */

struct objstore_put *
objstore_put_open(const struct objstore_dest *d, const char *key, char *err, size_t errlen)
{
	struct objstore_put *p;
	char full[1100];

	if (objstore_full_key(d, key, full, sizeof(full)) != 0) {
		util_snprintf(err, errlen, "invalid object key");
		return NULL;
	}
	if (sodium_init() < 0 || (p = calloc(1, sizeof(*p))) == NULL) {
		util_snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->d = d;
	p->fd = p->dirfd = -1;
	crypto_hash_sha256_init(&p->all);
	if (is_local(d)) {
		const char *base;

		if ((p->dirfd = key_dir(d, full, true, &base)) < 0)
			goto fail_errno;
		if (util_snprintf(p->name, sizeof(p->name), "%s", base) < 0 ||
		    util_snprintf(p->tmp, sizeof(p->tmp), "%s.part", base) < 0)
			goto fail_msg;
		p->fd = openat(p->dirfd, p->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (p->fd < 0)
			goto fail_errno;
		return p;
	}
	p->buf = malloc(OBJSTORE_PART);
	if (p->buf == NULL)
		goto fail_msg;
	p->u = s3_upload_open(d, full, err, errlen);
	if (p->u == NULL) {
		free(p->buf);
		free(p);
		return NULL;
	}
	return p;
fail_errno:
	util_snprintf(err, errlen, "write %s: %s", key, strerror(errno));
	goto fail;
fail_msg:
	util_snprintf(err, errlen, "out of memory");
fail:
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p);
	return NULL;
}

/* Sends the full part buffer as the next part. */
static int
put_flush(struct objstore_put *p)
{
	unsigned char sha[crypto_hash_sha256_BYTES];
	char hex[65];

	crypto_hash_sha256(sha, p->buf, p->len);
	util_hex(hex, sha, sizeof(sha));
	if (s3_upload_part(p->u, p->buf, p->len, hex, p->err, sizeof(p->err)) != 0)
		return -1;
	p->len = 0;
	return 0;
}

int
objstore_put_write(struct objstore_put *p, const void *buf, size_t n)
{
	const unsigned char *in = buf;

	if (p->failed)
		return -1;
	crypto_hash_sha256_update(&p->all, in, n);
	p->size += n;
	if (p->fd >= 0) {
		while (n > 0) {
			ssize_t w = write(p->fd, in, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				util_snprintf(p->err, sizeof(p->err), "write %s: %s", p->name,
				              w < 0 ? strerror(errno) : "short write");
				p->failed = true;
				return -1;
			}
			in += w;
			n -= (size_t)w;
		}
		return 0;
	}
	while (n > 0) {
		size_t room;

		/* A full buffer goes only once more data follows: a stream that
		 * ends within one part is sent as one PUT by close. */
		if (p->len == OBJSTORE_PART && put_flush(p) != 0) {
			p->failed = true;
			return -1;
		}
		room = OBJSTORE_PART - p->len;
		if (room > n)
			room = n;
		memcpy(p->buf + p->len, in, room);
		p->len += room;
		in += room;
		n -= room;
	}
	return 0;
}

static int
local_close(struct objstore_put *p, bool commit)
{
	int rc = 0;

	if (commit && fsync(p->fd) != 0) {
		util_snprintf(p->err, sizeof(p->err), "fsync %s: %s", p->name, strerror(errno));
		rc = -1;
	}
	if (close(p->fd) != 0 && commit && rc == 0) {
		util_snprintf(p->err, sizeof(p->err), "close %s: %s", p->name, strerror(errno));
		rc = -1;
	}
	p->fd = -1;
	if (commit && rc == 0 && renameat(p->dirfd, p->tmp, p->dirfd, p->name) != 0) {
		util_snprintf(p->err, sizeof(p->err), "rename %s: %s", p->name, strerror(errno));
		rc = -1;
	}
	if (!commit || rc != 0)
		(void)unlinkat(p->dirfd, p->tmp, 0);
	else
		(void)fsync(p->dirfd);   /* the rename itself is durable */
	close(p->dirfd);
	return rc;
}

int
objstore_put_close(struct objstore_put *p, bool commit, uint64_t *size, char sha256_hex[65],
                   char *err, size_t errlen)
{
	unsigned char sha[crypto_hash_sha256_BYTES];
	int rc;

	if (p->failed)
		commit = false;
	if (p->fd >= 0) {
		rc = local_close(p, commit);
	} else {
		char hex[65];

		crypto_hash_sha256(sha, p->buf, p->len);
		util_hex(hex, sha, sizeof(sha));
		rc = s3_upload_close(p->u, commit, p->buf, p->len, hex, p->err, sizeof(p->err));
	}
	if (p->failed)
		rc = -1;
	crypto_hash_sha256_final(&p->all, sha);
	if (sha256_hex != NULL)
		util_hex(sha256_hex, sha, sizeof(sha));
	if (size != NULL)
		*size = p->size;
	if (rc != 0)
		util_snprintf(err, errlen, "%s", p->err[0] ? p->err : "upload aborted");
	free(p->buf);
	free(p);
	return rc;
}

/* ------------------------------------------------------------------ get */

struct hashing_sink {
	objstore_sink            sink;
	void                    *ud;
	crypto_hash_sha256_state st;
	uint64_t                 size;
};

static int
hashing_write(void *ud, const void *buf, size_t n)
{
	struct hashing_sink *h = ud;

	crypto_hash_sha256_update(&h->st, buf, n);
	h->size += n;
	return h->sink != NULL ? h->sink(h->ud, buf, n) : 0;
}

static int
local_get(const struct objstore_dest *d, const char *key, struct hashing_sink *h,
          char *err, size_t errlen)
{
	const char *base;
	int dirfd = key_dir(d, key, false, &base), fd = -1, rc = -1;
	unsigned char *chunk = malloc(LOCAL_CHUNK);

	if (chunk == NULL) {
		util_snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (dirfd < 0 || (fd = openat(dirfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		/* The same code as S3's, so that callers need not know the provider. */
		if (errno == ENOENT)
			util_snprintf(err, errlen, "NoSuchKey: the object does not exist");
		else
			util_snprintf(err, errlen, "read %s: %s", key, strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, LOCAL_CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			util_snprintf(err, errlen, "read %s: %s", key, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (hashing_write(h, chunk, (size_t)r) != 0) {
			util_snprintf(err, errlen, "the reader stopped the download");
			goto out;
		}
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	free(chunk);
	return rc;
}

int
objstore_get(const struct objstore_dest *d, const char *key, objstore_sink sink, void *ud,
             uint64_t *size, char sha256_hex[65], char *err, size_t errlen)
{
	struct hashing_sink h = {.sink = sink, .ud = ud};
	unsigned char sha[crypto_hash_sha256_BYTES];
	char full[1100];
	int rc;

	if (objstore_full_key(d, key, full, sizeof(full)) != 0) {
		util_snprintf(err, errlen, "invalid object key");
		return -1;
	}
	if (sodium_init() < 0) {
		util_snprintf(err, errlen, "libsodium did not initialise");
		return -1;
	}
	crypto_hash_sha256_init(&h.st);
	if (is_local(d))
		rc = local_get(d, full, &h, err, errlen);
	else
		rc = s3_get(d, full, hashing_write, &h, err, errlen);
	crypto_hash_sha256_final(&h.st, sha);
	if (sha256_hex != NULL)
		util_hex(sha256_hex, sha, sizeof(sha));
	if (size != NULL)
		*size = h.size;
	return rc;
}

int
objstore_delete(const struct objstore_dest *d, const char *key, char *err, size_t errlen)
{
	char full[1100];
	const char *base;
	int dirfd, rc = 0;

	if (objstore_full_key(d, key, full, sizeof(full)) != 0) {
		util_snprintf(err, errlen, "invalid object key");
		return -1;
	}
	if (!is_local(d))
		return s3_delete(d, full, err, errlen);
	dirfd = key_dir(d, full, false, &base);
	if ((dirfd < 0 && errno != ENOENT) ||
	    (dirfd >= 0 && unlinkat(dirfd, base, 0) != 0 && errno != ENOENT)) {
		util_snprintf(err, errlen, "delete %s: %s", key, strerror(errno));
		rc = -1;
	}
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

/* ----------------------------------------------------------------- test */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends {"step", "ok", "ms", "error"} to steps; returns ok. */
static bool
test_step(cJSON *steps, const char *name, int64_t t0, int rc, const char *err)
{
	cJSON *s = cJSON_CreateObject();

	if (s == NULL)
		return false;
	cJSON_AddStringToObject(s, "step", name);
	cJSON_AddBoolToObject(s, "ok", rc == 0);
	cJSON_AddNumberToObject(s, "ms", (double)(now_ms() - t0));
	if (rc == 0)
		cJSON_AddNullToObject(s, "error");
	else
		cJSON_AddStringToObject(s, "error", err[0] ? err : "failed");
	cJSON_AddItemToArray(steps, s);
	return rc == 0;
}

struct probe_cmp {
	const unsigned char *want;
	size_t len, off;
	bool   differs;
};

static int
probe_sink(void *ud, const void *buf, size_t n)
{
	struct probe_cmp *c = ud;

	if (n > c->len - c->off || memcmp(c->want + c->off, buf, n) != 0) {
		c->differs = true;
		return 1;
	}
	c->off += n;
	return 0;
}

cJSON *
objstore_test(const struct objstore_dest *d)
{
	cJSON *res = cJSON_CreateObject(), *steps;
	unsigned char probe[PROBE_BYTES], rnd[8];
	char key[64], hex[17], err[512] = "", sha_put[65], sha_get[65];
	uint64_t size_put = 0, size_get = 0;
	struct objstore_put *p;
	struct probe_cmp cmp = {probe, sizeof(probe), 0, false};
	bool ok = false;
	int64_t t0;
	int rc;

	if (res == NULL || (steps = cJSON_AddArrayToObject(res, "steps")) == NULL ||
	    sodium_init() < 0) {
		cJSON_Delete(res);
		return NULL;
	}
	randombytes_buf(rnd, sizeof(rnd));
	util_hex(hex, rnd, sizeof(rnd));
	randombytes_buf(probe, sizeof(probe));
	memcpy(probe, "launcher destination test\n", 26);
	if (util_snprintf(key, sizeof(key), "launcher-probe-%s", hex) < 0)
		goto out;

	t0 = now_ms();
	p = objstore_put_open(d, key, err, sizeof(err));
	rc = p == NULL ? -1 : 0;
	if (p != NULL) {
		rc = objstore_put_write(p, probe, sizeof(probe));
		rc = objstore_put_close(p, rc == 0, &size_put, sha_put, err, sizeof(err)) || rc;
	}
	if (!test_step(steps, "write", t0, rc, err))
		goto out;

	t0 = now_ms();
	rc = objstore_get(d, key, probe_sink, &cmp, &size_get, sha_get, err, sizeof(err));
	if (rc == 0 && (cmp.differs || size_get != size_put || strcmp(sha_get, sha_put) != 0)) {
		util_snprintf(err, sizeof(err), "the object read back differs from the one written");
		rc = -1;
	} else if (rc != 0 && cmp.differs) {
		util_snprintf(err, sizeof(err), "the object read back differs from the one written");
	}
	if (!test_step(steps, "read", t0, rc, err)) {
		/* Leave no probe behind when only the read failed. */
		(void)objstore_delete(d, key, err, sizeof(err));
		goto out;
	}

	t0 = now_ms();
	rc = objstore_delete(d, key, err, sizeof(err));
	ok = test_step(steps, "delete", t0, rc, err);
out:
	cJSON_AddBoolToObject(res, "ok", ok);
	return res;
}

cJSON *
objstore_test_json(const cJSON *dest, const char *local_root, const char *tenant_id)
{
	struct objstore_dest d;
	char err[512];
	cJSON *res, *steps;

	if (objstore_dest_from_json(dest, local_root, tenant_id, &d, err, sizeof(err)) == 0)
		return objstore_test(&d);
	res = cJSON_CreateObject();
	if (res == NULL || (steps = cJSON_AddArrayToObject(res, "steps")) == NULL) {
		cJSON_Delete(res);
		return NULL;
	}
	(void)test_step(steps, "write", now_ms(), -1, err);
	cJSON_AddBoolToObject(res, "ok", false);
	return res;
}
