/* sha256.c --- (being written).  */
#include <config.h>
#include "gebpf.h"
