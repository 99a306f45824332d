/* Task-local storage: process-wide keys, a lazily allocated slot table per
 * task. */
#include "core/scheduler.h"

typedef void (*key_destructor)(void *);

static _Atomic unsigned key_count;
static _Atomic(key_destructor) destructors[UVGO_MAX_KEYS];

int uvgo_key_create(uvgo_key *key, void (*destructor)(void *)) {
  if (key == NULL)
    return UV_EINVAL;
  unsigned n = atomic_load(&key_count);
  do {
    if (n >= UVGO_MAX_KEYS)
      return UV_ENOSPC;
  } while (!atomic_compare_exchange_weak(&key_count, &n, n + 1));
  atomic_store(&destructors[n], destructor);
  key->index = n + 1;
  return 0;
}

static bool key_valid(uvgo_key key) {
  return key.index >= 1 && key.index <= atomic_load(&key_count);
}

int uvgo_key_set(uvgo_key key, void *value) {
  if (!key_valid(key))
    return UVGO__MISUSE(UV_EINVAL, "task-local key not created");
  uvgo_task *t = uvgo__current_task();
  if (t == NULL)
    return UVGO__MISUSE(UVGO_ENOTTASK, "uvgo_key_set outside a task");
  if (t->locals == NULL) {
    if (value == NULL)
      return 0;
    t->locals = uvgo__calloc(UVGO_MAX_KEYS, sizeof(void *));
    if (t->locals == NULL)
      return UV_ENOMEM;
  }
  t->locals[key.index - 1] = value;
  return 0;
}

void *uvgo_key_get(uvgo_key key) {
  uvgo_task *t = uvgo__current_task();
  if (t == NULL || t->locals == NULL || !key_valid(key))
    return NULL;
  return t->locals[key.index - 1];
}

void uvgo__keys_run_destructors(void **locals) {
  /* A destructor may set other keys again; a few rounds settle it, as
   * with pthread keys. */
  for (int round = 0; round < 4; round++) {
    bool any = false;
    for (unsigned i = 0; i < UVGO_MAX_KEYS; i++) {
      void *v = locals[i];
      key_destructor d = atomic_load_explicit(&destructors[i],
                                              memory_order_relaxed);
      if (v == NULL)
        continue;
      locals[i] = NULL;
      if (d != NULL) {
        d(v);
        any = true;
      }
    }
    if (!any)
      return;
  }
}
