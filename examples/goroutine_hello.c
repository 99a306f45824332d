/* The article's first snippet:
 *
 *   func main() {
 *       go sayHello("world")
 *       time.Sleep(100 * time.Millisecond) // wait — we'll fix this shortly
 *   }
 *
 * In uvgo the sleep is not needed: uvgo_run returns once main and every
 * task it spawned have finished. */
#include <stdio.h>

#include <uvgo.h>

static void say_hello(void *arg) { printf("hello, %s\n", (const char *)arg); }

static void main_task(void *arg) {
  (void)arg;
  uvgo_go(say_hello, "world");
}

int main(void) {
  int err = uvgo_run(NULL, main_task, NULL);
  if (err != 0) {
    fprintf(stderr, "uvgo_run: %s\n", uvgo_strerror(err));
    return 1;
  }
  return 0;
}
