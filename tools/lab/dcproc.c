/* dcproc.c - see dcproc.h. */
#include "dcproc.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "causeway.h"

#define MAX_PROCS 32
static pid_t live[MAX_PROCS];
static int   registered;

static void
kill_all(void)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
	}
}

static void
track(pid_t pid, bool add)
{
	if (!registered) {
		atexit(kill_all);
		registered = 1;
	}
	for (int i = 0; i < MAX_PROCS; i++) {
		if (add ? live[i] == 0 : live[i] == pid) {
			live[i] = add ? pid : 0;
			return;
		}
	}
}

static void
on_alarm(int sig)
{
	static const char msg[] = "dcproc: watchdog: test timed out or "
	                          "was stopped; killing its causewayd "
	                          "processes\n";
	(void) sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do in a signal handler */
	}
	for (int i = 0; i < MAX_PROCS; i++)
		if (live[i] > 0)
			kill(live[i], SIGKILL);
	_exit(3);
}

void
dc_watchdog(unsigned seconds)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	alarm(seconds);
}

/* Whether `port` on 127.0.0.1 can be bound now. */
static bool
port_free(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int                s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	a.sin_port           = htons((uint16_t) port);
	if (s < 0)
		return false;
	bool ok = bind(s, (struct sockaddr *) &a, sizeof(a)) == 0;
	close(s);
	return ok;
}

/* The lowest port the kernel hands out for outgoing connections. */
static int
ephemeral_low(void)
{
	int   low = 32768, high;
	FILE *f   = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f != NULL) {
		if (fscanf(f, "%d %d", &low, &high) != 2)
			low = 32768;
		fclose(f);
	}
	return low;
}

/*
 * A port from the kernel's ephemeral range (bind to port 0) can be taken
 * by the source port of any outgoing connection between this check and
 * causewayd's listen, which made a DC fail at start now and then. So the
 * port is drawn at random from below that range, where the kernel never
 * picks one by itself, and is never handed out twice by one process.
 */
int
dc_free_port(void)
{
	static int          given[256];
	static int          ngiven;
	static unsigned int seed;
	int                 low = ephemeral_low();
	if (seed == 0)
		seed = (unsigned int) getpid() ^ (unsigned int) time(NULL);
	for (int tries = 0; low > 11000 && tries < 1000; tries++) {
		int port =
		    10000 + (int) (rand_r(&seed) % (unsigned) (low - 10000));
		bool seen = false;
		for (int i = 0; i < ngiven; i++)
			seen |= given[i] == port;
		if (seen || !port_free(port))
			continue;
		if (ngiven < 256)
			given[ngiven++] = port;
		return port;
	}
	/* no room below the ephemeral range: let the kernel choose */
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t          l = sizeof(a);
	int                s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof(a)) != 0 ||
	    getsockname(s, (struct sockaddr *) &a, &l) != 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	close(s);
	return ntohs(a.sin_port);
}

/* Copies the last lines of a DC's log to stderr, so a test that removes
 * its directory afterwards still shows why the DC stopped. */
static void
show_log_tail(const char *path)
{
	char  buf[2048];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		long size = ftell(f);
		if (size > (long) sizeof(buf) - 1)
			fseek(f, size - (long) sizeof(buf) + 1, SEEK_SET);
		else
			fseek(f, 0, SEEK_SET);
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	fprintf(stderr, "--- last of %s ---\n%s--- end ---\n", path, buf);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int
spawn(dcproc *d)
{
	const char *bin = getenv("CAUSEWAYD");
	char       *argv[64];
	int         n = 0;
	if (bin == NULL)
		bin = "build/bin/causewayd";
	argv[n++] = (char *) bin;
	argv[n++] = "--data";
	argv[n++] = d->dir;
	argv[n++] = "--listen";
	argv[n++] = d->url;
	for (int i = 0; d->extra[i] != NULL && n < 62; i++)
		argv[n++] = d->extra[i];
	argv[n]   = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		if (getenv("CW_TEST_CLOCKS") != NULL) {
			char clk[600];
			snprintf(clk, sizeof(clk), "%s.clock", d->dir);
			setenv("CW_TEST_CLOCK_FILE", clk, 1);
		}
		execv(bin, argv);
		_exit(127);
	}
	d->pid = pid;
	track(pid, true);
	/* ready when a status call answers */
	for (int i = 0; i < 200; i++) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			track(pid, false);
			d->pid = 0;
			fprintf(stderr, "causewayd exited at start; see %s\n",
			    d->log);
			show_log_tail(d->log);
			return -1;
		}
		cw_client *c;
		if (cw_connect(&c, d->url) == 0) {
			cw_dc_info info;
			int        rc = cw_dc_status(c, &info);
			cw_close(c);
			if (rc == 0 || rc == CW_EAUTH)
				return 0; /* it answers (with users on, so) */
		}
		sleep_ms(50);
	}
	fprintf(stderr, "causewayd did not answer within 10 s; killed\n");
	dc_kill9(d);
	show_log_tail(d->log);
	return -1;
}

int
dc_set_clock(const dcproc *d, long ms)
{
	char path[600], tmp[620];
	snprintf(path, sizeof(path), "%s.clock", d->dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "%ld\n", ms);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path) == 0 ? 0 : -1;
}

int
dc_start(dcproc *d, const char *dir, char *const *extra)
{
	if (d->port == 0)
		d->port = dc_free_port();
	snprintf(d->url, sizeof(d->url), "tcp://127.0.0.1:%d", d->port);
	snprintf(d->dir, sizeof(d->dir), "%s", dir);
	snprintf(d->log, sizeof(d->log), "%s.log", dir);
	int i = 0;
	for (; extra != NULL && extra[i] != NULL && i < 47; i++)
		d->extra[i] = extra[i];
	d->extra[i] = NULL;
	return spawn(d);
}

int
dc_restart(dcproc *d)
{
	return spawn(d);
}

int
dc_stop(dcproc *d)
{
	int status = -1;
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			track(d->pid, false);
			d->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	dc_kill9(d);
	return -1;
}

void
dc_kill9(dcproc *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	track(d->pid, false);
	d->pid = 0;
}

pid_t
proc_spawn(char *const *argv, const char *out)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (out != NULL) {
			int fd =
			    open(out, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		execv(argv[0], argv);
		_exit(127);
	}
	track(pid, true);
	return pid;
}

int
proc_wait(pid_t pid, unsigned seconds)
{
	int status;
	for (unsigned i = 0; i < seconds * 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			track(pid, false);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		sleep_ms(10);
	}
	fprintf(stderr, "dcproc: pid %d still running after %u s: stopped\n",
	    (int) pid, seconds);
	kill(pid, SIGTERM); /* a harness stops what it started */
	for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) != pid; i++)
		sleep_ms(10);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	track(pid, false);
	return -1;
}

int
lab_certs(const char *dir, int ndc, bool expired, const char *const *names)
{
	const char *sh = getenv("CW_CERTS_SH");
	char       *argv[40], n[16];
	int         k = 0;
	snprintf(n, sizeof(n), "%d", ndc);
	argv[k++] = "/bin/sh";
	argv[k++] = (char *) (sh != NULL ? sh : "tools/certs.sh");
	if (expired)
		argv[k++] = "--expired";
	argv[k++] = (char *) dir;
	argv[k++] = n;
	for (int i = 0; names != NULL && names[i] != NULL && k < 39; i++)
		argv[k++] = (char *) names[i];
	argv[k]   = NULL;
	pid_t pid = proc_spawn(argv, NULL);
	return pid > 0 && proc_wait(pid, 60) == 0 ? 0 : -1;
}
