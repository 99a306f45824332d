/* The article's loop-variable note:
 *
 *   for i := 0; i < 10; i++ { go func(n int) { fmt.Println(n) }(i) }
 *
 * uvgo_go_copy copies the argument into the task at the spawn, so each
 * task sees the value i had then — the classic bug cannot happen. Output
 * order is the scheduler's; the sum proves every value arrived once. */
#include <stdatomic.h>
#include <stdio.h>

#include <uvgo.h>

static _Atomic int sum;

static void print_n(void *arg) {
  int n = *(int *)arg;
  printf("%d\n", n);
  atomic_fetch_add(&sum, n);
}

static void main_task(void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++)
    uvgo_go_copy(print_n, &i, sizeof i);
}

int main(void) {
  int err = uvgo_run(NULL, main_task, NULL);
  if (err != 0) {
    fprintf(stderr, "uvgo_run: %s\n", uvgo_strerror(err));
    return 1;
  }
  printf("sum %d\n", atomic_load(&sum));
  return atomic_load(&sum) == 45 ? 0 : 1;
}
