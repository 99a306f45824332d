/* Must not compile: a chan of long used where a chan of int is expected. */
#include <uvgo.h>

UVGO_CHAN_DECLARE(int_chan, int)
UVGO_CHAN_DECLARE(long_chan, long)

int use(long_chan l);
int use(long_chan l) { return int_chan_send(long_chan_sender(l), 1); }
