/* test_run.c --- BPF_PROG_TEST_RUN timing driver of the codegen benchmark.

   guile-ebpf turns the kernel's run-time statistics on when asked
   (bpf-enable-stats!) or when a program's statistics are first read,
   and keeps them on while the process lives.  The statistics switch is
   global (another process may hold it on), and while it is on
   every run of every BPF program also reads the clock twice, which can
   cost more than a small XDP program itself.  This driver therefore
   loads the compiled objects with plain libbpf in a process of its own,
   where the statistics stay off, and times them with BPF_PROG_TEST_RUN.

     test_run [-r REPEAT] [-n ROUNDS] [-c CPU] [-b ADDR]...
              [-p NAME=PACKET-FILE]... [-t NAME]... PROG=OBJECT...

   Each OBJECT's first program is loaded; maps of the same name are shared
   between the objects (the first object that has one creates it).  Each
   -b ADDR (dotted IPv4) is stored in the map `blocklist' with value 1.
   Every program is first run once on every -p packet; then, ROUNDS times,
   every program is run REPEAT times on every -t packet, in an order that
   alternates from round to round.  Lines on stdout:

     stats-off-start 1|0     whether the statistics were off at the start
     verdict PROG PACKET RETVAL
     time PROG PACKET NS STATS-ON CPU-NS
     stats-off-end 1|0       and at the end

   NS is the kernel's mean time per run, in whole nanoseconds (the kernel
   leaves out the time the test run spent rescheduled, which wall time
   around the call would count).  CPU-NS is this thread's CPU time during
   the BPF_PROG_TEST_RUN call divided by REPEAT: finer, and it also
   leaves out the time other tasks had the CPU, but it counts the call's
   own setup and the interrupts served meanwhile.  The statistics switch
   is global: when another process turns it on during a run, the run is
   made again half a second later, for at most a minute of waiting in
   all; STATS-ON is 1 if it was still on.  The process pins itself to CPU (default: the last one).
   Needs CAP_BPF and CAP_NET_ADMIN (or root).  */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define MAX_ITEMS 32

struct prog
{
  const char *name;
  struct bpf_object *obj;
  int fd;
};

struct packet
{
  const char *name;
  unsigned char *data;
  size_t len;
  int timed;
};

static struct prog progs[MAX_ITEMS];
static int nprogs;
static struct packet packets[MAX_ITEMS];
static int npackets;

static void
die (const char *fmt, const char *arg)
{
  fprintf (stderr, "test_run: ");
  fprintf (stderr, fmt, arg);
  fprintf (stderr, ": %s\n", strerror (errno));
  exit (1);
}

static char *
split_eq (char *arg)
{
  char *eq = strchr (arg, '=');
  if (!eq)
    {
      errno = EINVAL;
      die ("expected NAME=FILE, got %s", arg);
    }
  *eq = 0;
  return eq + 1;
}

static void
read_packet (struct packet *p, const char *file)
{
  FILE *f = fopen (file, "rb");
  if (!f)
    die ("cannot open %s", file);
  p->data = malloc (65536);
  p->len = fread (p->data, 1, 65536, f);
  fclose (f);
}

/* A map named NAME already created by an earlier object, or -1.  */
static int
shared_map_fd (const char *name, int upto)
{
  for (int i = 0; i < upto; i++)
    {
      struct bpf_map *m = bpf_object__find_map_by_name (progs[i].obj, name);
      if (m && bpf_map__fd (m) >= 0)
        return bpf_map__fd (m);
    }
  return -1;
}

static void
load_prog (int i, char *spec)
{
  char *file = split_eq (spec);
  struct prog *p = &progs[i];
  struct bpf_map *m;
  p->name = spec;
  p->obj = bpf_object__open_file (file, NULL);
  if (!p->obj)
    die ("cannot open %s", file);
  bpf_object__for_each_map (m, p->obj)
    {
      int fd = shared_map_fd (bpf_map__name (m), i);
      if (fd >= 0 && bpf_map__reuse_fd (m, fd))
        die ("cannot share map %s", bpf_map__name (m));
    }
  if (bpf_object__load (p->obj))
    die ("cannot load %s", file);
  p->fd = bpf_program__fd (bpf_object__next_program (p->obj, NULL));
}

/* Run P REPEAT times on K: its return value, the kernel's mean time per
   run, and this thread's CPU time per run during the call.  */
static int
run (struct prog *p, struct packet *k, unsigned repeat, unsigned *retval,
     unsigned *duration, double *cpu)
{
  LIBBPF_OPTS (bpf_test_run_opts, t, .data_in = k->data,
               .data_size_in = k->len, .repeat = repeat);
  struct timespec a, b;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &a);
  int r = bpf_prog_test_run_opts (p->fd, &t);
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &b);
  if (r)
    return r;
  *retval = t.retval;
  *duration = t.duration;
  *cpu = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / repeat;
  return 0;
}

/* Whether the kernel counted a run of P: the statistics are on.  */
static int
stats_on (struct prog *p, struct packet *k)
{
  struct bpf_prog_info a = { 0 }, b = { 0 };
  __u32 len = sizeof a;
  unsigned rv, d;
  double c;
  bpf_obj_get_info_by_fd (p->fd, &a, &len);
  run (p, k, 1, &rv, &d, &c);
  len = sizeof b;
  bpf_obj_get_info_by_fd (p->fd, &b, &len);
  return b.run_cnt != a.run_cnt;
}

/* Run P REPEAT times on K into *DURATION, again (RETRY_WAIT_US later)
   while the statistics were on during the run, as another process may
   have turned them on for a while; all the waits of a run of test_run
   together last at most RETRY_BUDGET_US, so that a process that keeps
   them on does not stall the benchmark.  Returns whether they were
   still on during the run kept.  */
#define RETRY_WAIT_US 500000
#define RETRY_BUDGET_US 60000000

static long retry_budget_us = RETRY_BUDGET_US;

static int
timed_run (struct prog *p, struct packet *k, unsigned repeat,
           unsigned *duration, double *cpu)
{
  for (;;)
    {
      struct bpf_prog_info a = { 0 }, b = { 0 };
      __u32 len = sizeof a;
      unsigned rv;
      bpf_obj_get_info_by_fd (p->fd, &a, &len);
      if (run (p, k, repeat, &rv, duration, cpu))
        die ("test run of %s failed", p->name);
      len = sizeof b;
      bpf_obj_get_info_by_fd (p->fd, &b, &len);
      if (b.run_cnt == a.run_cnt)
        return 0;
      if (retry_budget_us < RETRY_WAIT_US)
        return 1;
      retry_budget_us -= RETRY_WAIT_US;
      usleep (RETRY_WAIT_US);
    }
}

int
main (int argc, char **argv)
{
  unsigned repeat = 1000000, rounds = 21;
  long cpu = sysconf (_SC_NPROCESSORS_ONLN) - 1;
  char *blocked[MAX_ITEMS];
  int nblocked = 0, opt;

  while ((opt = getopt (argc, argv, "r:n:c:b:p:t:")) != -1)
    switch (opt)
      {
      case 'r': repeat = strtoul (optarg, NULL, 10); break;
      case 'n': rounds = strtoul (optarg, NULL, 10); break;
      case 'c': cpu = strtol (optarg, NULL, 10); break;
      case 'b':
        if (nblocked < MAX_ITEMS)
          blocked[nblocked++] = optarg;
        break;
      case 'p':
        if (npackets < MAX_ITEMS)
          {
            char *file = split_eq (optarg);
            packets[npackets].name = optarg;
            read_packet (&packets[npackets++], file);
          }
        break;
      case 't':
        for (int i = 0; i < npackets; i++)
          if (!strcmp (packets[i].name, optarg))
            packets[i].timed = 1;
        break;
      default:
        fprintf (stderr, "usage: test_run [-r REPEAT] [-n ROUNDS] [-c CPU] "
                 "[-b ADDR]... [-p NAME=FILE]... [-t NAME]... PROG=OBJ...\n");
        return 2;
      }
  if (optind >= argc || npackets == 0)
    {
      fprintf (stderr, "test_run: no programs or no packets\n");
      return 2;
    }
  if (cpu >= 0)
    {
      cpu_set_t set;
      CPU_ZERO (&set);
      CPU_SET (cpu, &set);
      sched_setaffinity (0, sizeof set, &set);
    }
  libbpf_set_strict_mode (LIBBPF_STRICT_ALL);

  for (int i = optind; i < argc && nprogs < MAX_ITEMS; i++, nprogs++)
    load_prog (nprogs, argv[i]);

  int bl = shared_map_fd ("blocklist", nprogs);
  for (int i = 0; i < nblocked; i++)
    {
      struct in_addr a;
      __u32 one = 1;
      if (inet_pton (AF_INET, blocked[i], &a) != 1)
        {
          errno = EINVAL;
          die ("bad address %s", blocked[i]);
        }
      if (bl < 0 || bpf_map_update_elem (bl, &a.s_addr, &one, BPF_ANY))
        die ("cannot store %s in blocklist", blocked[i]);
    }

  printf ("stats-off-start %d\n", !stats_on (&progs[0], &packets[0]));

  for (int i = 0; i < nprogs; i++)
    for (int k = 0; k < npackets; k++)
      {
        unsigned rv, d;
        double c;
        if (run (&progs[i], &packets[k], 1, &rv, &d, &c))
          die ("test run of %s failed", progs[i].name);
        printf ("verdict %s %s %u\n", progs[i].name, packets[k].name, rv);
      }
  fflush (stdout);

  for (unsigned r = 0; r < rounds; r++)
    for (int k = 0; k < npackets; k++)
      {
        if (!packets[k].timed)
          continue;
        for (int j = 0; j < nprogs; j++)
          {
            int i = (r % 2) ? nprogs - 1 - j : j;
            unsigned d;
            double c;
            int on = timed_run (&progs[i], &packets[k], repeat, &d, &c);
            printf ("time %s %s %u %d %.3f\n", progs[i].name,
                    packets[k].name, d, on, c);
          }
        fflush (stdout);
      }

  printf ("stats-off-end %d\n", !stats_on (&progs[0], &packets[0]));
  return 0;
}
