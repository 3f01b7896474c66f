/* trigger.c --- calls getpid every 200 microseconds until killed.

   bpftrace cannot call getpid itself, so the start-up benchmark gives
   its one-liner this process to watch (/pid == TRIGGER/): the first
   getpid after the probe is attached ends the run.  */
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int
main (void)
{
  struct timespec pause = { 0, 200000 };

  for (;;)
    {
      syscall (SYS_getpid);
      nanosleep (&pause, NULL);
    }
}
