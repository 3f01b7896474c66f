/* caps.c --- the kernel model: this process's capabilities.

   Read from /proc/self/status on each call rather than cached: a
   process may drop capabilities after guile-ebpf is loaded, and the
   answers (feature probes, permission hints) must be about now.  */
#include <config.h>
#include <stdio.h>
#include "kernel.h"

uint64_t
gebpf_effective_caps (void)
{
  FILE *f = fopen ("/proc/self/status", "re");
  unsigned long long caps = 0;
  char line[256];
  if (!f)
    return 0;
  while (fgets (line, sizeof line, f))
    if (sscanf (line, "CapEff: %llx", &caps) == 1)
      break;
  fclose (f);
  return caps;
}

bool
gebpf_have_cap (int cap)
{
  return (gebpf_effective_caps () >> cap) & 1;
}
