/* Directional channels: produce may only send, consume may only receive
 * (the compiler enforces it: see tests/compile-fail).
 *
 *   func produce(out chan<- int) { for i := 0; i < 5; i++ { out <- i }; close(out) }
 *   func consume(in <-chan int) { for n := range in { fmt.Println(n) } }
 */
#include <stdio.h>
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)

static void produce(int_chan_send_only out) {
  for (int i = 0; i < 5; i++)
    int_chan_send(out, i);
  int_chan_close(out); /* only the sender closes */
}

static void consume(int_chan_recv_only in) {
  int n;
  while (int_chan_recv(in, &n) == 0) /* for n := range in */
    printf("%d\n", n);
}

static void produce_task(void *arg) { produce(*(int_chan_send_only *)arg); }

static void main_task(void *arg) {
  (void)arg;
  int_chan ch = int_chan_new(0);
  int_chan_send_only out = int_chan_sender(ch);
  uvgo_go_copy(produce_task, &out, sizeof out); /* go produce(ch) */
  consume(int_chan_receiver(ch));
  int_chan_release(ch);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
