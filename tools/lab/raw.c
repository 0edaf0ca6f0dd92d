/* raw.c - raw TCP clients of causewayd (raw.h). */
#include "raw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lab.h"

/* nng's SP header of a REQ socket (protocol 0x30) */
static const uint8_t sp_req[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };

int
lab_raw_connect_until(const char *src, int port, double end)
{
	int fd =
	    socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	if (fd < 0)
		return -1;
	if (inet_pton(AF_INET, src, &a.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *) &a, sizeof(a)) != 0)
		goto fail;
	a.sin_port = htons((uint16_t) port);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		/* a server that drops our SYNs (an address it blocked)
		 * leaves connect() waiting for retransmissions: no longer
		 * than end */
		for (;;) {
			int ms = (int) ((end - lab_now_s()) * 1000);
			if (ms <= 0)
				goto fail;
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int           n = poll(&p, 1, ms);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				goto fail;
			break;
		}
		int       err = 0;
		socklen_t el  = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
		    err != 0)
			goto fail;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int
lab_raw_connect(const char *src, int port)
{
	return lab_raw_connect_until(src, port, lab_now_s() + 5);
}

int
lab_sp_hello(int fd)
{
	return send(fd, sp_req, sizeof(sp_req), MSG_NOSIGNAL) ==
	        (ssize_t) sizeof(sp_req)
	    ? 0
	    : -1;
}

/* Reads exactly len bytes within the deadline end (lab_now_s). */
static int
read_full(int fd, void *p, size_t len, double end)
{
	for (size_t got = 0; got < len;) {
		int left = (int) ((end - lab_now_s()) * 1000);
		if (left < 0)
			return -1;
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		if (poll(&pf, 1, left) != 1)
			return -1;
		ssize_t n = recv(fd, (uint8_t *) p + got, len - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t) n;
	}
	return 0;
}

int
lab_sp_connect(const char *src, int port)
{
	uint8_t rep[8];
	int     fd = lab_raw_connect(src, port);
	if (fd < 0)
		return -1;
	if (lab_sp_hello(fd) != 0 ||
	    read_full(fd, rep, sizeof(rep), lab_now_s() + 5) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

ssize_t
lab_send_frame(int fd, uint32_t id, const void *b, size_t len, int flags)
{
	uint8_t  h[12];
	uint64_t n = len + 4; /* the request id is part of the message */
	for (int i = 0; i < 8; i++)
		h[i] = (uint8_t) (n >> (56 - 8 * i));
	h[8]                 = (uint8_t) (0x80 | id >> 24);
	h[9]                 = (uint8_t) (id >> 16);
	h[10]                = (uint8_t) (id >> 8);
	h[11]                = (uint8_t) id;
	struct iovec  iov[2] = { { h, 12 }, { (void *) b, len } };
	struct msghdr mh     = { .msg_iov = iov, .msg_iovlen = 2 };
	return sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
}

int
lab_recv_frame(int fd, int ms, uint8_t **body, size_t *len)
{
	uint8_t  h[12];
	uint64_t n   = 0;
	double   end = lab_now_s() + ms / 1000.0;
	*body        = NULL;
	if (read_full(fd, h, sizeof(h), end) != 0)
		return -1;
	for (int i = 0; i < 8; i++)
		n = n << 8 | h[i];
	if (n < 4 || n > (1ull << 31))
		return -1;
	*len = (size_t) n - 4;
	if ((*body = malloc(*len ? *len : 1)) == NULL)
		return -1;
	if (read_full(fd, *body, *len, end) != 0) {
		free(*body);
		*body = NULL;
		return -1;
	}
	return 0;
}

bool
lab_closed_by_server(int fd, int ms)
{
	uint8_t buf[256];
	double  end = lab_now_s() + ms / 1000.0;
	for (;;) {
		int left = (int) ((end - lab_now_s()) * 1000);
		if (left < 0)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, left) <= 0)
			return false;
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
}

long
lab_proc_kb(pid_t pid, const char *field)
{
	char   path[64], line[256];
	long   kb = -1;
	size_t fl = strlen(field);
	FILE  *f;
	snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			kb = strtol(line + fl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}
