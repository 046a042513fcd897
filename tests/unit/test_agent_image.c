/* test_agent_image.c - user-named paths of a checkout (dockerfile_path,
 * build_context) are opened beneath it without following any symbolic link:
 * a link to a file outside, a link to a directory outside, a link that
 * stays inside, "..", and the plain cases that must keep working; and the
 * shared checks of text.c and the one RFC 3339 reader. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/image.h"
#include "agent/text.h"
#include "agent/timefmt.h"
#include "unit.h"

static char root[64];

static void
put(const char *rel, const char *text)
{
	char  p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	f = fopen(p, "w");
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
dir(const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	mkdir(p, 0700);
}

static void
link_to(const char *target, const char *rel)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) != 0)
		perror(p);
}

static int (*opener)(int, const char *, bool);

/* The errno of opening rel beneath repo/ (0 when it opened). */
static int
beneath(int repo, const char *rel, bool want_dir)
{
	int fd = opener(repo, rel, want_dir);

	if (fd < 0)
		return errno != 0 ? errno : -1;
	close(fd);
	return 0;
}

int
main(void)
{
	char    outside[128];
	int     repo;
	int64_t sec, v;
	int32_t ns;

	snprintf(root, sizeof(root), "/tmp/test_agent_image.XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	dir("repo");
	dir("repo/sub");
	dir("repo/sub/deeper");
	dir("outside");
	put("outside/secret", "FROM scratch\n");
	put("repo/Dockerfile", "FROM scratch\n");
	put("repo/sub/Dockerfile", "FROM scratch\n");
	snprintf(outside, sizeof(outside), "%s/outside/secret", root);
	link_to(outside, "repo/abs.link");		/* absolute, out of the repository */
	link_to("../outside/secret", "repo/rel.link");	/* relative, out of it */
	link_to("Dockerfile", "repo/inside.link");	/* stays inside: refused all the same */
	link_to("../outside", "repo/subdir.link");	/* a directory out of it */
	link_to("/etc", "repo/etc.link");
	snprintf(outside, sizeof(outside), "%s/repo", root);
	repo = open(outside, O_RDONLY | O_DIRECTORY);
	CHECK(repo >= 0, "the repository opens");

	for (int walk = 0; walk < 2; walk++) {
		/* openat2 where the kernel has it, then the openat walk alone */
		opener = walk ? image_walk_beneath : image_open_beneath;
		CHECK(beneath(repo, "Dockerfile", false) == 0, "a plain file");
		CHECK(beneath(repo, "sub/Dockerfile", false) == 0, "a file in a directory");
		CHECK(beneath(repo, "./sub//Dockerfile", false) == 0, "'.' and '//' name the same path");
		CHECK(beneath(repo, ".", true) == 0, "the context '.'");
		CHECK(beneath(repo, "sub/deeper/", true) == 0, "a directory with a trailing '/'");
		CHECK(beneath(repo, "Dockerfile", true) == ENOTDIR, "a file is not a context");
		CHECK(beneath(repo, "missing", false) == ENOENT, "a missing file");

		CHECK(beneath(repo, "abs.link", false) == ELOOP, "an absolute link out: refused");
		CHECK(beneath(repo, "rel.link", false) == ELOOP, "a relative link out: refused");
		CHECK(beneath(repo, "inside.link", false) == ELOOP, "a link inside: refused too");
		CHECK(beneath(repo, "subdir.link", true) == ELOOP, "a context that is a link: refused");
		CHECK(beneath(repo, "subdir.link/secret", false) == ELOOP, "a link on the way: refused");
		CHECK(beneath(repo, "etc.link/passwd", false) == ELOOP, "a link to /etc on the way: refused");
		CHECK(beneath(repo, "../outside/secret", false) == EXDEV, "'..' out: refused");
		CHECK(beneath(repo, "sub/../../outside/secret", false) == EXDEV, "'..' further down: refused");
		CHECK(beneath(repo, "/etc/passwd", false) != 0, "an absolute path: refused");
	}
	close(repo);

	/* text.c's shared checks */
	CHECK(text_word_ok("a-B_9", 63, "-_") && !text_word_ok("", 63, "-_") &&
	    !text_word_ok("a/b", 63, "-_") && !text_word_ok("abcd", 3, "-_"), "text_word_ok");
	CHECK(text_name_ok("launcher-build", 63) && !text_name_ok("-x", 63) &&
	    !text_name_ok("a b", 63), "text_name_ok");
	{
		cJSON *n = cJSON_CreateNumber(42), *f = cJSON_CreateNumber(1.5), *s = cJSON_CreateString("1");

		CHECK(text_json_i64(n, 0, 100, &v) == 0 && v == 42, "text_json_i64: an integer");
		CHECK(text_json_i64(n, 0, 41, &v) != 0 && text_json_i64(f, 0, 9, &v) != 0 &&
		    text_json_i64(s, 0, 9, &v) != 0 && text_json_i64(NULL, 0, 9, &v) != 0,
		    "text_json_i64: out of range, fraction, string, absent");
		cJSON_Delete(n);
		cJSON_Delete(f);
		cJSON_Delete(s);
	}

	/* The one RFC 3339 reader, as log lines and wire times use it. */
	CHECK(timefmt_scan_rfc3339("2024-01-02T03:04:05.123456789Z msg", 34, &sec, &ns) == 30 &&
	    sec == 1704164645 && ns == 123456789, "a log line's stamp");
	CHECK(timefmt_scan_rfc3339("2024-01-02T03:04:05+01:00", 25, &sec, &ns) == 25 &&
	    sec == 1704164645 - 3600 && ns == 0, "an offset");
	CHECK(timefmt_scan_rfc3339("2024-01-02T03:04:05Z", 19, &sec, &ns) == 0,
	    "n bounds the read (no zone within n)");
	CHECK(timefmt_scan_rfc3339("2024-01-02T03:04:05.Z", 21, &sec, &ns) == 0, "'.' needs a digit");
	CHECK(timefmt_scan_rfc3339("2024-13-02T03:04:05Z", 20, &sec, &ns) == 0, "month 13");
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
		if (system(cmd) != 0)
			return 1;
	}
	return unit_done("agent-image");
}
