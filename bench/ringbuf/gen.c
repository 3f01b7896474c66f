/* gen.c --- the event generator of the ring buffer benchmark.

   Prints its pid, waits for a line on standard input (the consumer has
   attached its program by then), calls getpid(2) N times as fast as it
   can, and prints "done SECONDS" (the time the calls took).  Each call
   makes the benchmark's program emit one 16-byte event.  */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 2000000;
  char line[64];
  printf ("%ld\n", (long) getpid ());
  fflush (stdout);
  if (!fgets (line, sizeof line, stdin))
    return 1;
  double t0 = now ();
  for (long i = 0; i < n; i++)
    syscall (SYS_getpid);
  printf ("done %.6f\n", now () - t0);
  fflush (stdout);
  return 0;
}
