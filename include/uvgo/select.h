/* uvgo — select: wait on several channel operations at once (Go's select).
 *
 *   int v; uvgo_select_case cases[] = {
 *     UVGO_RECV_CASE(jobs, &v),
 *     UVGO_RECV_CASE(done, NULL),
 *     UVGO_RECV_CASE(uvgo_after(2000), NULL),
 *   };
 *   switch (uvgo_select(cases, 3)) { case 0: ...; case 1: ...; case 2: ... }
 *
 * Go's rules: when several cases are ready one is chosen uniformly at
 * random; a NULL channel never fires (Go's nil channel); a closed channel
 * is ready for recv (status UVGO_ECLOSED, elem zeroed). */
#ifndef UVGO_SELECT_H
#define UVGO_SELECT_H

#include "chan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a select case does with its channel. */
typedef enum uvgo_select_op {
  UVGO_SELECT_RECV = 1, /* receive into elem (NULL discards) */
  UVGO_SELECT_SEND = 2  /* send the value at elem */
} uvgo_select_op;

/* One case of uvgo_select / uvgo_select_try (build it with
 * UVGO_RECV_CASE / UVGO_SEND_CASE). */
typedef struct uvgo_select_case {
  uvgo_chan *chan; /* NULL: the case never fires */
  int op;          /* uvgo_select_op */
  void *elem;      /* send: the value (read only); recv: destination */
  int status;      /* out, for the chosen case: 0, or UVGO_ECLOSED (recv
                      from a closed, drained channel; send on a closed
                      channel, which is misuse as Go panics) */
} uvgo_select_case;

/* A receive case (into ptr, NULL discards) and a send case (of the value
 * at ptr), as compound literals for an array of cases. */
#define UVGO_RECV_CASE(ch, ptr) \
  ((uvgo_select_case){(ch), UVGO_SELECT_RECV, (ptr), 0})
#define UVGO_SEND_CASE(ch, ptr) \
  ((uvgo_select_case){(ch), UVGO_SELECT_SEND, (void *)(uintptr_t)(ptr), 0})

/* Most cases one select takes. */
#define UVGO_SELECT_MAX 65536

/* Block until one case can proceed, perform it, and return its index.
 * Cases are polled in a random order (uniform among the ready ones); when
 * none is ready the caller parks on every channel at once, and a
 * uvgo_after case arms the worker's timer heap only then. With no case
 * able to fire (all channels NULL) the call blocks until cancelled, as
 * Go's does. Up to 16 cases need no allocation; more allocate one block
 * when the call has to park (so UV_ENOMEM is possible).
 * @return the chosen index (>= 0); UV_EINVAL (cases NULL, n == 0 — Go's
 * empty select blocks forever, we refuse it —, n > UVGO_SELECT_MAX, a bad
 * op, NULL elem for a non-empty send, a send on a uvgo_after channel);
 * UVGO_ERELEASED; UV_ENOMEM.
 * Thread contract: a task or a plain thread; not a libuv callback. */
UVGO_EXTERN int uvgo_select(uvgo_select_case *cases, size_t n);

/* Go's select with a default case: perform one ready case, chosen at
 * random, or return UV_EAGAIN at once. Never allocates.
 * @return the index; UV_EAGAIN; errors as uvgo_select.
 * Thread contract: any thread, including libuv callbacks. */
UVGO_EXTERN int uvgo_select_try(uvgo_select_case *cases, size_t n);

#ifdef __cplusplus
}
#endif
#endif
