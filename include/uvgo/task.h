/* uvgo — tasks: Go's goroutines as stackful coroutines on a worker's loop.
 *
 * A task reads like blocking code; each blocking call parks it and lets
 * other tasks on the worker run. A task never moves to another thread once
 * it has started (so errno and thread-locals stay consistent). */
#ifndef UVGO_TASK_H
#define UVGO_TASK_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A task (opaque): a stackful coroutine living on one worker. */
typedef struct uvgo_task uvgo_task;

/* Go's `go fn(arg)`: spawn a task on the calling worker (an idle worker may
 * take it before it starts). arg is passed as is: the caller keeps it
 * alive. The spawn site is recorded for dumps.
 * @return 0; UV_EINVAL (NULL fn); UVGO_ENOTTASK (not on a worker thread);
 * UVGO_ELIMIT; UV_ENOMEM.
 * Thread contract: a task, or a libuv callback on a worker's loop. */
#define uvgo_go(fn, arg) uvgo_go_at((fn), (arg), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_go_at(uvgo_fn fn, void *arg, const char *file,
                           int line);

/* Spawn with a private copy of size bytes at ptr; fn receives a pointer to
 * the copy, valid for the task's life. This is the fix for the loop-variable
 * bug: each task gets the value as it was at the spawn.
 * @return as uvgo_go; UV_EINVAL for NULL ptr with size > 0. */
#define uvgo_go_copy(fn, ptr, size) \
  uvgo_go_copy_at((fn), (ptr), (size), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_go_copy_at(uvgo_fn fn, const void *ptr, size_t size,
                                const char *file, int line);

/* Spawn options for uvgo_go_opts. Zero-initialise, set what you need. */
typedef struct uvgo_spawn_opts {
  int worker;          /* -1: the caller's (stealable); else pinned there */
  size_t stack_size;   /* 0: the runtime's default */
  const char *name;    /* copied; shown in dumps */
  const void *copy;    /* if non-NULL, copy_size bytes are copied (as */
  size_t copy_size;    /* uvgo_go_copy) and fn gets the copy */
  uvgo_ctx *ctx;       /* NULL: the spawner's context (retained) */
} uvgo_spawn_opts;
#define uvgo_go_opts(opts, fn, arg) \
  uvgo_go_opts_at((opts), (fn), (arg), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_go_opts_at(const uvgo_spawn_opts *opts, uvgo_fn fn,
                                void *arg, const char *file, int line);

/* Spawn under ctx instead of the spawner's context: the task's blocking
 * calls return UV_ECANCELED / UV_ETIMEDOUT once ctx ends. The task holds a
 * reference to ctx for its life. @return as uvgo_go; UV_EINVAL for NULL
 * ctx. */
#define uvgo_go_ctx(ctx, fn, arg) \
  uvgo_go_ctx_at((ctx), (fn), (arg), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_go_ctx_at(uvgo_ctx *ctx, uvgo_fn fn, void *arg,
                               const char *file, int line);

/* Spawn pinned to worker `worker` of the caller's runtime.
 * @return as uvgo_go; UV_EINVAL for a worker out of range. */
#define uvgo_go_on(worker, fn, arg) \
  uvgo_go_on_at((worker), (fn), (arg), __FILE__, __LINE__)
UVGO_EXTERN int uvgo_go_on_at(unsigned worker, uvgo_fn fn, void *arg,
                              const char *file, int line);

/* Go's runtime.Gosched: let every other ready task on this worker run.
 * @return 0, or UVGO_ENOTTASK. Task-only. */
UVGO_EXTERN int uvgo_yield(void);

/* Go's time.Sleep. ms == 0 yields. A cancellation point once contexts
 * exist. @return 0, UVGO_ENOTTASK, UV_ENOMEM. Task-only. */
UVGO_EXTERN int uvgo_sleep(uint64_t ms);

/* The calling task, or NULL outside a task. */
UVGO_EXTERN uvgo_task *uvgo_self(void);

/* Name the task (copied, at most 31 bytes kept); NULL task = the caller.
 * @return 0 or UV_EINVAL. Task-only for another task's name: the task
 * must be alive. */
UVGO_EXTERN int uvgo_task_set_name(uvgo_task *task, const char *name);
/* The task's name ("" when unnamed); NULL task = the caller. */
UVGO_EXTERN const char *uvgo_task_name(const uvgo_task *task);

/* Wrapping any libuv request: a task parks until something calls
 * uvgo_unpark on it, typically the request's callback. unpark before park
 * is not lost: park then returns at once (one pending permit, like a
 * binary semaphore).
 *
 *   static void on_stat(uv_fs_t *req) { uvgo_unpark(req->data); }
 *   req.data = uvgo_self();
 *   uv_fs_stat(uvgo_loop(), &req, path, on_stat);
 *   uvgo_park();                 // resumes after on_stat ran
 *
 * uvgo_park is not a cancellation point: the request owns its memory until
 * its callback, so the task must wait for it (DESIGN.md, In-flight
 * requests).
 * @return 0, or UVGO_ENOTTASK. Task-only. */
UVGO_EXTERN int uvgo_park(void);
/* @return 0, or UV_EINVAL for NULL. Any thread, any libuv callback; the
 * task must be alive (it is, until it has returned from uvgo_park). */
UVGO_EXTERN int uvgo_unpark(uvgo_task *task);

/* Task-local storage: a key names one slot in every task. At most
 * UVGO_MAX_KEYS keys per process. The destructor (may be NULL) runs when a
 * task ends with a non-NULL value in the slot. */
#define UVGO_MAX_KEYS 64
typedef struct uvgo_key {
  unsigned index; /* 1-based; 0 = not created */
} uvgo_key;
/* @return 0, UV_EINVAL, UV_ENOSPC (no keys left). Any thread. */
UVGO_EXTERN int uvgo_key_create(uvgo_key *key, void (*destructor)(void *));
/* @return 0, UV_EINVAL (bad key), UVGO_ENOTTASK, UV_ENOMEM (first set in a
 * task allocates its slot table). Task-only. */
UVGO_EXTERN int uvgo_key_set(uvgo_key key, void *value);
/* The caller's value, or NULL (unset, bad key, not a task). */
UVGO_EXTERN void *uvgo_key_get(uvgo_key key);

#ifdef __cplusplus
}
#endif
#endif
