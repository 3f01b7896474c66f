/* ringbuf.c --- (being written).  */
#include <config.h>
#include "gebpf.h"

void
gebpf_init_ringbuf (void)
{
}
