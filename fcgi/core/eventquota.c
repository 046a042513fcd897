/*
 * eventquota.c - the ingest quota in shared memory (eventquota.h).
 */
#include "eventquota.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct eventquota *
eventquota_map(const char *path)
{
	struct stat st;
	void       *p;
	int         fd, saved;

	if (path == NULL || *path == '\0') {
		p = mmap(NULL, sizeof(struct eventquota), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		/* Anonymous pages are zero: every slot free. */
		return p == MAP_FAILED ? NULL : p;
	}
	/* A new file reads as zeros (every slot free); one the other pool
	 * made already holds what it counted.  Only grown, never shrunk: the
	 * other pool may have it mapped. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return NULL;
	if (fstat(fd, &st) != 0 ||
	    ((size_t)st.st_size < sizeof(struct eventquota) &&
	    ftruncate(fd, (off_t)sizeof(struct eventquota)) != 0)) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	p = mmap(NULL, sizeof(struct eventquota), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	saved = errno;
	close(fd);
	errno = saved;
	return p == MAP_FAILED ? NULL : p;
}

/* FNV-1a, 64 bits, never 0 (0 marks a free slot). */
static uint64_t
hash(const char *a, int64_t n)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 1099511628211ULL;
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint64_t)((n >> (8 * i)) & 0xff)) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/*
 * The slot of key in a table of n slots of size sz whose first member is
 * the 64-bit key: found, or claimed when claim (compare-and-swap on a free
 * slot, so two workers claiming one key end in one slot); -1 if absent or
 * the table is full.  Linear probing; slots are never freed.
 */
static long
slot_of(void *table, size_t n, size_t sz, uint64_t key, bool claim)
{
	for (size_t i = 0, at = key % n; i < n; i++, at = (at + 1) % n) {
		uint64_t *k = (uint64_t *)(void *)((char *)table + at * sz);
		uint64_t  cur = __atomic_load_n(k, __ATOMIC_ACQUIRE), zero = 0;

		if (cur == key)
			return (long)at;
		if (cur != 0)
			continue;
		if (!claim)
			return -1;
		if (__atomic_compare_exchange_n(k, &zero, key, false, __ATOMIC_ACQ_REL,
		    __ATOMIC_ACQUIRE) || zero == key)
			return (long)at;
	}
	return -1;
}

int
eventquota_find(struct eventquota *q, const char *tenant, int64_t dsn_id)
{
	long d;

	if (q == NULL || tenant == NULL)
		return -1;
	d = slot_of(q->dsns, EVENTQUOTA_DSNS, sizeof(q->dsns[0]), hash(tenant, dsn_id), false);
	if (d < 0)
		return -1;
	return (int)__atomic_load_n(&q->dsns[d].project, __ATOMIC_ACQUIRE) - 1;
}

int
eventquota_learn(struct eventquota *q, const char *tenant, int64_t dsn_id,
    const char *project, uint32_t limit)
{
	long p, d;

	if (q == NULL || tenant == NULL || project == NULL)
		return -1;
	p = slot_of(q->projects, EVENTQUOTA_PROJECTS, sizeof(q->projects[0]), hash(project, 0),
	    true);
	d = p < 0 ? -1 : slot_of(q->dsns, EVENTQUOTA_DSNS, sizeof(q->dsns[0]),
	    hash(tenant, dsn_id), true);
	if (d < 0) {
		log_warn("ingest quota: table full, the events of project %s go uncounted", project);
		return -1;
	}
	__atomic_store_n(&q->projects[p].limit, limit, __ATOMIC_RELEASE);
	__atomic_store_n(&q->dsns[d].project, (uint32_t)p + 1, __ATOMIC_RELEASE);
	return (int)p;
}

void
eventquota_set_limit(struct eventquota *q, const char *project, uint32_t limit)
{
	long p;

	if (q == NULL || project == NULL)
		return;
	p = slot_of(q->projects, EVENTQUOTA_PROJECTS, sizeof(q->projects[0]), hash(project, 0),
	    false);
	if (p >= 0)
		__atomic_store_n(&q->projects[p].limit, limit, __ATOMIC_RELEASE);
}

bool
eventquota_take(struct eventquota *q, int slot, int64_t now, int *retry_after)
{
	struct eventquota_project *p;
	uint64_t                   minute = (uint64_t)(now / 60), old, next;
	uint32_t                   limit;

	if (q == NULL || slot < 0 || slot >= EVENTQUOTA_PROJECTS)
		return true;
	p = &q->projects[slot];
	limit = __atomic_load_n(&p->limit, __ATOMIC_ACQUIRE);
	old = __atomic_load_n(&p->window, __ATOMIC_ACQUIRE);
	do {
		uint64_t count = (old >> 32) == (minute & 0xffffffffu) ? (old & 0xffffffffu) : 0;

		if (count >= limit) {
			*retry_after = (int)(60 - now % 60);
			return false;
		}
		next = (minute & 0xffffffffu) << 32 | (count + 1);
	} while (!__atomic_compare_exchange_n(&p->window, &old, next, true, __ATOMIC_ACQ_REL,
	    __ATOMIC_ACQUIRE));
	return true;
}

void
eventquota_give_back(struct eventquota *q, int slot, int64_t now)
{
	struct eventquota_project *p;
	uint64_t                   minute = (uint64_t)(now / 60) & 0xffffffffu, old;

	if (q == NULL || slot < 0 || slot >= EVENTQUOTA_PROJECTS)
		return;
	p = &q->projects[slot];
	old = __atomic_load_n(&p->window, __ATOMIC_ACQUIRE);
	/* Only within the same minute, and never below 0. */
	while ((old >> 32) == minute && (old & 0xffffffffu) > 0 &&
	    !__atomic_compare_exchange_n(&p->window, &old, old - 1, true, __ATOMIC_ACQ_REL,
	    __ATOMIC_ACQUIRE))
		;
}
