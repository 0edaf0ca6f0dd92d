/* lab.c - temporary directories and clocks for the lab (lab.h). */
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char *
lab_tmpdir(const char *prefix)
{
	const char *base = getenv("TMPDIR");
	char       *p;
	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/%s.XXXXXX", base, prefix) < 0)
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

int
lab_write_secret(const char *path, const char *secret)
{
	int   fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f  = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (f == NULL) {
		fprintf(stderr, "lab: cannot write %s: %s\n", path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, "%s\n", secret);
	return fclose(f) == 0 ? 0 : -1;
}

int
lab_count_lines(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char  line[4096];
	int   n = 0;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

void
lab_rmrf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

double
lab_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
lab_sleep_until(double t)
{
	double wait = t - lab_now_s();
	if (wait > 0) {
		struct timespec ts = { (time_t) wait,
			(long) ((wait - (double) (time_t) wait) * 1e9) };
		nanosleep(&ts, NULL);
	}
}

void
lab_gate_wait(lab_gate *g)
{
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

void
lab_gate_set(lab_gate *g, int open)
{
	pthread_mutex_lock(&g->mu);
	g->open = open;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

int
lab_cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;
	return (x > y) - (x < y);
}
