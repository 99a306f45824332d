/* Dial 1,000 localhost ports with at most 100 dials in flight and report
 * the open ones: a fixed set of 100 worker tasks reads ports from a
 * channel (Go's worker pool), results come back on another.
 *
 * The program opens three listeners of its own first, so the output it
 * checks does not depend on what else runs on the machine; ports other
 * programs have open are reported as "not ours". */
#include <stdio.h>
#include <uvgo.h>

#define PORTS 1000
#define CONCURRENCY 100

typedef struct {
  unsigned port;
  int err;
} result;

typedef struct {
  uvgo_chan *ports;   /* unsigned, closed when all are queued */
  uvgo_chan *results; /* result */
  uvgo_chan *exited;  /* one signal per scanner as it returns */
} scan;

static void scanner(void *arg) {
  scan *s = arg;
  unsigned port;
  while (uvgo_chan_recv(s->ports, &port) == 0) {
    uvgo_ctx *ctx;
    uvgo_ctx_with_timeout(uvgo_ctx_current(), 1000, &ctx);
    uvgo_conn *c;
    result r = {port, uvgo_dial(ctx, "127.0.0.1", port, &c)};
    if (r.err == 0)
      uvgo_conn_close(c);
    uvgo_ctx_release(ctx);
    uvgo_chan_send(s->results, &r);
  }
  uvgo_chan_send(s->exited, NULL); /* Go's wg.Done() */
}

static void main_task(void *arg) {
  (void)arg;
  /* Three listeners: the first picks a free port, the others take the
   * first free ports from fixed offsets in the scanned range. */
  uvgo_listener *ln[3];
  unsigned ours[3];
  if (uvgo_listen("127.0.0.1", 0, 16, &ln[0]) != 0)
    return;
  ours[0] = uvgo_listener_port(ln[0]);
  unsigned base = ours[0] > 100 ? ours[0] - 100 : 1;
  if (base + PORTS > 65536)
    base = 65536 - PORTS;
  const unsigned offset[] = {0, 107, 119};
  for (int i = 1; i < 3; i++) {
    unsigned p = base + offset[i];
    while (uvgo_listen("127.0.0.1", p, 16, &ln[i]) != 0)
      if (++p == base + PORTS)
        return; /* a thousand ports in use: give up */
    ours[i] = uvgo_listener_port(ln[i]);
  }

  scan s = {uvgo_chan_new(sizeof(unsigned), CONCURRENCY),
            uvgo_chan_new(sizeof(result), CONCURRENCY),
            uvgo_chan_new(0, CONCURRENCY)};
  for (int i = 0; i < CONCURRENCY; i++)
    uvgo_go(scanner, &s);
  /* Feed the ports and drain the results in one select loop, so neither
   * side can block the other. */
  int queued = 0;
  int found = 0, ours_found = 0;
  for (int done = 0; done < PORTS;) {
    result r;
    if (queued < PORTS) {
      unsigned p = base + (unsigned)queued;
      uvgo_select_case cases[] = {UVGO_SEND_CASE(s.ports, &p),
                                  UVGO_RECV_CASE(s.results, &r)};
      if (uvgo_select(cases, 2) == 0) {
        if (++queued == PORTS)
          uvgo_chan_close(s.ports);
        continue;
      }
    } else {
      uvgo_chan_recv(s.results, &r);
    }
    done++;
    if (r.err != 0)
      continue;
    found++;
    int mine = r.port == ours[0] || r.port == ours[1] || r.port == ours[2];
    ours_found += mine;
    if (mine && r.port - base < PORTS)
      printf("port %u open (ours)\n", r.port);
    else
      printf("port %u open (not ours)\n", r.port);
  }
  printf("scanned %d ports with %d dials in flight at most\n", PORTS,
         CONCURRENCY);
  printf("%d open, %d of them ours\n", found, ours_found);
  for (int i = 0; i < 3; i++)
    uvgo_listener_close(ln[i]);
  /* The scanners still hold the channels until they have returned. */
  for (int i = 0; i < CONCURRENCY; i++)
    uvgo_chan_recv(s.exited, NULL);
  uvgo_chan_release(s.ports);
  uvgo_chan_release(s.results);
  uvgo_chan_release(s.exited);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
