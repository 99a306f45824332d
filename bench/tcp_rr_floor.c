/* The floor under tcp_rr_per_sec_1w: the same workload (100 loopback
 * connections, 32-byte request and 32-byte response in lockstep, 200,000
 * in all) written straight on epoll in one thread, with no runtime at all
 * and the fewest system calls it can make: one read and one write per
 * message and side, and one epoll_wait per batch of ready sockets.
 *
 *   uvgo-tcp-rr-floor      prints BENCH tcp_rr_floor_per_sec <n> req/s
 *
 * Run it beside `uvgo-bench tcp` and `go-bench tcp`: what uvgo's request
 * and response rate can still gain is the gap to this number. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tcp_workload.h"

static void check(long rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "tcp_rr_floor: %s: %s\n", what, strerror(errno));
    exit(1);
  }
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void tune(int fd) {
  int one = 1;
  check(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one),
        "TCP_NODELAY");
  check(fcntl(fd, F_SETFL, O_NONBLOCK), "O_NONBLOCK");
}

static void watch(int ep, int fd, unsigned id) {
  struct epoll_event e = {.events = EPOLLIN, .data.u32 = id};
  check(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e), "epoll_ctl");
}

int main(void) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  check(listener, "socket");
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  check(bind(listener, (struct sockaddr *)&addr, sizeof addr), "bind");
  check(listen(listener, CLIENTS), "listen");
  check(getsockname(listener, (struct sockaddr *)&addr, &len), "getsockname");

  /* Ids below CLIENTS are client ends, the rest server ends. */
  int client[CLIENTS], server[CLIENTS];
  int ep = epoll_create1(0);
  check(ep, "epoll_create1");
  for (unsigned i = 0; i < CLIENTS; i++) {
    client[i] = socket(AF_INET, SOCK_STREAM, 0);
    check(client[i], "socket");
    check(connect(client[i], (struct sockaddr *)&addr, sizeof addr),
          "connect");
    server[i] = accept(listener, NULL, NULL);
    check(server[i], "accept");
    tune(client[i]);
    tune(server[i]);
    watch(ep, client[i], i);
    watch(ep, server[i], CLIENTS + i);
  }

  static char buf[SERVER_BUF];
  memset(buf, 'r', RR_MSG);
  long sent = 0, answered = 0;
  double start = now_s();
  for (unsigned i = 0; i < CLIENTS; i++, sent++)
    check(write(client[i], buf, RR_MSG) == RR_MSG ? 0 : -1, "write");
  struct epoll_event ready[1024];
  while (answered < RR_TOTAL) {
    int n = epoll_wait(ep, ready, 1024, -1);
    check(n, "epoll_wait");
    for (int k = 0; k < n; k++) {
      unsigned id = ready[k].data.u32;
      if (id >= CLIENTS) { /* the server echoes what it got */
        ssize_t got = read(server[id - CLIENTS], buf, SERVER_BUF);
        check(got, "server read");
        if (got > 0)
          check(write(server[id - CLIENTS], buf, (size_t)got), "server write");
        continue;
      }
      /* 32 bytes on loopback arrive in one piece: a short read would be a
       * broken run, not a slow one. */
      ssize_t got = read(client[id], buf, RR_MSG);
      check(got == RR_MSG ? 0 : -1, "client read");
      answered++;
      if (sent < RR_TOTAL) {
        check(write(client[id], buf, RR_MSG) == RR_MSG ? 0 : -1, "write");
        sent++;
      }
    }
  }
  double elapsed = now_s() - start;
  printf("BENCH tcp_rr_floor_per_sec %.1f req/s\n", RR_TOTAL / elapsed);
  for (unsigned i = 0; i < CLIENTS; i++) {
    close(client[i]);
    close(server[i]);
  }
  close(ep);
  close(listener);
  return 0;
}
