/* Must not compile: only senders close (the receive-only handle has no
 * close). */
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)

int use(int_chan c);
int use(int_chan c) { return int_chan_close(int_chan_receiver(c)); }
