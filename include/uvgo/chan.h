/* uvgo — channels: Go's `chan T`, typed and directional through a macro.
 *
 * A channel moves fixed-size elements (copied by value) between tasks and
 * threads. cap 0 is Go's unbuffered rendezvous: a send completes only once
 * a receiver has taken the value. Element size 0 is a signal channel
 * (Go's chan struct{}). Waiters are served first-in first-out.
 *
 * Ownership: uvgo_chan_new returns one reference; uvgo_chan_retain adds
 * one, uvgo_chan_release drops one and frees the channel with the last.
 * Every blocking call works from a task (the task parks, the worker runs
 * other tasks) and from a plain thread that is not a uvgo worker (the
 * thread blocks on a condition variable). Never block in a libuv callback:
 * use the try_ forms there. */
#ifndef UVGO_CHAN_H
#define UVGO_CHAN_H

#include <stdbool.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A channel (opaque): made by uvgo_chan_new, shared by reference. */
typedef struct uvgo_chan uvgo_chan;

/* Largest element and capacity accepted (absurd sizes are refused rather
 * than overflowing the buffer size). */
#define UVGO_CHAN_MAX_ELEM ((size_t)1 << 16)
#define UVGO_CHAN_MAX_CAP ((size_t)1 << 28)

/* Go's make(chan T, cap): uvgo_chan_new(sizeof(T), cap). elem_size 0 makes
 * a signal channel; cap 0 an unbuffered one. The buffer is allocated with
 * the channel (one allocation).
 * @return the channel with one reference, or NULL: out of memory, or
 * elem_size > UVGO_CHAN_MAX_ELEM, or cap > UVGO_CHAN_MAX_CAP.
 * Thread contract: any thread. */
UVGO_EXTERN uvgo_chan *uvgo_chan_new(size_t elem_size, size_t cap);

/* Take another reference (hand the channel to another owner).
 * @return 0; UV_EINVAL (NULL or a uvgo_after channel); UVGO_ERELEASED.
 * Any thread. */
UVGO_EXTERN int uvgo_chan_retain(uvgo_chan *ch);
/* Drop a reference; the last one frees the channel. Releasing the last
 * reference while tasks or threads are blocked on the channel is misuse:
 * nothing changes and UVGO_EWAITERS is returned. NULL is accepted (no-op).
 * @return 0; UVGO_EWAITERS; UVGO_ERELEASED (caught for a recently released
 * channel under UVGO_STRICT=1, which keeps freed channels in quarantine);
 * UV_EINVAL for a uvgo_after channel. Any thread.
 * A task that was just woken (by a close, say) may still be inside its
 * call on the channel: take a reference per task that uses the channel,
 * or wait for those tasks (a WaitGroup) before the last release — C has
 * no garbage collector to do it for you. */
UVGO_EXTERN int uvgo_chan_release(uvgo_chan *ch);

/* Go's `ch <- *elem`: copy elem_size bytes from elem into the channel,
 * blocking until a receiver has taken them (unbuffered) or there is room
 * in the buffer. elem may be NULL for a signal channel.
 * @return 0; UVGO_ECLOSED (the channel is closed: misuse, as Go panics; or
 * it was closed while the sender was blocked); UV_EINVAL (NULL channel,
 * NULL elem with a non-zero size, a uvgo_after channel); UVGO_ERELEASED;
 * UV_ENOMEM (a plain thread could not make its condition variable).
 * Thread contract: a task or a plain thread; not a libuv callback. */
UVGO_EXTERN int uvgo_chan_send(uvgo_chan *ch, const void *elem);

/* Go's `v, ok := <-ch`: block until a value is available and copy it into
 * elem (NULL discards it). On a closed channel the buffered values are
 * still delivered; once drained, recv zeroes elem and returns UVGO_ECLOSED
 * at once. A uvgo_after channel delivers its deadline as a uint64_t.
 * @return 0; UVGO_ECLOSED; UV_EINVAL (NULL channel); UVGO_ERELEASED;
 * UV_ENOMEM as send.
 * Thread contract: a task or a plain thread; not a libuv callback. */
UVGO_EXTERN int uvgo_chan_recv(uvgo_chan *ch, void *elem);

/* Non-blocking send/recv (Go's select with a default case).
 * @return as the blocking forms, plus UV_EAGAIN when the call would block.
 * Thread contract: any thread, including libuv callbacks. */
UVGO_EXTERN int uvgo_chan_try_send(uvgo_chan *ch, const void *elem);
UVGO_EXTERN int uvgo_chan_try_recv(uvgo_chan *ch, void *elem);

/* Go's close(ch): no more sends. Blocked receivers wake with UVGO_ECLOSED
 * (elem zeroed), blocked senders with UVGO_ECLOSED; values already
 * buffered are still received. O(number of waiters). Waiters may wake,
 * and run, while the call still wakes others: hold a reference to ch for
 * the call, as every user of a channel does (uvgo_chan_release).
 * @return 0; UVGO_ECLOSED (already closed: misuse); UV_EINVAL (NULL or a
 * uvgo_after channel); UVGO_ERELEASED. Any thread. */
UVGO_EXTERN int uvgo_chan_close(uvgo_chan *ch);

/* Go's len(ch) and cap(ch): values buffered now, and the capacity. 0 for
 * NULL. A uvgo_after channel has cap 1 and len 1 once its deadline passed.
 * Any thread (len is a snapshot). */
UVGO_EXTERN size_t uvgo_chan_len(uvgo_chan *ch);
UVGO_EXTERN size_t uvgo_chan_cap(uvgo_chan *ch);
/* The element size given to uvgo_chan_new (8 for a uvgo_after channel). */
UVGO_EXTERN size_t uvgo_chan_elem_size(uvgo_chan *ch);

/* Typed, directional channels: Go's `chan T`, `chan<- T` and `<-chan T`.
 *
 *   UVGO_CHAN_DECLARE(int_chan, int)
 *
 * declares three distinct struct types wrapping a uvgo_chan pointer —
 * int_chan, int_chan_send_only, int_chan_recv_only — and static inline
 * functions:
 *   int_chan int_chan_new(size_t cap)            (.ch NULL on ENOMEM)
 *   int_chan_send_only int_chan_sender(int_chan)
 *   int_chan_recv_only int_chan_receiver(int_chan)
 *   int int_chan_send(int_chan_send_only, int v)
 *   int int_chan_try_send(int_chan_send_only, int v)
 *   int int_chan_recv(int_chan_recv_only, int *v)
 *   int int_chan_try_recv(int_chan_recv_only, int *v)
 *   int int_chan_close(int_chan_send_only)       (only senders close)
 *   int int_chan_release(int_chan)
 * Because the handles are distinct struct types, passing a receive-only
 * handle to int_chan_send, or a long * to int_chan_recv, does not compile.
 * The raw channel is `.ch` (for select cases). Returns as the untyped
 * calls. */
#define UVGO_CHAN_DECLARE(name, T)                                            \
  typedef struct name { uvgo_chan *ch; } name;                                \
  typedef struct name##_send_only { uvgo_chan *ch; } name##_send_only;        \
  typedef struct name##_recv_only { uvgo_chan *ch; } name##_recv_only;        \
  static inline name name##_new(size_t cap) {                                 \
    name c = {uvgo_chan_new(sizeof(T), cap)};                                 \
    return c;                                                                 \
  }                                                                           \
  static inline name##_send_only name##_sender(name c) {                      \
    name##_send_only s = {c.ch};                                              \
    return s;                                                                 \
  }                                                                           \
  static inline name##_recv_only name##_receiver(name c) {                    \
    name##_recv_only r = {c.ch};                                              \
    return r;                                                                 \
  }                                                                           \
  static inline int name##_send(name##_send_only c, T v) {                    \
    return uvgo_chan_send(c.ch, &v);                                          \
  }                                                                           \
  static inline int name##_try_send(name##_send_only c, T v) {                \
    return uvgo_chan_try_send(c.ch, &v);                                      \
  }                                                                           \
  static inline int name##_recv(name##_recv_only c, T *v) {                   \
    return uvgo_chan_recv(c.ch, v);                                           \
  }                                                                           \
  static inline int name##_try_recv(name##_recv_only c, T *v) {               \
    return uvgo_chan_try_recv(c.ch, v);                                       \
  }                                                                           \
  static inline int name##_close(name##_send_only c) {                        \
    return uvgo_chan_close(c.ch);                                             \
  }                                                                           \
  static inline int name##_release(name c) { return uvgo_chan_release(c.ch); }

#ifdef __cplusplus
}
#endif
#endif
