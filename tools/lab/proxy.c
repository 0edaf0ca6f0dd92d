/* proxy.c - see proxy.h. One thread, poll(2) over the listener and every
 * pair of sockets. */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXPAIRS 32

struct tproxy {
	int         lfd, port, upstream;
	atomic_bool cut, stop;
	atomic_int  delay_ms;   /* each read waits this long before it is
	                         * relayed: a slow link, order kept */
	atomic_int loss_pct;    /* per chunk, the chance in percent that its
	                         * connection is reset instead */
	unsigned   rng;         /* the relay thread's */
	atomic_int asked, done; /* cut requests, and those applied */
	pthread_t  th;
	int        a[MAXPAIRS], b[MAXPAIRS]; /* client side, upstream side */
	int        npairs;
};

static int
connect_up(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		.sin_port                     = htons((uint16_t) port) };
	sa.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	int fd                = socket(AF_INET, SOCK_STREAM, 0);
	int one               = 1;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
drop(tproxy *p, int i)
{
	close(p->a[i]);
	close(p->b[i]);
	p->a[i] = p->a[p->npairs - 1];
	p->b[i] = p->b[p->npairs - 1];
	p->npairs--;
}

/* Copies what fd `from` has to `to`. Returns false when the pair ends. */
static bool
pump(int from, int to)
{
	char    buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t) (n - off));
		if (w <= 0)
			return false;
		off += w;
	}
	return true;
}

static void *
run(void *arg)
{
	tproxy *p = arg;
	while (!atomic_load(&p->stop)) {
		int asked = atomic_load(&p->asked);
		if (atomic_load(&p->cut))
			while (p->npairs > 0)
				drop(p, 0);
		atomic_store(&p->done, asked);
		struct pollfd fds[1 + 2 * MAXPAIRS];
		int           n = 0;
		fds[n++]        = (struct pollfd) { p->lfd, POLLIN, 0 };
		for (int i = 0; i < p->npairs; i++) {
			fds[n++] = (struct pollfd) { p->a[i], POLLIN, 0 };
			fds[n++] = (struct pollfd) { p->b[i], POLLIN, 0 };
		}
		if (poll(fds, (nfds_t) n, 20) <= 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int c = accept(p->lfd, NULL, NULL);
			if (c >= 0) {
				int u = atomic_load(&p->cut) ||
				        p->npairs == MAXPAIRS
				    ? -1
				    : connect_up(p->upstream);
				if (u < 0) {
					close(c); /* cut: refused */
				} else {
					int one = 1;
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					p->a[p->npairs]   = c;
					p->b[p->npairs++] = u;
				}
			}
		}
		int d = atomic_load(&p->delay_ms);
		if (d > 0 && n > 1)
			usleep((useconds_t) d * 1000);
		/* pairs in reverse, so that drop() keeps indices valid */
		for (int i = (n - 1) / 2 - 1; i >= 0; i--) {
			short ra   = fds[1 + 2 * i].revents;
			short rb   = fds[2 + 2 * i].revents;
			bool  ok   = true;
			int   loss = atomic_load(&p->loss_pct);
			if (loss > 0 && ((ra | rb) & POLLIN) &&
			    (int) (rand_r(&p->rng) % 100) < loss)
				ok = false; /* a lossy link: reset */
			if (ok && (ra & (POLLIN | POLLHUP | POLLERR)))
				ok = pump(p->a[i], p->b[i]);
			if (ok && (rb & (POLLIN | POLLHUP | POLLERR)))
				ok = pump(p->b[i], p->a[i]);
			if (!ok)
				drop(p, i);
		}
	}
	while (p->npairs > 0)
		drop(p, 0);
	return NULL;
}

int
proxy_start(tproxy **out, int upstream)
{
	return proxy_start_on(out, 0, upstream);
}

int
proxy_start_on(tproxy **out, int port, int upstream)
{
	tproxy            *p   = calloc(1, sizeof(*p));
	struct sockaddr_in sa  = { .sin_family = AF_INET,
		 .sin_port                     = htons((uint16_t) port) };
	socklen_t          l   = sizeof(sa);
	int                one = 1;
	sa.sin_addr.s_addr     = htonl(INADDR_LOOPBACK);
	p->upstream            = upstream;
	p->rng                 = (unsigned) upstream * 2654435761u;
	p->lfd                 = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *) &sa, sizeof(sa)) ||
	    listen(p->lfd, 16) ||
	    getsockname(p->lfd, (struct sockaddr *) &sa, &l)) {
		free(p);
		return -1;
	}
	p->port = ntohs(sa.sin_port);
	if (pthread_create(&p->th, NULL, run, p) != 0) {
		close(p->lfd);
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

int
proxy_port(const tproxy *p)
{
	return p->port;
}

void
proxy_cut(tproxy *p, bool cut)
{
	/* returns once the relay thread has seen it: no byte crosses a cut
	 * link after this */
	atomic_store(&p->cut, cut);
	int ask = atomic_fetch_add(&p->asked, 1) + 1;
	while (atomic_load(&p->done) < ask)
		usleep(1000);
}

void
proxy_delay(tproxy *p, int ms)
{
	atomic_store(&p->delay_ms, ms > 0 ? ms : 0);
}

void
proxy_lossy(tproxy *p, int pct)
{
	atomic_store(&p->loss_pct, pct < 0 ? 0 : pct > 100 ? 100 : pct);
}

void
proxy_stop(tproxy *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->th, NULL);
	close(p->lfd);
	free(p);
}
