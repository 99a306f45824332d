/* The embed layer's shared pieces: the per-runtime hub that hands results
 * from tasks (on any worker) to callbacks on the host loop's thread, and
 * the checks every callback-side call makes.
 *
 * Threads: everything here but uvgo__embed_push runs on the host loop's
 * thread, which is worker 0's thread of an attached runtime. The layer's
 * own tasks (receivers, senders) are pinned to worker 0, so they and the
 * host's callbacks never run at the same time and share their records
 * without locks; only tasks of uvgo_embed_spawn may run elsewhere, and
 * they reach the host only through the hub's locked queue. */
#ifndef UVGO_EMBED_INTERNAL_H
#define UVGO_EMBED_INTERNAL_H

#include "core/scheduler.h"

/* A result on its way to a callback. Embedded in the operation's record;
 * deliver runs on the host thread and owns the record from then on. */
typedef struct uvgo__embed_event uvgo__embed_event;
struct uvgo__embed_event {
  void (*deliver)(uvgo__embed_event *ev);
  uvgo__embed_event *next;
};

typedef struct uvgo__embed_sendq uvgo__embed_sendq;

/* One per attached runtime that used this layer: rt->embed. */
typedef struct uvgo__embed_hub {
  uv_async_t async;           /* on the host loop; referenced iff pending */
  uv_idle_t idle;             /* started while events pushed on the host
                                 thread wait (no syscall, unlike async) */
  bool idle_on;               /* host thread */
  int handles_open;           /* close callbacks still to come */
  uvgo_rt *rt;                /* NULL once the runtime closed */
  uv_mutex_t lock;            /* guards head/tail (pushed from any thread) */
  uvgo__embed_event *head;    /* FIFO of events to deliver */
  uvgo__embed_event *tail;
  size_t pending;             /* operations begun whose final callback has
                                 not been called yet (host thread) */
  bool referenced;            /* async is uv_ref'd */
  bool closed;                /* uv_close issued */
  uvgo__embed_sendq *sendqs;  /* channels with queued sends (host thread) */
} uvgo__embed_hub;

/* The checks of every callback-side call on rt, then its hub (made on
 * first use). caller is the public function's return address for misuse
 * reports. @return 0; UV_EINVAL (NULL, not attached, not the host thread,
 * inside a task); UVGO_ERELEASED; UVGO_ENORUNTIME (closing); UV_ENOMEM. */
int uvgo__embed_enter(uvgo_rt *rt, const char *call, const void *caller,
                      uvgo__embed_hub **out);
/* The host-thread check alone, for calls on an existing operation. */
int uvgo__embed_check_thread(uvgo__embed_hub *hub, const char *call,
                             const void *caller);
/* An operation starts (host thread): counted until uvgo__embed_end. */
void uvgo__embed_begin(uvgo__embed_hub *hub);
/* Its final callback is about to run (host thread). */
void uvgo__embed_end(uvgo__embed_hub *hub);
/* Queue ev for delivery on the host thread. Any thread. */
void uvgo__embed_push(uvgo__embed_hub *hub, uvgo__embed_event *ev);

/* Spawn a task of this layer on worker 0 (the host's loop), under ctx
 * (NULL: the runtime's root). Host thread. */
int uvgo__embed_spawn_internal(uvgo__embed_hub *hub, uvgo_fn fn, void *arg,
                               uvgo_ctx *ctx, const char *file, int line);

#endif
