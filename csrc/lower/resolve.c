/* resolve.c --- (being written).  */
#include <config.h>
#include "lower.h"
