/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *
tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char       *p;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/cwtest.XXXXXX", base) < 0)
		abort();
	if (mkdtemp(p) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void) sb;
	(void) flag;
	(void) ftw;
	return remove(path);
}

void
tu_rmrf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

unsigned
tu_seed(void)
{
	const char *e = getenv("CW_SEED");
	unsigned    s = e ? (unsigned) strtoul(e, NULL, 10)
	                  : (unsigned) time(NULL) ^ (unsigned) getpid();
	fprintf(stderr, "seed %u (CW_SEED=%u replays it)\n", s, s);
	return s;
}
