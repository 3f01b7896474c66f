/* fn.c --- (being written).  */
#include <config.h>
#include "lower.h"

void
gebpf_init_lower (void)
{
}
