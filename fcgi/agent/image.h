/*
 * image.h - getting the image of a deployment: pull a reference, or clone
 * a git source and POST /build its context, or re-use a release's image
 * id.  Every line of output goes through the job's redacting progress
 * writer (struct app_io).
 *
 * Git credentials: a "user:token@" in the repository URL is stripped from
 * the URL before it reaches argv and handed to git through GIT_ASKPASS (a
 * two-line script in the build directory reading two environment
 * variables that only git's environment holds).  GIT_TERMINAL_PROMPT=0,
 * no system or global git config, a timeout per git command.
 */
#ifndef LAUNCHER_AGENT_IMAGE_H
#define LAUNCHER_AGENT_IMAGE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "../core/arena.h"
#include "appspec.h"
#include "conf.h"
#include "xfer.h"

/* The job's progress writer: every line is redacted before it leaves. */
struct app_io {
	void                   (*emit)(void *ud, const char *line);
	void                    *ud;
	const struct app_redact *red;
};

/* printf-style progress line, redacted, at most RUNNER_MAX_LINE bytes. */
void app_say(const struct app_io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What came out of resolving the image. */
struct image_out {
	char image[600];		/* the reference or the built tag */
	char image_id[160];		/* sha256:... */
	char commit_sha[72];		/* git only */
	char commit_message[1024];	/* git only: the subject line */
};

/*
 * Resolves s's source (docker_image, git, release) into *out.  build_dir
 * is a scratch directory for git sources (created and removed here).
 * Returns 0, or -1 with the (redacted) reason in err.
 */
int  image_resolve(struct xfer *x, struct arena *a, const struct agent_conf *c,
    const struct app_spec *s, const struct app_io *io, const char *build_dir,
    struct image_out *out, char *err, size_t errlen);

/*
 * Clones s's repository (repo_url with its credentials kept off argv,
 * branch, commit_sha) into dir/src; dir is made anew (the caller removes
 * it).  out gets commit_sha and commit_message.  0, or -1 with the
 * (redacted) reason in err.  A git application's build, and a function's
 * git source (fn.h).
 */
int  image_clone(struct arena *a, const struct app_spec *s, const struct app_io *io,
    const char *dir, struct image_out *out, char *err, size_t errlen);
/* Why image_open_beneath failed (its errno), in words. */
const char *image_beneath_why(int e);

/*
 * Builds the context directory ctx_dir (tar'ed to the engine's /build with
 * dockerfile, relative to it, and s->build_args) as
 * localhost/launcher/<app_id>:<deployment_id>, pushed to s->registry when
 * set; out gets the tag and the image id.  A git source's build, and a
 * function's (fn.h).  0, or -1 with the (redacted) reason in err.
 */
int  image_build(struct xfer *x, struct arena *a, const struct agent_conf *c,
    const struct app_spec *s, const struct app_io *io, const char *ctx_dir, const char *dockerfile,
    struct image_out *out, char *err, size_t errlen);

/*
 * The image ref as this server has it: used as it is when present (no
 * registry asked), else pulled (a site's mirror).  0, or -1 (err: the
 * engine's words).
 */
int  image_ensure(struct xfer *x, struct arena *a, const char *ref, const struct app_io *io,
    struct image_out *out, char *err, size_t errlen);

/* Splits "repo[:tag]" for fromImage/tag ("latest" when no tag; digests stay whole). */
void image_split_ref(const char *ref, char *repo, size_t repolen, char *tag, size_t taglen);

/*
 * Opens rel (a path a user named: dockerfile_path, build_context) beneath
 * the directory dirfd, never following a symbolic link on the way nor in
 * its last component and never leaving dirfd (".." refused): openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or where the kernel lacks it a walk
 * of openat(O_NOFOLLOW) one component at a time.  want_dir: it must be a
 * directory.  Returns an fd (O_CLOEXEC; the caller closes it), or -1 with
 * errno ELOOP (a link), EXDEV (".." or out of dirfd), ENOENT, ENOTDIR ...
 */
int  image_open_beneath(int dirfd, const char *rel, bool want_dir);
/* The same by the openat(O_NOFOLLOW) walk alone (the fallback; the tests call it too). */
int  image_walk_beneath(int dirfd, const char *rel, bool want_dir);

/* rm -rf path (no symlinks followed); 0 or -1. */
int  image_rmtree(const char *path);

#endif
