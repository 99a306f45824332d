/* A buffered channel: sends do not block until the buffer is full.
 *
 *   ch := make(chan int, 3)
 *   ch <- 1; ch <- 2; ch <- 3   // don't block
 *   ch <- 4                     // blocks: buffer is full
 *   fmt.Println(<-ch)  // 1
 *   fmt.Println(<-ch)  // 2
 */
#include <stdio.h>
#include <uvgo.h>

static void main_task(void *arg) {
  (void)arg;
  uvgo_chan *ch = uvgo_chan_new(sizeof(int), 3);
  for (int i = 1; i <= 3; i++)
    uvgo_chan_send(ch, &i);
  printf("len %zu cap %zu\n", uvgo_chan_len(ch), uvgo_chan_cap(ch));
  int four = 4;
  /* A plain send would block here: ask without blocking instead. */
  if (uvgo_chan_try_send(ch, &four) == UV_EAGAIN)
    printf("send 4 would block: buffer is full\n");
  int v;
  uvgo_chan_recv(ch, &v);
  printf("%d\n", v);
  uvgo_chan_recv(ch, &v);
  printf("%d\n", v);
  uvgo_chan_release(ch);
}

int main(void) { return uvgo_run(NULL, main_task, NULL) == 0 ? 0 : 1; }
