/* Must compile: the positive control, so the failures below are about
 * types and not about a broken include path. */
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)
UVGO_CHAN_DECLARE(long_chan, long)

int use(int_chan c, long_chan l);
int use(int_chan c, long_chan l) {
  int v = 0;
  long w = 0;
  int err = int_chan_send(int_chan_sender(c), 1);
  err |= int_chan_recv(int_chan_receiver(c), &v);
  err |= long_chan_send(long_chan_sender(l), 2L);
  err |= long_chan_recv(long_chan_receiver(l), &w);
  err |= int_chan_close(int_chan_sender(c));
  return err + v + (int)w;
}
