/* storm_gen.c --- the event storm of bench/swap/storm.scm.

     storm_gen tp N          N close() calls on fds 1000000000 + (i mod M)
     storm_gen udp N ADDR    N UDP datagrams to ADDR, port 2000 + (i mod P)

   Prints "pid PID", waits for a line on its standard input, makes the
   events, then prints "done N" and exits.  Event i carries i mod M
   (M = 1048576) in the fd it closes, or i mod P (P = 60000) in the
   destination port it sends to, so that the program under test can
   count every event by its number, and lost or doubled events show.  */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TP_BASE 1000000000u
#define TP_MOD 1048576u
#define UDP_BASE 2000u
#define UDP_MOD 60000u

int
main (int argc, char **argv)
{
  if (argc < 3 || (strcmp (argv[1], "udp") == 0 && argc < 4))
    {
      fprintf (stderr, "usage: storm_gen tp N | storm_gen udp N ADDR\n");
      return 2;
    }
  unsigned long n = strtoul (argv[2], NULL, 10);
  int udp = strcmp (argv[1], "udp") == 0;
  int s = -1;
  struct sockaddr_in to = { .sin_family = AF_INET };
  if (udp)
    {
      s = socket (AF_INET, SOCK_DGRAM, 0);
      if (s < 0 || inet_pton (AF_INET, argv[3], &to.sin_addr) != 1)
        {
          perror ("storm_gen: socket");
          return 1;
        }
    }
  printf ("pid %d\n", (int) getpid ());
  fflush (stdout);
  char line[64];
  if (!fgets (line, sizeof line, stdin))
    return 1;
  char payload[16] = { 0 };
  for (unsigned long i = 0; i < n; i++)
    if (udp)
      {
        to.sin_port = htons (UDP_BASE + i % UDP_MOD);
        /* A full socket buffer drops before the wire: send again.  */
        while (sendto (s, payload, sizeof payload, 0, (struct sockaddr *) &to,
                       sizeof to) < 0)
          ;
      }
    else
      syscall (SYS_close, TP_BASE + (unsigned) (i % TP_MOD));
  printf ("done %lu\n", n);
  fflush (stdout);
  return 0;
}
