/* lower.h --- (being written).  */
#ifndef GEBPF_LOWER_H
#define GEBPF_LOWER_H
#include "../gebpf.h"
#endif
